import type pg from 'pg';
import type { AggregateQuery, AlarmFilter, AlarmRecord, Bucket, NewAlarm } from './analytics-types.js';
import { ALARM_INSERT_COLS, aggregateSql, alarmFromRow, alarmWhere, type AlarmSql } from './alarm-rows.js';
import { mergeParts, planRange, pruneCutoff, rawBuckets, rebuildSql, rollupSql, type PartialRow } from './rollups.js';
import { partitionRange } from './pg-schema.js';

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
  // 2: one-minute rollups for long trends (rollups.ts). A statement trigger marks the minutes each
  // INSERT touches, in the inserting transaction; a refresh rebuilds the marked minutes it can see.
  `CREATE TABLE rollup_1m (
     series_id BIGINT NOT NULL, minute BIGINT NOT NULL, n BIGINT NOT NULL, sm DOUBLE PRECISION, mn DOUBLE PRECISION, mx DOUBLE PRECISION,
     first DOUBLE PRECISION, last DOUBLE PRECISION, PRIMARY KEY (series_id, minute));
   CREATE TABLE rollup_dirty (id BIGSERIAL PRIMARY KEY, series_id BIGINT NOT NULL, minute BIGINT NOT NULL);
   CREATE FUNCTION rollup_mark() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
   BEGIN
     INSERT INTO rollup_dirty (series_id, minute) SELECT DISTINCT series_id, (ts / 60000) * 60000 FROM new_rows;
     RETURN NULL;
   END $$;
   CREATE TRIGGER readings_rollup_mark AFTER INSERT ON readings REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark();
   INSERT INTO rollup_dirty (series_id, minute) SELECT DISTINCT series_id, (ts / 60000) * 60000 FROM readings;`,
  // 3: retention: the pruned horizon (rollups.ts); rollup minutes before it are never rebuilt.
  `CREATE TABLE rollup_pruned (before_ms BIGINT NOT NULL);
   INSERT INTO rollup_pruned VALUES (0);`,
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

async function rawParts(pool: Queryable, seriesId: number, q: AggregateQuery): Promise<PartialRow[]> {
  const params: unknown[] = [];
  return (await pool.query<PartialRow>(aggregateSql(seriesId, q, dollar(params), '::bigint'), params)).rows;
}

/**
 * Rebuilds the minutes marked by committed inserts. Marks of transactions still open are not
 * visible, so they are neither deleted nor missed: the next refresh takes them. One refresher at a
 * time per schema (advisory lock).
 */
export async function pgRefreshRollups(pool: pg.Pool, schema: string): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`jinyun-rollup:${schema}`]);
    // Taken after the lock, the statement's snapshot includes every refresh before it (no older rebuild can overwrite a newer one).
    await c.query(`WITH d AS (DELETE FROM rollup_dirty RETURNING series_id, minute), todo AS (SELECT DISTINCT series_id, minute FROM d)
      ${rebuildSql('todo', 'pg')}`);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** Aggregates: from the rollups for whole minutes (after a refresh) and the raw readings for the rest. */
export async function pgAggregate(pool: pg.Pool, schema: string, seriesId: number, q: AggregateQuery): Promise<Bucket[]> {
  const plan = planRange(q);
  if (!plan) return rawBuckets(await rawParts(pool, seriesId, q));
  await pgRefreshRollups(pool, schema);
  const params: unknown[] = [];
  const [left, inner, right] = await Promise.all([
    plan.left ? rawParts(pool, seriesId, { ...q, ...plan.left }) : [],
    pool.query<PartialRow>(rollupSql(seriesId, { ...q, ...plan.inner }, dollar(params), '::bigint'), params).then((r) => r.rows),
    plan.right ? rawParts(pool, seriesId, { ...q, ...plan.right }) : [],
  ]);
  return mergeParts([left, inner, right]);
}

/** Readings deleted per statement in a partly pruned month partition. */
export const PG_PRUNE_CHUNK_ROWS = 10_000;

/** Runs fn in one transaction on a pooled client: COMMIT when it resolves, ROLLBACK when it throws. */
export async function inTx<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/**
 * Retention (see RetentionStore.pruneRaw): refreshes the rollups, raises the pruned horizon (under
 * the refresh lock, so no refresh runs across it), DROPs the month partitions that end at or before
 * the cutoff (their rows counted under a SHARE lock first), and DELETEs the rest of the cutoff's
 * month in chunks of PG_PRUNE_CHUNK_ROWS, each its own transaction. `dropped` lists the partitions
 * dropped (the caller forgets them, so a late reading recreates the month).
 */
export async function pgPruneRaw(pool: pg.Pool, schema: string, beforeMs: number): Promise<{ deleted: number; dropped: string[] }> {
  const cutoff = pruneCutoff(beforeMs);
  await pgRefreshRollups(pool, schema);
  await inTx(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`jinyun-rollup:${schema}`]);
    await c.query('UPDATE rollup_pruned SET before_ms = GREATEST(before_ms, $1)', [cutoff]);
  });
  const parts = (await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
     JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = $1 AND p.relname = 'readings' AND c.relkind = 'r' ORDER BY 1`, [schema])).rows
    .map((r) => ({ name: r.name, range: partitionRange(r.name) }))
    .filter((p): p is { name: string; range: { fromMs: number; toMs: number } } => p.range !== null && p.range.fromMs < cutoff);
  let deleted = 0;
  const dropped: string[] = [];
  for (const p of parts) {
    const table = `${schema}.${p.name}`;
    if (p.range.toMs <= cutoff) {
      deleted += await inTx(pool, async (c) => {
        await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`jinyun-partition:${schema}`]);
        await c.query(`LOCK TABLE ${table} IN SHARE MODE`);
        const n = (await c.query<{ n: number }>(`SELECT COUNT(*)::int8 AS n FROM ${table}`)).rows[0]?.n ?? 0;
        await c.query(`DROP TABLE ${table}`);
        return n;
      });
      dropped.push(p.name);
      continue;
    }
    for (;;) {
      const r = await pool.query(`DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} WHERE ts < $1 LIMIT ${PG_PRUNE_CHUNK_ROWS})`, [cutoff]);
      deleted += r.rowCount ?? 0;
      if ((r.rowCount ?? 0) < PG_PRUNE_CHUNK_ROWS) break;
    }
  }
  return { deleted, dropped };
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
