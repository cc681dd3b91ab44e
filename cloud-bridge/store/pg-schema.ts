import type { PoolClient } from 'pg';

/**
 * Versioned migrations of the PostgreSQL cloud store, applied in order under an advisory lock (two
 * workers starting together do not race), each in its own transaction; schema_version records how
 * far the schema has come. Same model as the SQLite store (see sqlite-schema.ts), plus:
 * - readings is RANGE-partitioned by month on ts (ms since epoch); partitions are created on demand
 *   by the writer. A (series_id, ts) btree serves series queries and a BRIN on ts serves
 *   time-range scans, so a year of data stays fast and old months can be detached or dropped.
 */
const MIGRATIONS: string[] = [
  `CREATE TABLE tenants (id TEXT PRIMARY KEY, created_ms BIGINT NOT NULL);
   CREATE TABLE gateways (
     id TEXT PRIMARY KEY, tenant TEXT NOT NULL, online BOOLEAN NOT NULL DEFAULT false, last_seen_ms BIGINT, epoch BIGINT, producer_id TEXT,
     readings_stored BIGINT NOT NULL DEFAULT 0, health_json TEXT, health_ms BIGINT, password_hash TEXT, revoked_ms BIGINT);
   CREATE TABLE api_tokens (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, token_hash TEXT NOT NULL, created_ms BIGINT NOT NULL, revoked_ms BIGINT);
   CREATE TABLE registry_revision (revision BIGINT NOT NULL);
   INSERT INTO registry_revision VALUES (1);
   CREATE TABLE devices (gateway TEXT NOT NULL, name TEXT NOT NULL, driver TEXT NOT NULL, endpoint TEXT NOT NULL, PRIMARY KEY (gateway, name));
   CREATE TABLE series (
     id BIGSERIAL PRIMARY KEY, gateway TEXT NOT NULL, key TEXT NOT NULL, tag_id BIGINT NOT NULL, device TEXT NOT NULL, unit TEXT NOT NULL,
     data_type TEXT NOT NULL, description TEXT NOT NULL, UNIQUE (gateway, key));
   CREATE TABLE tag_map (gateway TEXT NOT NULL, producer_id TEXT NOT NULL, tag_id BIGINT NOT NULL, series_id BIGINT NOT NULL, PRIMARY KEY (gateway, producer_id, tag_id));
   CREATE TABLE batches (
     gateway TEXT NOT NULL, producer_id TEXT NOT NULL, epoch BIGINT NOT NULL, seq_first BIGINT NOT NULL, seq_last BIGINT NOT NULL, count INTEGER NOT NULL,
     body_hash BIGINT NOT NULL, stored INTEGER NOT NULL, historical BOOLEAN NOT NULL, received_ms BIGINT NOT NULL,
     PRIMARY KEY (gateway, producer_id, epoch, seq_first));
   CREATE INDEX batches_producer_seq ON batches (gateway, producer_id, seq_first);
   CREATE SEQUENCE readings_id_seq;
   CREATE TABLE readings (
     id BIGINT NOT NULL DEFAULT nextval('readings_id_seq'), series_id BIGINT NOT NULL, ts BIGINT NOT NULL, kind SMALLINT NOT NULL,
     value DOUBLE PRECISION, value_text TEXT, quality BIGINT NOT NULL, epoch BIGINT NOT NULL, seq BIGINT NOT NULL, historical BOOLEAN NOT NULL
   ) PARTITION BY RANGE (ts);
   CREATE INDEX readings_series_ts ON readings (series_id, ts, id);
   CREATE INDEX readings_ts_brin ON readings USING brin (ts);
   CREATE TABLE latest (series_id BIGINT PRIMARY KEY, ts BIGINT NOT NULL, kind SMALLINT NOT NULL, value DOUBLE PRECISION, value_text TEXT, quality BIGINT NOT NULL);
   CREATE TABLE quarantine (
     id BIGSERIAL PRIMARY KEY, gateway TEXT NOT NULL, kind TEXT NOT NULL, received_ms BIGINT NOT NULL, reason_code TEXT NOT NULL, reason TEXT NOT NULL,
     producer_id TEXT, epoch BIGINT, seq_first BIGINT, count INTEGER, bytes BYTEA NOT NULL);
   CREATE INDEX quarantine_gateway ON quarantine (gateway, id);`,
  // 2: API tokens have a scope: 'tenant' (a tenant's data) or 'platform' (cloud-wide operator figures, no tenant data).
  `ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'tenant';`,
  // 3: quarantine bounded by bytes per gateway and in total (quarantine-bounds.ts): each entry's size, running totals per gateway (and entries evicted).
  `ALTER TABLE quarantine ADD COLUMN size BIGINT NOT NULL DEFAULT 0;
   UPDATE quarantine SET size = octet_length(bytes);
   CREATE TABLE quarantine_usage (gateway TEXT PRIMARY KEY, rows BIGINT NOT NULL, bytes BIGINT NOT NULL, evicted BIGINT NOT NULL DEFAULT 0);
   INSERT INTO quarantine_usage (gateway, rows, bytes) SELECT gateway, COUNT(*), SUM(size) FROM quarantine GROUP BY gateway;`,
  // 4: the health probe's row (a durable one-row write every few seconds; health.ts).
  `CREATE TABLE health_probe (id INTEGER PRIMARY KEY, at_ms BIGINT NOT NULL);`,
  // 5: latest follows the producer's order (epoch, seq), not the source clock, and keeps the receive time (a wrong edge clock cannot freeze it);
  //    each gateway's clock skew (its send time minus the cloud's receive time) as of its last batch.
  `ALTER TABLE latest ADD COLUMN producer_id TEXT NOT NULL DEFAULT '', ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0,
     ADD COLUMN seq BIGINT NOT NULL DEFAULT 0, ADD COLUMN received_ms BIGINT NOT NULL DEFAULT 0;
   ALTER TABLE gateways ADD COLUMN clock_skew_ms BIGINT;`,
];

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the schema to PG_SCHEMA_VERSION (or `upTo`, for tests that build an older one); refuses a schema newer than this program. */
export async function pgMigrate(c: PoolClient, schema: string, upTo: number = MIGRATIONS.length): Promise<void> {
  await c.query('SELECT pg_advisory_lock(hashtext($1))', [`jinyun-migrate:${schema}`]);
  try {
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await c.query(`SET search_path TO ${schema}`);
    await c.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const row = (await c.query<{ version: number }>('SELECT version FROM schema_version')).rows[0];
    if (!row) await c.query('INSERT INTO schema_version VALUES (0)');
    let version = row?.version ?? 0;
    if (version > MIGRATIONS.length) throw new Error(`schema ${schema} has version ${version}, newer than this program knows (${MIGRATIONS.length})`);
    while (version < upTo) {
      await c.query('BEGIN');
      try {
        await c.query(MIGRATIONS[version]!);
        await c.query('UPDATE schema_version SET version = $1', [version + 1]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK');
        throw err;
      }
      version++;
    }
  } finally {
    await c.query('SELECT pg_advisory_unlock(hashtext($1))', [`jinyun-migrate:${schema}`]);
  }
}

const DAY_MS = 86_400_000;

/** The [from, to) range of a month partition named by monthPartition, or null for another name. */
export function partitionRange(name: string): { fromMs: number; toMs: number } | null {
  const m = /^readings_y(\d{4})m(\d{2})$/.exec(name);
  if (!m) return null;
  const y = Number(m[1]);
  const mo = Number(m[2]) - 1;
  return { fromMs: Date.UTC(y, mo, 1), toMs: Date.UTC(y, mo + 1, 1) };
}

/** The month partition [from, to) holding ts, and its table name. */
export function monthPartition(ts: number): { name: string; fromMs: number; toMs: number } {
  const d = new Date(Math.floor(ts / DAY_MS) * DAY_MS);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const name = `readings_y${y}m${String(m + 1).padStart(2, '0')}`;
  return { name, fromMs: Date.UTC(y, m, 1), toMs: Date.UTC(y, m + 1, 1) };
}
