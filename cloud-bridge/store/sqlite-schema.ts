import type { Sqlite } from '../../core/sqlite.js';

/**
 * Versioned migrations of the cloud store; each runs once, in order, in its own transaction, and
 * schema_version records how far a file has come.
 *
 * Notes:
 * - A series is identified by (gateway, key). Tag ids are local to an edge spool (producer), so
 *   tag_map maps (gateway, producer_id, tag_id) to a series: a gateway whose spool was wiped may
 *   number its tags differently without mixing up old and new readings.
 * - readings.kind says how to read value/value_text: 0 double, 1 bool (value 0/1), 2 string
 *   (value_text), 3 bigint (value_text exact decimal, value the nearest double), 4 no value (Bad
 *   quality), 5 NaN (SQLite stores a bound NaN as NULL, so NaN gets its own kind). ±Infinity are
 *   stored as REAL. Quality is always its own column.
 * - Dedupe lives in batches: its primary key is the batch key, and overlapping ranges are found by
 *   seq_first within [first - maxReadings, last] of the same producer and epoch.
 */
const READING_COLS = 'id, series_id, ts, kind, value, value_text, quality, epoch, seq, historical';

const MIGRATIONS: string[] = [
  `CREATE TABLE gateways (
     id TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     online INTEGER NOT NULL DEFAULT 0,
     last_seen_ms INTEGER,
     epoch INTEGER,
     producer_id TEXT,
     readings_stored INTEGER NOT NULL DEFAULT 0,
     health_json TEXT,
     health_ms INTEGER
   );
   CREATE TABLE devices (
     gateway TEXT NOT NULL,
     name TEXT NOT NULL,
     driver TEXT NOT NULL,
     endpoint TEXT NOT NULL,
     PRIMARY KEY (gateway, name)
   ) WITHOUT ROWID;
   CREATE TABLE series (
     id INTEGER PRIMARY KEY,
     gateway TEXT NOT NULL,
     key TEXT NOT NULL,
     tag_id INTEGER NOT NULL,
     device TEXT NOT NULL,
     unit TEXT NOT NULL,
     data_type TEXT NOT NULL,
     description TEXT NOT NULL,
     UNIQUE (gateway, key)
   );
   CREATE TABLE tag_map (
     gateway TEXT NOT NULL,
     producer_id TEXT NOT NULL,
     tag_id INTEGER NOT NULL,
     series_id INTEGER NOT NULL,
     PRIMARY KEY (gateway, producer_id, tag_id)
   ) WITHOUT ROWID;
   CREATE TABLE batches (
     gateway TEXT NOT NULL,
     producer_id TEXT NOT NULL,
     epoch INTEGER NOT NULL,
     seq_first INTEGER NOT NULL,
     seq_last INTEGER NOT NULL,
     count INTEGER NOT NULL,
     body_hash INTEGER NOT NULL,
     stored INTEGER NOT NULL,
     historical INTEGER NOT NULL,
     received_ms INTEGER NOT NULL,
     PRIMARY KEY (gateway, producer_id, epoch, seq_first)
   ) WITHOUT ROWID;
   CREATE TABLE readings (
     id INTEGER PRIMARY KEY,
     series_id INTEGER NOT NULL,
     ts INTEGER NOT NULL,
     kind INTEGER NOT NULL,
     value REAL,
     value_text TEXT,
     quality INTEGER NOT NULL,
     epoch INTEGER NOT NULL,
     seq INTEGER NOT NULL,
     historical INTEGER NOT NULL
   );
   CREATE INDEX readings_series_ts ON readings (series_id, ts);
   CREATE TABLE latest (
     series_id INTEGER PRIMARY KEY,
     ts INTEGER NOT NULL,
     kind INTEGER NOT NULL,
     value REAL,
     value_text TEXT,
     quality INTEGER NOT NULL
   );
   CREATE TABLE quarantine (
     id INTEGER PRIMARY KEY,
     gateway TEXT NOT NULL,
     kind TEXT NOT NULL,
     received_ms INTEGER NOT NULL,
     reason_code TEXT NOT NULL,
     reason TEXT NOT NULL,
     producer_id TEXT,
     epoch INTEGER,
     seq_first INTEGER,
     count INTEGER,
     bytes BLOB NOT NULL
   );
   CREATE INDEX quarantine_gateway ON quarantine (gateway, id);`,
  // 2: the registry (tenants, gateway credentials, revocation, API tokens) and the producer seq index
  // that finds a seq reused under another epoch (epoch regression).
  `CREATE TABLE tenants (id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL);
   INSERT OR IGNORE INTO tenants (id, created_ms) SELECT DISTINCT tenant, 0 FROM gateways;
   ALTER TABLE gateways ADD COLUMN password_hash TEXT;
   ALTER TABLE gateways ADD COLUMN revoked_ms INTEGER;
   CREATE TABLE api_tokens (
     id TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     token_hash TEXT NOT NULL,
     created_ms INTEGER NOT NULL,
     revoked_ms INTEGER
   );
   CREATE TABLE registry_revision (revision INTEGER NOT NULL);
   INSERT INTO registry_revision (revision) VALUES (1);
   CREATE INDEX batches_producer_seq ON batches (gateway, producer_id, seq_first);`,
  // 3: API tokens have a scope: 'tenant' (a tenant's data) or 'platform' (cloud-wide operator figures, no tenant data).
  `ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'tenant';`,
  // 4: quarantine bounded by bytes per gateway and in total (quarantine-bounds.ts): each entry's size, running totals per gateway (and entries evicted).
  `ALTER TABLE quarantine ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
   UPDATE quarantine SET size = length(bytes);
   CREATE TABLE quarantine_usage (gateway TEXT PRIMARY KEY, rows INTEGER NOT NULL, bytes INTEGER NOT NULL, evicted INTEGER NOT NULL DEFAULT 0);
   INSERT INTO quarantine_usage (gateway, rows, bytes) SELECT gateway, COUNT(*), SUM(size) FROM quarantine GROUP BY gateway;`,
  // 5: the health probe's row (a durable one-row write every few seconds; health.ts).
  `CREATE TABLE health_probe (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL);`,
  // 6: latest follows the producer's order (epoch, seq), not the source clock, and keeps the receive time (a wrong edge clock cannot freeze it);
  //    each gateway's clock skew (its send time minus the cloud's receive time) as of its last batch.
  `ALTER TABLE latest ADD COLUMN producer_id TEXT NOT NULL DEFAULT '';
   ALTER TABLE latest ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE latest ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE latest ADD COLUMN received_ms INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE gateways ADD COLUMN clock_skew_ms INTEGER;`,
  // 7: two tiers of reading rows (hot-tier.ts). The ingest appends to a small hot table; its rows move in
  //    (series, time) order into the large cold table in few, large transactions. \`readings\` becomes the
  //    view of both, so every SQL reader (the API's queries, people's own SQL and Grafana) reads as before;
  //    an INSERT into the view lands in the hot tier. Ids come from one counter (AUTOINCREMENT on the hot
  //    table, started above every cold id) and keep their value when a row moves.
  `ALTER TABLE readings RENAME TO readings_cold;
   CREATE TABLE readings_hot (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     series_id INTEGER NOT NULL,
     ts INTEGER NOT NULL,
     kind INTEGER NOT NULL,
     value REAL,
     value_text TEXT,
     quality INTEGER NOT NULL,
     epoch INTEGER NOT NULL,
     seq INTEGER NOT NULL,
     historical INTEGER NOT NULL
   );
   CREATE INDEX readings_hot_series_ts ON readings_hot (series_id, ts);
   INSERT INTO sqlite_sequence (name, seq) SELECT 'readings_hot', COALESCE(MAX(id), 0) FROM readings_cold;
   CREATE VIEW readings AS
     SELECT ${READING_COLS} FROM readings_cold UNION ALL SELECT ${READING_COLS} FROM readings_hot;
   CREATE TRIGGER readings_insert INSTEAD OF INSERT ON readings BEGIN
     INSERT INTO readings_hot (${READING_COLS}) VALUES (NEW.id, NEW.series_id, NEW.ts, NEW.kind, NEW.value, NEW.value_text, NEW.quality, NEW.epoch, NEW.seq, NEW.historical);
   END;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** PRAGMAs of the writer connection: WAL, FULL sync so a COMMIT survives power loss before the ACK goes out, and the ingest's cache and checkpoint sizes. */
export async function applyPragmas(db: Sqlite): Promise<void> {
  await db.exec('PRAGMA busy_timeout = 5000');
  const row = await db.get<{ journal_mode: string }>('PRAGMA journal_mode = WAL');
  if (row?.journal_mode.toLowerCase() !== 'wal') throw new Error(`cannot switch ${db.file} to WAL (journal_mode=${row?.journal_mode ?? '?'})`);
  await db.exec('PRAGMA synchronous = FULL');
  await db.exec('PRAGMA foreign_keys = OFF');
  // Ingest throughput: 64 MiB of page cache for the writer (the readings index is written all over),
  // and checkpoints every 64 MiB of WAL instead of SQLite's 4 MiB (fewer, larger copy-backs into the
  // database file; the WAL is truncated back to 64 MiB after one). Measured with `npm run bench -- --only
  // ingest`: ingest.sqlite_readings_per_s 157,000-171,000 -> 191,000-198,000 on the same machine.
  await db.exec('PRAGMA cache_size = -65536');
  await db.exec('PRAGMA wal_autocheckpoint = 16384');
  await db.exec('PRAGMA journal_size_limit = 67108864');
}

/** Brings the file to SCHEMA_VERSION (or `upTo`, for tests that build an older file); refuses a file newer than this program. */
export async function migrate(db: Sqlite, upTo: number = MIGRATIONS.length): Promise<void> {
  await db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = await db.get<{ version: number }>('SELECT version FROM schema_version');
  let version = row?.version ?? 0;
  if (!row) await db.run('INSERT INTO schema_version (version) VALUES (0)');
  if (version > MIGRATIONS.length) throw new Error(`${db.file} has schema version ${version}, newer than this program knows (${MIGRATIONS.length})`);
  while (version < upTo) {
    const sql = MIGRATIONS[version]!;
    const target = version + 1;
    await db.transaction(async () => {
      await db.exec(sql);
      await db.run('UPDATE schema_version SET version = ?', [target]);
    });
    version = target;
  }
}
