import type { Sqlite, SqlParam } from '../../core/sqlite.js';
import type { AggregateQuery, AlarmFilter, AlarmRecord, Bucket, NewAlarm } from './analytics-types.js';
import { ALARM_INSERT_COLS, aggregateSql, alarmFromRow, alarmWhere, type AlarmSql } from './alarm-rows.js';

/**
 * Analytics and alarm SQL of the SQLite store. The alarm tables have their own versioned
 * migrations (alarm_schema_version), applied after the store's own, so they never collide with
 * the readings schema's numbering.
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

export async function sqliteAggregate(reader: Sqlite, seriesId: number, q: AggregateQuery): Promise<Bucket[]> {
  const params: SqlParam[] = [];
  const sql = aggregateSql(seriesId, q, numbered(params), '');
  const rows = await reader.all<{ bts: number; n: number; mn: number; mx: number; av: number; first: number; last: number }>(sql, params);
  return rows.map((r) => ({ ts: r.bts, count: r.n, min: r.mn, max: r.mx, avg: r.av, first: r.first, last: r.last }));
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
