import type { AlarmFilter, AlarmRecord, AlarmSeverity, AlarmType, AggregateQuery } from './analytics-types.js';

/** An alarms row as both databases return it (int8 parsed as number in PostgreSQL). */
export interface AlarmSql {
  id: number; tenant: string; gateway: string; source: string; rule: string; type: string; severity: string; message: string;
  raised_ms: number; value: number | null; limit_value: number | null; cleared_ms: number | null; clear_value: number | null; ack_by: string | null; ack_ms: number | null;
}

export const ALARM_INSERT_COLS = 'tenant, gateway, source, rule, type, severity, message, raised_ms, value, limit_value';

export function alarmFromRow(r: AlarmSql): AlarmRecord {
  return {
    id: r.id, tenant: r.tenant, gateway: r.gateway, source: r.source, rule: r.rule, type: r.type as AlarmType, severity: r.severity as AlarmSeverity,
    message: r.message, raisedMs: r.raised_ms, value: r.value, limit: r.limit_value, clearedMs: r.cleared_ms, clearValue: r.clear_value, ackBy: r.ack_by, ackMs: r.ack_ms,
  };
}

/** WHERE clause and parameters of an alarm list; `p` renders the next placeholder (? or $n). */
export function alarmWhere(f: AlarmFilter, p: (v: number | string) => string): string {
  const where: string[] = [];
  if (f.tenant !== undefined) where.push(`tenant = ${p(f.tenant)}`);
  if (f.gateway !== undefined) where.push(`gateway = ${p(f.gateway)}`);
  if (f.active === true) where.push('cleared_ms IS NULL');
  if (f.active === false) where.push('cleared_ms IS NOT NULL');
  if (f.beforeId !== undefined) where.push(`id < ${p(f.beforeId)}`);
  return where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
}

/** Readings that enter an aggregate: a numeric value (double, bool, bigint as double) and not bad quality (top bits 10 or 11). */
export const AGG_FILTER = 'value IS NOT NULL AND kind IN (0, 1, 3) AND quality < 2147483648';

/**
 * The aggregate query, shared by both stores (placeholders via `p`): one pass GROUP BY bucket for
 * count/min/max/avg and the first/last source times, then two index lookups per bucket on
 * (series_id, ts) for the first and last values.
 */
export function aggregateSql(seriesId: number, q: AggregateQuery, p: (v: number) => string, bigint: string): string {
  const b = `${p(q.bucketMs)}${bigint}`;
  const s = p(seriesId);
  return `WITH b AS (
      SELECT (ts / ${b}) * ${b} AS bts, COUNT(*) AS n, SUM(value) AS sm, MIN(value) AS mn, MAX(value) AS mx, AVG(value) AS av, MIN(ts) AS t0, MAX(ts) AS t1
      FROM readings WHERE series_id = ${s} AND ts >= ${p(q.fromMs)} AND ts < ${p(q.toMs)} AND ${AGG_FILTER}
      GROUP BY 1)
    SELECT bts, n, sm, mn, mx, av,
      (SELECT value FROM readings r WHERE r.series_id = ${s} AND r.ts = b.t0 AND ${AGG_FILTER} ORDER BY r.id LIMIT 1) AS first,
      (SELECT value FROM readings r WHERE r.series_id = ${s} AND r.ts = b.t1 AND ${AGG_FILTER} ORDER BY r.id DESC LIMIT 1) AS last
    FROM b ORDER BY bts`;
}
