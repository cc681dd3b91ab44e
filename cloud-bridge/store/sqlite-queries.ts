import type { Sqlite, SqlParam } from '../../core/sqlite.js';
import type { AggregateQuery, AlarmFilter, AlarmRecord, Bucket, NewAlarm } from './analytics-types.js';
import { ALARM_INSERT_COLS, aggregateSql, alarmFromRow, alarmWhere, type AlarmSql } from './alarm-rows.js';
import { MAX_READING_ID, settleAll } from './hot-tier.js';
import { ROLLUP_MS, mergeParts, planRange, pruneCutoff, rawBuckets, rebuildSql, rollupSql, type PartialRow } from './rollups.js';

/**
 * Analytics and alarm SQL of the SQLite store. The alarm and rollup tables have their own
 * versioned migrations (alarm_schema_version), applied after the store's own, so they never
 * collide with the readings schema's numbering.
 */
const ALARM_MIGRATIONS: string[] = [
  `CREATE TABLE alarms (
     id INTEGER PRIMARY KEY,
     tenant TEXT NOT NULL,
     gateway TEXT NOT NULL,
     source TEXT NOT NULL,
     rule TEXT NOT NULL,
     type TEXT NOT NULL,
     severity TEXT NOT NULL,
     message TEXT NOT NULL,
     raised_ms INTEGER NOT NULL,
     value REAL,
     limit_value REAL,
     cleared_ms INTEGER,
     clear_value REAL,
     ack_by TEXT,
     ack_ms INTEGER
   );
   CREATE INDEX alarms_tenant ON alarms (tenant, id);
   CREATE INDEX alarms_open ON alarms (id) WHERE cleared_ms IS NULL;`,
  // 2: one-minute rollups for long trends (rollups.ts) and the id watermark up to which they are current.
  `CREATE TABLE rollup_1m (
     series_id INTEGER NOT NULL,
     minute INTEGER NOT NULL,
     n INTEGER NOT NULL,
     sm REAL,
     mn REAL,
     mx REAL,
     first REAL,
     last REAL,
     PRIMARY KEY (series_id, minute)
   ) WITHOUT ROWID;
   CREATE TABLE rollup_state (upto_id INTEGER NOT NULL);
   INSERT INTO rollup_state (upto_id) VALUES (0);`,
  // 3: retention: the pruned horizon (rollups.ts); rollup minutes before it are never rebuilt.
  'ALTER TABLE rollup_state ADD COLUMN pruned_before INTEGER NOT NULL DEFAULT 0;',
];

export async function sqliteMigrateAlarms(db: Sqlite): Promise<void> {
  await db.exec('CREATE TABLE IF NOT EXISTS alarm_schema_version (version INTEGER NOT NULL)');
  const row = await db.get<{ version: number }>('SELECT version FROM alarm_schema_version');
  if (!row) await db.run('INSERT INTO alarm_schema_version (version) VALUES (0)');
  let version = row?.version ?? 0;
  if (version > ALARM_MIGRATIONS.length) throw new Error(`${db.file} has alarm schema version ${version}, newer than this program knows (${ALARM_MIGRATIONS.length})`);
  while (version < ALARM_MIGRATIONS.length) {
    const sql = ALARM_MIGRATIONS[version]!;
    const target = version + 1;
    await db.transaction(async () => {
      await db.exec(sql);
      await db.run('UPDATE alarm_schema_version SET version = ?', [target]);
    });
    version = target;
  }
}

const numbered = (params: SqlParam[]) => (v: SqlParam): string => {
  params.push(v);
  return `?${params.length}`;
};

async function rawParts(reader: Sqlite, seriesId: number, q: AggregateQuery): Promise<PartialRow[]> {
  const params: SqlParam[] = [];
  return reader.all<PartialRow>(aggregateSql(seriesId, q, numbered(params), ''), params);
}

/** Reading ids folded into the rollups per write transaction: the ingest's transactions interleave between chunks. */
export const ROLLUP_CHUNK_IDS = 100_000;

/**
 * Brings the rollups up to date with every reading committed so far: the minutes of the readings
 * above the id watermark are rebuilt, in write transactions of at most ROLLUP_CHUNK_IDS ids (a large
 * backlog never holds the writer for long). Exact because SQLite has one writer: ids are handed out
 * in commit order, so nothing below the watermark can appear later.
 */
export async function sqliteRefreshRollups(db: Sqlite): Promise<void> {
  for (;;) {
    const done = await db.transaction(async () => {
      const upto = (await db.get<{ upto_id: number }>('SELECT upto_id FROM rollup_state'))?.upto_id ?? 0;
      const max = Math.min((await db.get<{ m: number | null }>(MAX_READING_ID))?.m ?? 0, upto + ROLLUP_CHUNK_IDS);
      if (max <= upto) return true;
      await db.exec('CREATE TEMP TABLE IF NOT EXISTS rollup_todo (series_id INTEGER NOT NULL, minute INTEGER NOT NULL, PRIMARY KEY (series_id, minute)) WITHOUT ROWID; DELETE FROM temp.rollup_todo');
      await db.run(`INSERT OR IGNORE INTO temp.rollup_todo SELECT DISTINCT series_id, (ts / ${ROLLUP_MS}) * ${ROLLUP_MS} FROM readings WHERE id > ? AND id <= ?`, [upto, max]);
      // Frozen minutes (pruned by retention, see rollups.ts) keep their rollup row.
      await db.exec(`DELETE FROM temp.rollup_todo WHERE minute < (SELECT pruned_before FROM rollup_state)
        AND EXISTS (SELECT 1 FROM rollup_1m r WHERE r.series_id = rollup_todo.series_id AND r.minute = rollup_todo.minute)`);
      await db.exec('DELETE FROM rollup_1m WHERE (series_id, minute) IN (SELECT series_id, minute FROM temp.rollup_todo)');
      await db.exec(rebuildSql('temp.rollup_todo', 'sqlite'));
      await db.run('UPDATE rollup_state SET upto_id = ?', [max]);
      return false;
    });
    if (done) return;
  }
}

