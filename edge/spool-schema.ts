import type { Sqlite } from '../core/sqlite.js';

/** Versioned migrations of the spool file; each runs once, in order, inside a transaction. */
const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE tags (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE);
   -- One row per reading. kind: 0 double, 1 bool, 2 string, 3 bigint (decimal text), 4 null, 5 NaN
   -- (SQLite stores a bound NaN as NULL, so NaN gets its own kind).
   CREATE TABLE readings (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     epoch INTEGER NOT NULL,
     tag_id INTEGER NOT NULL,
     ts INTEGER NOT NULL,
     quality INTEGER NOT NULL,
     kind INTEGER NOT NULL,
     value
   );
   -- Batches sealed for sending: resent with exactly the same boundaries until acknowledged.
   CREATE TABLE batches (
     seq_first INTEGER PRIMARY KEY,
     seq_last INTEGER NOT NULL,
     epoch INTEGER NOT NULL,
     count INTEGER NOT NULL,
     historical INTEGER NOT NULL,
     sealed_ms INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0
   );
   -- Batches the ingest rejected for good, kept for inspection, never resent.
   CREATE TABLE quarantine (
     seq_first INTEGER NOT NULL,
     epoch INTEGER NOT NULL,
     count INTEGER NOT NULL,
     reason_code TEXT NOT NULL,
     reason TEXT NOT NULL,
     at_ms INTEGER NOT NULL,
     bytes BLOB
   );`,
  // v2: readings are kept in blocks (one append = one row, encoded once as a protobuf Block), so
  // appending, sealing and deleting cost one row per poll instead of one per reading.
  `CREATE TABLE blocks (
     seq_first INTEGER PRIMARY KEY,
     seq_last INTEGER NOT NULL,
     epoch INTEGER NOT NULL,
     count INTEGER NOT NULL,
     base_ts INTEGER NOT NULL,
     appended_ms INTEGER NOT NULL,
     source TEXT NOT NULL,
     bytes BLOB NOT NULL
   );
   CREATE TABLE drops (source TEXT PRIMARY KEY, readings INTEGER NOT NULL);`,
];

/** Migrations that move data and cannot be plain SQL run after the SQL of the same version. */
export type DataMigration = (db: Sqlite) => Promise<void>;

export async function migrate(db: Sqlite, data: Record<number, DataMigration> = {}): Promise<void> {
  await db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = await db.get<{ version: number }>('SELECT version FROM schema_version');
  let version = row?.version ?? 0;
  if (!row) await db.run('INSERT INTO schema_version (version) VALUES (0)');
  while (version < MIGRATIONS.length) {
    const sql = MIGRATIONS[version]!;
    const target = version + 1;
    await db.transaction(async () => {
      await db.exec(sql);
      await data[target]?.(db);
      await db.run('UPDATE schema_version SET version = ?', [target]);
    });
    version = target;
  }
}
