import type { AggregateQuery, Bucket } from './analytics-types.js';
import { AGG_FILTER } from './alarm-rows.js';

/**
 * One-minute rollups (count, sum, min, max, first, last per series and minute) kept beside the
 * readings, so a trend over months reads ~43 000 rollup rows per 30 days instead of 2.6 M readings.
 * Aggregates whose bucket is a whole number of minutes use them for the whole minutes of the range
 * and the raw readings for the partial minutes at either end; the partial results are combined
 * (count and sum add up, min/max of min/max, first of the earliest part, last of the latest).
 * Rollups are exact: each store rebuilds the minutes touched by new readings before answering
 * (SQLite: readings above an id watermark; PostgreSQL: minutes marked by a statement trigger).
 *
 * Retention (pruneRaw) deletes raw readings before a whole-minute cutoff after bringing the rollups
 * up to date, and records the cutoff (the pruned horizon). A minute before the horizon that has a
 * rollup row is frozen: a refresh never rebuilds it from the readings (they are gone), so its
 * values stay those of the full raw data. A reading arriving later with a source time in a frozen
 * minute is not folded into it (it is older than the retention and goes with the next prune).
 */
export const ROLLUP_MS = 60_000;

/** A bucket's aggregates over one part of the range, from SQL. */
export interface PartialRow { bts: number; n: number; sm: number | null; mn: number; mx: number; av?: number; first: number; last: number }

export interface RangePlan {
  left?: { fromMs: number; toMs: number };
  inner: { fromMs: number; toMs: number };
  right?: { fromMs: number; toMs: number };
}

/** Where rollups can serve the query; null when only raw readings can (bucket not whole minutes, or no whole minute in the range). */
export function planRange(q: AggregateQuery): RangePlan | null {
  if (q.bucketMs % ROLLUP_MS !== 0) return null;
  const innerFrom = Math.ceil(q.fromMs / ROLLUP_MS) * ROLLUP_MS;
  const innerTo = Math.floor(q.toMs / ROLLUP_MS) * ROLLUP_MS;
  if (innerFrom >= innerTo) return null;
  return {
    left: q.fromMs < innerFrom ? { fromMs: q.fromMs, toMs: innerFrom } : undefined,
    inner: { fromMs: innerFrom, toMs: innerTo },
    right: innerTo < q.toMs ? { fromMs: innerTo, toMs: q.toMs } : undefined,
  };
}

/** Aggregates over the rollups of one series (placeholders via p; PostgreSQL passes '::bigint'). */
export function rollupSql(seriesId: number, q: AggregateQuery, p: (v: number) => string, bigint: string): string {
  const b = `${p(q.bucketMs)}${bigint}`;
  const s = p(seriesId);
  return `WITH b AS (
      SELECT (minute / ${b}) * ${b} AS bts, CAST(SUM(n) AS BIGINT) AS n, CASE WHEN COUNT(sm) < COUNT(*) THEN NULL ELSE SUM(sm) END AS sm,
             MIN(mn) AS mn, MAX(mx) AS mx, MIN(minute) AS m0, MAX(minute) AS m1
      FROM rollup_1m WHERE series_id = ${s} AND minute >= ${p(q.fromMs)} AND minute < ${p(q.toMs)}
      GROUP BY 1)
    SELECT bts, n, sm, mn, mx,
      (SELECT first FROM rollup_1m r WHERE r.series_id = ${s} AND r.minute = b.m0) AS first,
      (SELECT last FROM rollup_1m r WHERE r.series_id = ${s} AND r.minute = b.m1) AS last
    FROM b ORDER BY bts`;
}

/**
 * Rebuilds the rollup rows of the (series_id, minute) pairs listed in `todo` from the readings: one
 * index range scan on (series_id, ts) per minute. SQLite keeps `todo` as the outer loop of a CROSS
 * JOIN; PostgreSQL gets a LATERAL subquery (a plain join can be planned as a hash join on series_id
 * alone, which compares every minute with every reading).
 */
export function rebuildSql(todo: string, dialect: 'sqlite' | 'pg'): string {
  const f = (a: string) => `${a}.series_id = t.series_id AND ${a}.ts >= t.minute AND ${a}.ts < t.minute + ${ROLLUP_MS} AND ${AGG_FILTER.replace(/(value|kind|quality)/g, `${a}.$1`)}`;
  const firstLast = `(SELECT f.value FROM readings f WHERE ${f('f')} ORDER BY f.ts, f.id LIMIT 1),
      (SELECT l.value FROM readings l WHERE ${f('l')} ORDER BY l.ts DESC, l.id DESC LIMIT 1)`;
  const insert = 'INSERT INTO rollup_1m (series_id, minute, n, sm, mn, mx, first, last)';
  if (dialect === 'sqlite') {
    return `${insert}
    SELECT t.series_id, t.minute, COUNT(*), SUM(r.value), MIN(r.value), MAX(r.value), ${firstLast}
    FROM ${todo} t CROSS JOIN readings r WHERE ${f('r')}
    GROUP BY t.series_id, t.minute`;
  }
  // PostgreSQL: `todo` is a CTE (the marks just taken); rows are upserted. Readings are only deleted
  // by retention, whole minutes before the pruned horizon, and such a minute's row is never updated (frozen).
  return `${insert}
    SELECT t.series_id, t.minute, a.n, a.sm, a.mn, a.mx, ${firstLast}
    FROM ${todo} t CROSS JOIN LATERAL (SELECT COUNT(*) AS n, SUM(r.value) AS sm, MIN(r.value) AS mn, MAX(r.value) AS mx FROM readings r WHERE ${f('r')}) a
    WHERE a.n > 0
    ON CONFLICT (series_id, minute) DO UPDATE SET n = excluded.n, sm = excluded.sm, mn = excluded.mn, mx = excluded.mx, first = excluded.first, last = excluded.last
    WHERE rollup_1m.minute >= (SELECT before_ms FROM rollup_pruned)`;
}

const toBucket = (r: PartialRow): Bucket => ({
  ts: r.bts, count: r.n, min: r.mn, max: r.mx, avg: r.av ?? (r.sm === null ? Number.NaN : r.sm / r.n), first: r.first, last: r.last,
});

/** Combines the parts of a range (in time order: left edge, whole minutes, right edge) into buckets. */
export function mergeParts(parts: PartialRow[][]): Bucket[] {
  const by = new Map<number, PartialRow>();
  for (const part of parts) {
    for (const r of part) {
      const o = by.get(r.bts);
      if (!o) {
        by.set(r.bts, { ...r, av: undefined });
        continue;
      }
      by.set(r.bts, { bts: r.bts, n: o.n + r.n, sm: o.sm === null || r.sm === null ? null : o.sm + r.sm, mn: Math.min(o.mn, r.mn), mx: Math.max(o.mx, r.mx), first: o.first, last: r.last });
    }
  }
  return [...by.values()].sort((a, b) => a.bts - b.bts).map(toBucket);
}

/** The whole-minute cutoff pruneRaw(beforeMs) deletes below (no minute is ever half pruned). */
export const pruneCutoff = (beforeMs: number): number => Math.floor(beforeMs / ROLLUP_MS) * ROLLUP_MS;

/** Raw-path rows as buckets (avg from SQL AVG). */
export const rawBuckets = (rows: PartialRow[]): Bucket[] => rows.map(toBucket);
