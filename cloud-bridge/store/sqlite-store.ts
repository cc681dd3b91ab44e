import { Sqlite, placeholders, type SqlParam } from '../../core/sqlite.js';
import type { Logger } from '../../core/logger.js';
import { LIMITS, type CatalogData, type DecodedBatch } from '../../proto/codec.js';
import type { CloudStore, DeviceRow, GatewayRow, LatestRow, QuarantineEntry, RegistryChange, RegistrySnapshot, SeriesQuery, StoredReading, TagRow, WriteContext, WriteOutcome } from './reading-store.js';
import { sqliteApplyRegistry, sqliteLoadRegistry, sqliteRegistryRevision } from './sqlite-registry.js';
import { applyPragmas, migrate } from './sqlite-schema.js';
import { DEFAULT_QUARANTINE_LIMITS, quarantineUsage, type QuarantineLimits, type QuarantineUsage } from './quarantine-bounds.js';
import { TagMapCache, insertQuarantine, sqliteQuarantineSql, writeGroupTx, type PendingWrite, type WriterLimits } from './sqlite-batch-writer.js';
import { fromColumns } from './value-columns.js';
import { HOT_TIER_DEFAULTS, HotTierClock, settleHotRows, type HotTierLimits } from './hot-tier.js';
import { errorMessage } from '../../core/errors.js';
import type { AggregateQuery, AlarmFilter, AlarmRecord, Bucket, NewAlarm } from './analytics-types.js';
import { sqliteAckAlarm, sqliteAggregate, sqliteAlarms, sqliteClearAlarm, sqliteInsertAlarm, sqliteMigrateAlarms, sqlitePruneRaw } from './sqlite-queries.js';

export interface SqliteStoreOptions {
  path: string;
  /** Readings per multi-row INSERT (500 by default). */
  insertChunkRows?: number;
  /** What rejected input is kept (quarantine-bounds.ts; DEFAULT_QUARANTINE_LIMITS by default). */
  quarantine?: QuarantineLimits;
  /** When the hot tier's rows move to the cold tier (hot-tier.ts; HOT_TIER_DEFAULTS by default). */
  hotTier?: HotTierLimits;
}

/** A group commit takes at most this many queued batches / readings. */
const GROUP_MAX_BATCHES = 64;
const GROUP_MAX_READINGS = 100_000;

interface TagSql { gateway: string; key: string; tag_id: number; device: string; unit: string; data_type: string; description: string }
const TAG_COLS = 's.gateway, s.key, s.tag_id, s.device, s.unit, s.data_type, s.description';
const tagRow = (r: TagSql): TagRow => ({ gateway: r.gateway, key: r.key, tagId: r.tag_id, device: r.device, unit: r.unit, dataType: r.data_type, description: r.description });

/**
 * The SQLite cloud store. Two connections to one WAL file: the writer (every write inside a
 * serialized BEGIN IMMEDIATE transaction, synchronous=FULL) and a read-only reader for the API, so
 * a query never sees or joins an open ingest transaction.
 */
export class SqliteStore implements CloudStore {
  private readonly tags_ = new TagMapCache();

  private readonly chunkRows: number;
  private readonly pending: PendingWrite[] = [];
  private flushing = false;

  private readonly hot: HotTierClock;

  private constructor(private readonly db: Sqlite, private readonly reader: Sqlite, private readonly limits: WriterLimits, private readonly log: Logger, hotTier: HotTierLimits) {
    this.chunkRows = limits.chunkRows;
    this.hot = new HotTierClock(hotTier);
  }