/** Readings deleted per retention transaction: the ingest's group commits interleave between chunks. */
export const PRUNE_CHUNK_ROWS = 10_000;

/**
 * Retention (see RetentionStore.pruneRaw): refreshes the rollups, raises the pruned horizon, then
 * deletes per series in transactions of at most PRUNE_CHUNK_ROWS readings on the writer connection
 * (serialized with the ingest's group commits, which run in between). Only readings already folded
 * into the rollups (id <= watermark) are deleted; one committed since the refresh goes with the next run.
 */
export async function sqlitePruneRaw(db: Sqlite, reader: Sqlite, beforeMs: number): Promise<{ deleted: number }> {
  const cutoff = pruneCutoff(beforeMs);
  // Old readings can sit in the hot tier (a backlog just drained): retention deletes from the cold tier.
  await settleAll(db);
  await sqliteRefreshRollups(db);
  const upto = await db.transaction(async () => {
    await db.run('UPDATE rollup_state SET pruned_before = MAX(pruned_before, ?)', [cutoff]);
    return (await db.get<{ upto_id: number }>('SELECT upto_id FROM rollup_state'))?.upto_id ?? 0;
  });
  const series = await reader.all<{ id: number }>('SELECT id FROM series ORDER BY id');
  let deleted = 0;
  for (const s of series) {
    for (;;) {
      const n = await db.transaction(async () => {
        const r = await db.run('DELETE FROM readings_cold WHERE rowid IN (SELECT rowid FROM readings_cold WHERE series_id = ? AND ts < ? AND id <= ? LIMIT ?)',
          [s.id, cutoff, upto, PRUNE_CHUNK_ROWS]);
        // A new reading gets id MAX(id)+1: with the highest ids deleted, that can be below the
        // watermark again. Every id above the highest left was folded and is gone, so lower it there.
        await db.run(`UPDATE rollup_state SET upto_id = MIN(upto_id, (${MAX_READING_ID}))`);
        return r.changes;
      });
      deleted += n;
      if (n < PRUNE_CHUNK_ROWS) break;
    }
  }
  return { deleted };
}

/** Aggregates: from the rollups for whole minutes (after a refresh) and the raw readings for the rest. */
export async function sqliteAggregate(db: Sqlite, reader: Sqlite, seriesId: number, q: AggregateQuery): Promise<Bucket[]> {
  const plan = planRange(q);
  if (!plan) return rawBuckets(await rawParts(reader, seriesId, q));
  await sqliteRefreshRollups(db);
  const params: SqlParam[] = [];
  const inner = await reader.all<PartialRow>(rollupSql(seriesId, { ...q, ...plan.inner }, numbered(params), ''), params);
  const left = plan.left ? await rawParts(reader, seriesId, { ...q, ...plan.left }) : [];
  const right = plan.right ? await rawParts(reader, seriesId, { ...q, ...plan.right }) : [];
  return mergeParts([left, inner, right]);
}

export async function sqliteInsertAlarm(db: Sqlite, a: NewAlarm): Promise<AlarmRecord> {
  return db.transaction(async () => {
    const r = await db.run(`INSERT INTO alarms (${ALARM_INSERT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [a.tenant, a.gateway, a.source, a.rule, a.type, a.severity, a.message, a.raisedMs, a.value, a.limit]);
    return { ...a, id: r.lastID, clearedMs: null, clearValue: null, ackBy: null, ackMs: null };
  });
}

export async function sqliteClearAlarm(db: Sqlite, id: number, atMs: number, value: number | null): Promise<void> {
  await db.transaction(() => db.run('UPDATE alarms SET cleared_ms = ?, clear_value = ? WHERE id = ? AND cleared_ms IS NULL', [atMs, value, id]));
}

export async function sqliteAckAlarm(db: Sqlite, id: number, by: string, atMs: number, tenant?: string): Promise<AlarmRecord | null> {
  return db.transaction(async () => {
    const t = tenant !== undefined ? ' AND tenant = ?' : '';
    const p: SqlParam[] = tenant !== undefined ? [tenant] : [];
    await db.run(`UPDATE alarms SET ack_by = ?, ack_ms = ? WHERE id = ? AND ack_ms IS NULL${t}`, [by, atMs, id, ...p]);
    const row = await db.get<AlarmSql>(`SELECT * FROM alarms WHERE id = ?${t}`, [id, ...p]);
    return row ? alarmFromRow(row) : null;
  });
}

export async function sqliteAlarms(reader: Sqlite, f: AlarmFilter): Promise<AlarmRecord[]> {
  const params: SqlParam[] = [];
  const where = alarmWhere(f, numbered(params));
  const rows = await reader.all<AlarmSql>(`SELECT * FROM alarms ${where} ORDER BY id DESC LIMIT ${numbered(params)(f.limit)}`, params);
  return rows.map(alarmFromRow);
}
