import type pg from 'pg';
import type { AggregateQuery, AlarmFilter, AlarmRecord, Bucket, NewAlarm } from './analytics-types.js';
import { ALARM_INSERT_COLS, aggregateSql, alarmFromRow, alarmWhere, type AlarmSql } from './alarm-rows.js';

/**
 * Analytics and alarm SQL of the PostgreSQL store. The alarm tables have their own versioned
 * migrations (alarm_schema_version), applied under the store's migration lock after its own.
 */
const ALARM_MIGRATIONS: string[] = [
  `CREATE TABLE alarms (
     id BIGSERIAL PRIMARY KEY, tenant TEXT NOT NULL, gateway TEXT NOT NULL, source TEXT NOT NULL, rule TEXT NOT NULL, type TEXT NOT NULL,
     severity TEXT NOT NULL, message TEXT NOT NULL, raised_ms BIGINT NOT NULL, value DOUBLE PRECISION, limit_value DOUBLE PRECISION,
     cleared_ms BIGINT, clear_value DOUBLE PRECISION, ack_by TEXT, ack_ms BIGINT);
   CREATE INDEX alarms_tenant ON alarms (tenant, id);
   CREATE INDEX alarms_open ON alarms (id) WHERE cleared_ms IS NULL;`,
];

type Queryable = Pick<pg.PoolClient, 'query'>;

/** Runs the alarm migrations; the caller holds the schema's migration lock and has set search_path. */
export async function pgMigrateAlarms(c: Queryable, schema: string): Promise<void> {
  await c.query('SELECT pg_advisory_lock(hashtext($1))', [`jinyun-migrate-alarms:${schema}`]);
  try {
    await c.query(`SET search_path TO ${schema}`);
    await c.query('CREATE TABLE IF NOT EXISTS alarm_schema_version (version INTEGER NOT NULL)');
    const row = (await c.query<{ version: number }>('SELECT version FROM alarm_schema_version')).rows[0];
    if (!row) await c.query('INSERT INTO alarm_schema_version VALUES (0)');
    let version = row?.version ?? 0;
    if (version > ALARM_MIGRATIONS.length) throw new Error(`schema ${schema} has alarm schema version ${version}, newer than this program knows (${ALARM_MIGRATIONS.length})`);
    while (version < ALARM_MIGRATIONS.length) {
      await c.query('BEGIN');
      try {
        await c.query(ALARM_MIGRATIONS[version]!);
        await c.query('UPDATE alarm_schema_version SET version = $1', [version + 1]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK');
        throw err;
      }
      version++;
    }
  } finally {
    await c.query('SELECT pg_advisory_unlock(hashtext($1))', [`jinyun-migrate-alarms:${schema}`]);
  }
}

const dollar = (params: unknown[]) => (v: unknown): string => {
  params.push(v);
  return `$${params.length}`;
};

export async function pgAggregate(pool: Queryable, seriesId: number, q: AggregateQuery): Promise<Bucket[]> {
  const params: unknown[] = [];
  const sql = aggregateSql(seriesId, q, dollar(params), '::bigint');
  const rows = (await pool.query<{ bts: number; n: number; mn: number; mx: number; av: number; first: number; last: number }>(sql, params)).rows;
  return rows.map((r) => ({ ts: r.bts, count: r.n, min: r.mn, max: r.mx, avg: r.av, first: r.first, last: r.last }));
}

export async function pgInsertAlarm(pool: Queryable, a: NewAlarm): Promise<AlarmRecord> {
  const r = await pool.query<{ id: number }>(`INSERT INTO alarms (${ALARM_INSERT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
    [a.tenant, a.gateway, a.source, a.rule, a.type, a.severity, a.message, a.raisedMs, a.value, a.limit]);
  return { ...a, id: r.rows[0]!.id, clearedMs: null, clearValue: null, ackBy: null, ackMs: null };
}

export async function pgClearAlarm(pool: Queryable, id: number, atMs: number, value: number | null): Promise<void> {
  await pool.query('UPDATE alarms SET cleared_ms = $1, clear_value = $2 WHERE id = $3 AND cleared_ms IS NULL', [atMs, value, id]);
}

export async function pgAckAlarm(pool: Queryable, id: number, by: string, atMs: number, tenant?: string): Promise<AlarmRecord | null> {
  const t = tenant !== undefined ? ' AND tenant = $4' : '';
  const p = tenant !== undefined ? [tenant] : [];
  await pool.query(`UPDATE alarms SET ack_by = $1, ack_ms = $2 WHERE id = $3 AND ack_ms IS NULL${t}`, [by, atMs, id, ...p]);
  const row = (await pool.query<AlarmSql>(`SELECT * FROM alarms WHERE id = $1${tenant !== undefined ? ' AND tenant = $2' : ''}`, [id, ...p])).rows[0];
  return row ? alarmFromRow(row) : null;
}

export async function pgAlarms(pool: Queryable, f: AlarmFilter): Promise<AlarmRecord[]> {
  const params: unknown[] = [];
  const p = dollar(params);
  const where = alarmWhere(f, p);
  const rows = (await pool.query<AlarmSql>(`SELECT * FROM alarms ${where} ORDER BY id DESC LIMIT ${p(f.limit)}`, params)).rows;
  return rows.map(alarmFromRow);
}