  static async open(opts: SqliteStoreOptions, ctx: { logger: Logger }): Promise<SqliteStore> {
    const db = await Sqlite.open(opts.path);
    try {
      await applyPragmas(db);
      await migrate(db);
      await sqliteMigrateAlarms(db);
      const reader = await Sqlite.open(opts.path, { readonly: true });
      await reader.exec('PRAGMA busy_timeout = 5000');
      const log = ctx.logger.child({ component: 'store', path: opts.path });
      log.info('store open');
      return new SqliteStore(db, reader, { chunkRows: opts.insertChunkRows ?? 500, quarantine: opts.quarantine ?? DEFAULT_QUARANTINE_LIMITS }, log, opts.hotTier ?? HOT_TIER_DEFAULTS);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
  }

  /** Queued for the next group commit (see writeGroupTx); resolves after the COMMIT that made it durable. */
  writeBatch(gateway: string, batch: DecodedBatch, ctx: WriteContext): Promise<WriteOutcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ gateway, batch, ctx, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private flushed: Promise<void> = Promise.resolve();

  private flush(): Promise<void> {
    this.flushed = this.flushLoop();
    return this.flushed;
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        let n = 0;
        let readings = 0;
        while (n < this.pending.length && n < GROUP_MAX_BATCHES && (n === 0 || readings + this.pending[n]!.batch.count <= GROUP_MAX_READINGS)) readings += this.pending[n++]!.batch.count;
        await writeGroupTx(this.db, this.tags_, this.pending.splice(0, n), this.limits);
        this.hot.added(readings);
        if (this.hot.due()) await this.settle();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Moves the hot tier's oldest rows into the cold tier (hot-tier.ts); a failure is logged and retried after the next commits. */
  private async settle(): Promise<void> {
    try {
      const { rows } = this.hot.limits;
      const moved = await this.db.transaction(() => settleHotRows(this.db, rows));
      this.hot.settled(moved < rows ? 0 : rows);
    } catch (err) {
      this.hot.settled(0);
      this.log.error({ err: errorMessage(err) }, 'moving readings from the hot to the cold tier failed; retrying after the next commits');
    }
  }

  async query(q: SeriesQuery): Promise<{ tag: TagRow; readings: StoredReading[] } | null> {
    const tag = await this.reader.get<TagSql & { id: number }>(`SELECT s.id, ${TAG_COLS} FROM series s WHERE s.gateway = ? AND s.key = ?`, [q.gateway, q.key]);
    if (!tag) return null;
    const where = ['series_id = ?'];
    const params: SqlParam[] = [tag.id];
    if (q.fromMs !== undefined) { where.push('ts >= ?'); params.push(q.fromMs); }
    if (q.toMs !== undefined) { where.push('ts < ?'); params.push(q.toMs); }
    if (q.after) { where.push('(ts > ? OR (ts = ? AND id > ?))'); params.push(q.after.ts, q.after.ts, q.after.id); }
    params.push(q.limit);
    const rows = await this.reader.all<{ id: number; ts: number; kind: number; value: number | null; value_text: string | null; quality: number; epoch: number; seq: number; historical: number }>(
      `SELECT id, ts, kind, value, value_text, quality, epoch, seq, historical FROM readings WHERE ${where.join(' AND ')} ORDER BY ts, id LIMIT ?`, params);
    return {
      tag: tagRow(tag),
      readings: rows.map((r) => ({ id: r.id, ts: r.ts, value: fromColumns(r.kind, r.value, r.value_text), quality: r.quality >>> 0, epoch: r.epoch, seq: r.seq, historical: r.historical === 1 })),
    };
  }

  async latest(filter: { gateway?: string }): Promise<LatestRow[]> {
    const rows = await this.reader.all<TagSql & { ts: number; kind: number; value: number | null; value_text: string | null; quality: number; received_ms: number }>(
      `SELECT ${TAG_COLS}, l.ts, l.kind, l.value, l.value_text, l.quality, l.received_ms FROM latest l JOIN series s ON s.id = l.series_id
       ${filter.gateway !== undefined ? 'WHERE s.gateway = ?' : ''} ORDER BY s.gateway, s.key`, filter.gateway !== undefined ? [filter.gateway] : []);
    return rows.map((r) => ({ ...tagRow(r), ts: r.ts, value: fromColumns(r.kind, r.value, r.value_text), quality: r.quality >>> 0, receivedMs: r.received_ms }));
  }

  async upsertCatalog(gateway: string, c: CatalogData): Promise<void> {
    await this.db.transaction(async () => {
      for (let i = 0; i < c.tags.length; i += this.chunkRows) {
        const part = c.tags.slice(i, i + this.chunkRows);
        await this.db.run(
          `INSERT INTO series (gateway, key, tag_id, device, unit, data_type, description) VALUES ${placeholders(part.length, 7)}
           ON CONFLICT (gateway, key) DO UPDATE SET tag_id = excluded.tag_id, device = excluded.device, unit = excluded.unit, data_type = excluded.data_type, description = excluded.description`,
          part.flatMap((t) => [gateway, t.key, t.id, t.device, t.unit, t.dataType, t.description]));
      }
      const ids = new Map((await this.db.all<{ id: number; key: string }>('SELECT id, key FROM series WHERE gateway = ?', [gateway])).map((r) => [r.key, r.id]));
      for (let i = 0; i < c.tags.length; i += this.chunkRows) {
        const part = c.tags.slice(i, i + this.chunkRows);
        await this.db.run(
          `INSERT INTO tag_map (gateway, producer_id, tag_id, series_id) VALUES ${placeholders(part.length, 4)}
           ON CONFLICT (gateway, producer_id, tag_id) DO UPDATE SET series_id = excluded.series_id`,
          part.flatMap((t) => [gateway, c.producerId, t.id, ids.get(t.key)!]));
      }
      for (let i = 0; i < c.devices.length; i += this.chunkRows) {
        const part = c.devices.slice(i, i + this.chunkRows);
        await this.db.run(
          `INSERT INTO devices (gateway, name, driver, endpoint) VALUES ${placeholders(part.length, 4)}
           ON CONFLICT (gateway, name) DO UPDATE SET driver = excluded.driver, endpoint = excluded.endpoint`,
          part.flatMap((d) => [gateway, d.name, d.driver, d.endpoint]));
      }
    });
    this.tags_.invalidate(gateway);
  }

  async tags(filter: { gateway?: string }): Promise<TagRow[]> {
    const rows = await this.reader.all<TagSql>(`SELECT ${TAG_COLS} FROM series s ${filter.gateway !== undefined ? 'WHERE s.gateway = ?' : ''} ORDER BY s.gateway, s.key`,
      filter.gateway !== undefined ? [filter.gateway] : []);
    return rows.map(tagRow);
  }

  async devices(filter: { gateway?: string }): Promise<DeviceRow[]> {
    // Devices named in the catalog's device list, plus devices only named by tags.
    const byGateway = filter.gateway !== undefined ? 'WHERE gateway = ?' : '';
    const rows = await this.reader.all<{ gateway: string; name: string; driver: string; endpoint: string; last_ms: number | null }>(
      `WITH names AS (
         SELECT gateway, name, driver, endpoint FROM devices ${byGateway}
         UNION ALL
         SELECT DISTINCT gateway, device, '', '' FROM series ${byGateway ? `${byGateway} AND` : 'WHERE'} device <> ''
           AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.gateway = series.gateway AND d.name = series.device)
       )
       SELECT n.gateway, n.name, n.driver, n.endpoint,
              (SELECT MAX(l.ts) FROM latest l JOIN series s ON s.id = l.series_id WHERE s.gateway = n.gateway AND s.device = n.name) AS last_ms
       FROM names n ORDER BY n.gateway, n.name`,
      filter.gateway !== undefined ? [filter.gateway, filter.gateway] : []);
    return rows.map((r) => ({ gateway: r.gateway, name: r.name, driver: r.driver, endpoint: r.endpoint, lastReadingMs: r.last_ms }));
  }

  async registerGateways(list: { id: string; tenant: string }[]): Promise<void> {
    await this.db.transaction(async () => {
      // Nobody is connected to a broker that has just started.
      await this.db.run('UPDATE gateways SET online = 0');
      for (const g of list) await this.db.run('INSERT INTO gateways (id, tenant) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant', [g.id, g.tenant]);
    });
  }

  async setPresence(gateway: string, p: { online: boolean; atMs: number; epoch?: number; producerId?: string }): Promise<void> {
    await this.db.transaction(() => this.db.run(
      'UPDATE gateways SET online = ?, last_seen_ms = MAX(COALESCE(last_seen_ms, 0), ?), epoch = COALESCE(?, epoch), producer_id = COALESCE(?, producer_id) WHERE id = ?',
      [p.online ? 1 : 0, p.atMs, p.epoch ?? null, p.producerId ?? null, gateway]));
  }

  async setHealth(gateway: string, healthJson: string, atMs: number): Promise<void> {
    await this.db.transaction(() => this.db.run('UPDATE gateways SET health_json = ?, health_ms = ?, last_seen_ms = MAX(COALESCE(last_seen_ms, 0), ?) WHERE id = ?', [healthJson, atMs, atMs, gateway]));
  }

  async gateways(filter: { tenant?: string }): Promise<GatewayRow[]> {
    const rows = await this.reader.all<{ id: string; tenant: string; online: number; last_seen_ms: number | null; epoch: number | null; producer_id: string | null; readings_stored: number; health_json: string | null; health_ms: number | null; clock_skew_ms: number | null }>(
      `SELECT * FROM gateways ${filter.tenant !== undefined ? 'WHERE tenant = ?' : ''} ORDER BY tenant, id`, filter.tenant !== undefined ? [filter.tenant] : []);
    return rows.map((r) => ({
      id: r.id, tenant: r.tenant, online: r.online === 1, lastSeenMs: r.last_seen_ms, epoch: r.epoch, producerId: r.producer_id, readingsStored: r.readings_stored,
      health: parseJson(r.health_json), healthMs: r.health_ms, clockSkewMs: r.clock_skew_ms,
    }));
  }

  async quarantine(entry: QuarantineEntry): Promise<void> {
    await this.db.transaction(() => insertQuarantine(this.db, entry, this.limits.quarantine));
  }

  quarantineUsage(gateway: string): Promise<QuarantineUsage> {
    return quarantineUsage(sqliteQuarantineSql(this.reader), gateway);
  }

  async quarantineCount(gateway?: string): Promise<number> {
    const row = await this.reader.get<{ n: number }>(`SELECT COUNT(*) AS n FROM quarantine ${gateway !== undefined ? 'WHERE gateway = ?' : ''}`, gateway !== undefined ? [gateway] : []);
    return row?.n ?? 0;
  }

  async storedRanges(gateway: string, producerId: string, seqFirst: number, seqLast: number): Promise<{ seqFirst: number; seqLast: number }[]> {
    const rows = await this.reader.all<{ seq_first: number; seq_last: number }>(
      'SELECT seq_first, seq_last FROM batches WHERE gateway = ? AND producer_id = ? AND seq_first BETWEEN ? AND ? AND seq_last >= ? ORDER BY seq_first',
      [gateway, producerId, Math.max(0, seqFirst - LIMITS.maxReadings + 1), seqLast, seqFirst]);
    return rows.map((x) => ({ seqFirst: x.seq_first, seqLast: x.seq_last }));
  }

  registryRevision(): Promise<number> {
    return sqliteRegistryRevision(this.reader);
  }

  loadRegistry(): Promise<RegistrySnapshot> {
    return sqliteLoadRegistry(this.reader);
  }

  applyRegistry(change: RegistryChange): Promise<void> {
    return sqliteApplyRegistry(this.db, change);
  }

  // --- analytics and alarms (issue 7; SQL in sqlite-queries.ts) ---
  async aggregate(q: AggregateQuery): Promise<{ tag: TagRow; buckets: Bucket[] } | null> {
    const tag = await this.reader.get<TagSql & { id: number }>(`SELECT s.id, ${TAG_COLS} FROM series s WHERE s.gateway = ? AND s.key = ?`, [q.gateway, q.key]);
    return tag ? { tag: tagRow(tag), buckets: await sqliteAggregate(this.db, this.reader, tag.id, q) } : null;
  }

  insertAlarm(a: NewAlarm): Promise<AlarmRecord> {
    return sqliteInsertAlarm(this.db, a);
  }

  clearAlarm(id: number, atMs: number, value: number | null): Promise<void> {
    return sqliteClearAlarm(this.db, id, atMs, value);
  }

  ackAlarm(id: number, by: string, atMs: number, tenant?: string): Promise<AlarmRecord | null> {
    return sqliteAckAlarm(this.db, id, by, atMs, tenant);
  }

  alarms(filter: AlarmFilter): Promise<AlarmRecord[]> {
    return sqliteAlarms(this.reader, filter);
  }

  pruneRaw(beforeMs: number): Promise<{ deleted: number }> {
    return sqlitePruneRaw(this.db, this.reader, beforeMs);
  }

  async ping(): Promise<void> {
    await this.reader.get('SELECT 1');
  }

  async probeWrite(atMs: number): Promise<void> {
    await this.db.transaction(() => this.db.run('INSERT INTO health_probe (id, at_ms) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms', [atMs]));
  }

  async close(): Promise<void> {
    await this.flushed; // the last group commit and a hot-tier move under way finish first
    await this.reader.close().catch((err: unknown) => this.log.warn({ err }, 'closing the reader failed'));
    // Fold the WAL back into the main file on a clean stop (a crash leaves it to the next open).
    await this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)').catch(() => undefined);
    await this.db.close();
    this.log.info('store closed');
  }
}

function parseJson(s: string | null): unknown {
  if (s === null) return null;
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return null;
  }
}
