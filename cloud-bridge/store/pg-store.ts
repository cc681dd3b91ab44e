import pg from 'pg';
import type { Logger } from '../../core/logger.js';
import { RegistryError } from '../../core/errors.js';
import { LIMITS, type CatalogData, type DecodedBatch } from '../../proto/codec.js';
import { tokenScope, type CloudStore, type DeviceRow, type GatewayRow, type LatestRow, type QuarantineEntry, type RegistryChange, type RegistrySnapshot, type SeriesQuery, type StoredReading, type TagRow, type WriteContext, type WriteOutcome } from './reading-store.js';
import { pgMigrate } from './pg-schema.js';
import { PartitionCache, pgInsertQuarantine, pgQuarantineSql, pgWriteBatchTx } from './pg-batch-writer.js';
import { DEFAULT_QUARANTINE_LIMITS, quarantineUsage, type QuarantineLimits, type QuarantineUsage } from './quarantine-bounds.js';
import { fromColumns } from './value-columns.js';
import type { AggregateQuery, AlarmFilter, AlarmRecord, Bucket, NewAlarm } from './analytics-types.js';
import { inTx, pgAckAlarm, pgAggregate, pgAlarms, pgClearAlarm, pgInsertAlarm, pgMigrateAlarms, pgPruneRaw } from './pg-queries.js';

export interface PgStoreOptions {
  url: string;
  schema: string;
  poolSize?: number;
  /** What rejected input is kept (quarantine-bounds.ts; DEFAULT_QUARANTINE_LIMITS by default). */
  quarantine?: QuarantineLimits;
}

/** int8 as a JS number (ms timestamps, seqs and ids stay below 2^53); everything else as pg parses it. */
const types = { getTypeParser: ((oid: number, format?: string) => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser };

interface TagSql { gateway: string; key: string; tag_id: number; device: string; unit: string; data_type: string; description: string }
const TAG_COLS = 's.gateway, s.key, s.tag_id, s.device, s.unit, s.data_type, s.description';
const tagRow = (r: TagSql): TagRow => ({ gateway: r.gateway, key: r.key, tagId: r.tag_id, device: r.device, unit: r.unit, dataType: r.data_type, description: r.description });

/**
 * The PostgreSQL cloud store: one pool, every write in its own transaction with
 * synchronous_commit=on, readings in monthly partitions (see pg-schema.ts). Several ingest workers
 * may share one database.
 */
export class PgStore implements CloudStore {
  private partitions = new PartitionCache();
  private readonly tagMaps = new Map<string, Map<number, number>>();

  private constructor(private readonly pool: pg.Pool, private readonly schema: string, private readonly keepQuarantine: QuarantineLimits, private readonly log: Logger) {}

  static async open(opts: PgStoreOptions, ctx: { logger: Logger }): Promise<PgStore> {
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 8, types, options: `-c search_path=${opts.schema} -c synchronous_commit=on` });
    pool.on('error', () => undefined); // an idle client lost; the next checkout reconnects
    try {
      const c = await pool.connect();
      try {
        await pgMigrate(c, opts.schema);
        await pgMigrateAlarms(c, opts.schema);
      } finally {
        c.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    const log = ctx.logger.child({ component: 'store', schema: opts.schema });
    log.info('postgres store open');
    return new PgStore(pool, opts.schema, opts.quarantine ?? DEFAULT_QUARANTINE_LIMITS, log);
  }

  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTx(this.pool, fn);
  }

  async writeBatch(gateway: string, batch: DecodedBatch, ctx: WriteContext): Promise<WriteOutcome> {
    await this.partitions.ensure(this.pool, this.schema, batch.readings);
    const key = `${gateway}\u0000${batch.producerId}`;
    const tagMap = async (c: pg.PoolClient): Promise<Map<number, number>> => {
      let m = this.tagMaps.get(key);
      // Another worker may have stored a newer catalog: reload once when a tag is missing.
      if (!m || batch.readings.some((r) => !m!.has(r.tagId))) {
        const rows = (await c.query<{ tag_id: number; series_id: number }>('SELECT tag_id, series_id FROM tag_map WHERE gateway = $1 AND producer_id = $2', [gateway, batch.producerId])).rows;
        m = new Map(rows.map((r) => [r.tag_id, r.series_id]));
        if (this.tagMaps.size >= 10_000) this.tagMaps.clear();
        if (m.size > 0) this.tagMaps.set(key, m);
      }
      return m;
    };
    return this.tx((c) => pgWriteBatchTx(c, tagMap, gateway, batch, ctx, this.keepQuarantine));
  }

  async query(q: SeriesQuery): Promise<{ tag: TagRow; readings: StoredReading[] } | null> {
    const tag = (await this.pool.query<TagSql & { id: number }>(`SELECT s.id, ${TAG_COLS} FROM series s WHERE s.gateway = $1 AND s.key = $2`, [q.gateway, q.key])).rows[0];
    if (!tag) return null;
    const where = ['series_id = $1'];
    const params: unknown[] = [tag.id];
    const p = (v: unknown): string => { params.push(v); return `$${params.length}`; };
    if (q.fromMs !== undefined) where.push(`ts >= ${p(q.fromMs)}`);
    if (q.toMs !== undefined) where.push(`ts < ${p(q.toMs)}`);
    if (q.after) where.push(`(ts, id) > (${p(q.after.ts)}, ${p(q.after.id)})`);
    const rows = (await this.pool.query<{ id: number; ts: number; kind: number; value: number | null; value_text: string | null; quality: number; epoch: number; seq: number; historical: boolean }>(
      `SELECT id, ts, kind, value, value_text, quality, epoch, seq, historical FROM readings WHERE ${where.join(' AND ')} ORDER BY ts, id LIMIT ${p(q.limit)}`, params)).rows;
    return { tag: tagRow(tag), readings: rows.map((r) => ({ id: r.id, ts: r.ts, value: fromColumns(r.kind, r.value, r.value_text), quality: r.quality >>> 0, epoch: r.epoch, seq: r.seq, historical: r.historical })) };
  }

  async latest(filter: { gateway?: string }): Promise<LatestRow[]> {
    const rows = (await this.pool.query<TagSql & { ts: number; kind: number; value: number | null; value_text: string | null; quality: number; received_ms: number }>(
      `SELECT ${TAG_COLS}, l.ts, l.kind, l.value, l.value_text, l.quality, l.received_ms FROM latest l JOIN series s ON s.id = l.series_id
       ${filter.gateway !== undefined ? 'WHERE s.gateway = $1' : ''} ORDER BY s.gateway, s.key`, filter.gateway !== undefined ? [filter.gateway] : [])).rows;
    return rows.map((r) => ({ ...tagRow(r), ts: r.ts, value: fromColumns(r.kind, r.value, r.value_text), quality: r.quality >>> 0, receivedMs: r.received_ms }));
  }

  async upsertCatalog(gateway: string, c: CatalogData): Promise<void> {
    await this.tx(async (cl) => {
      await cl.query(
        `INSERT INTO series (gateway, key, tag_id, device, unit, data_type, description)
         SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])
         ON CONFLICT (gateway, key) DO UPDATE SET tag_id = excluded.tag_id, device = excluded.device, unit = excluded.unit, data_type = excluded.data_type, description = excluded.description`,
        [gateway, c.tags.map((t) => t.key), c.tags.map((t) => t.id), c.tags.map((t) => t.device), c.tags.map((t) => t.unit), c.tags.map((t) => t.dataType), c.tags.map((t) => t.description)]);
      await cl.query(
        `INSERT INTO tag_map (gateway, producer_id, tag_id, series_id)
         SELECT $1, $2, u.tag_id, s.id FROM unnest($3::text[], $4::bigint[]) AS u(key, tag_id) JOIN series s ON s.gateway = $1 AND s.key = u.key
         ON CONFLICT (gateway, producer_id, tag_id) DO UPDATE SET series_id = excluded.series_id`,
        [gateway, c.producerId, c.tags.map((t) => t.key), c.tags.map((t) => t.id)]);
      await cl.query(
        `INSERT INTO devices (gateway, name, driver, endpoint) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])
         ON CONFLICT (gateway, name) DO UPDATE SET driver = excluded.driver, endpoint = excluded.endpoint`,
        [gateway, c.devices.map((d) => d.name), c.devices.map((d) => d.driver), c.devices.map((d) => d.endpoint)]);
    });
    for (const k of this.tagMaps.keys()) if (k.startsWith(`${gateway}\u0000`)) this.tagMaps.delete(k);
  }

  async tags(filter: { gateway?: string }): Promise<TagRow[]> {
    const rows = (await this.pool.query<TagSql>(`SELECT ${TAG_COLS} FROM series s ${filter.gateway !== undefined ? 'WHERE s.gateway = $1' : ''} ORDER BY s.gateway, s.key`,
      filter.gateway !== undefined ? [filter.gateway] : [])).rows;
    return rows.map(tagRow);
  }

  async devices(filter: { gateway?: string }): Promise<DeviceRow[]> {
    const by = filter.gateway !== undefined ? 'WHERE gateway = $1' : '';
    const rows = (await this.pool.query<{ gateway: string; name: string; driver: string; endpoint: string; last_ms: number | null }>(
      `WITH names AS (
         SELECT gateway, name, driver, endpoint FROM devices ${by}
         UNION ALL
         SELECT DISTINCT gateway, device, '', '' FROM series ${by ? `${by} AND` : 'WHERE'} device <> ''
           AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.gateway = series.gateway AND d.name = series.device)
       )
       SELECT n.gateway, n.name, n.driver, n.endpoint,
              (SELECT MAX(l.ts) FROM latest l JOIN series s ON s.id = l.series_id WHERE s.gateway = n.gateway AND s.device = n.name) AS last_ms
       FROM names n ORDER BY n.gateway, n.name`, filter.gateway !== undefined ? [filter.gateway] : [])).rows;
    return rows.map((r) => ({ gateway: r.gateway, name: r.name, driver: r.driver, endpoint: r.endpoint, lastReadingMs: r.last_ms }));
  }

  async registerGateways(list: { id: string; tenant: string }[]): Promise<void> {
    await this.tx(async (c) => {
      await c.query('UPDATE gateways SET online = false');
      for (const g of list) await c.query('INSERT INTO gateways (id, tenant) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant', [g.id, g.tenant]);
    });
  }

  async setPresence(gateway: string, p: { online: boolean; atMs: number; epoch?: number; producerId?: string }): Promise<void> {
    await this.pool.query('UPDATE gateways SET online = $1, last_seen_ms = GREATEST(COALESCE(last_seen_ms, 0), $2), epoch = COALESCE($3, epoch), producer_id = COALESCE($4, producer_id) WHERE id = $5',
      [p.online, p.atMs, p.epoch ?? null, p.producerId ?? null, gateway]);
  }

  async setHealth(gateway: string, healthJson: string, atMs: number): Promise<void> {
    await this.pool.query('UPDATE gateways SET health_json = $1, health_ms = $2, last_seen_ms = GREATEST(COALESCE(last_seen_ms, 0), $2) WHERE id = $3', [healthJson, atMs, gateway]);
  }

  async gateways(filter: { tenant?: string }): Promise<GatewayRow[]> {
    const rows = (await this.pool.query<{ id: string; tenant: string; online: boolean; last_seen_ms: number | null; epoch: number | null; producer_id: string | null; readings_stored: number; health_json: string | null; health_ms: number | null; clock_skew_ms: number | null }>(
      `SELECT * FROM gateways ${filter.tenant !== undefined ? 'WHERE tenant = $1' : ''} ORDER BY tenant, id`, filter.tenant !== undefined ? [filter.tenant] : [])).rows;
    return rows.map((r) => ({ id: r.id, tenant: r.tenant, online: r.online, lastSeenMs: r.last_seen_ms, epoch: r.epoch, producerId: r.producer_id, readingsStored: r.readings_stored, health: parseJson(r.health_json), healthMs: r.health_ms, clockSkewMs: r.clock_skew_ms }));
  }

  async quarantine(entry: QuarantineEntry): Promise<void> {
    await this.tx((c) => pgInsertQuarantine(c, entry, this.keepQuarantine));
  }

  quarantineUsage(gateway: string): Promise<QuarantineUsage> {
    return quarantineUsage(pgQuarantineSql(this.pool), gateway);
  }

  async quarantineCount(gateway?: string): Promise<number> {
    const r = await this.pool.query<{ n: number }>(`SELECT COUNT(*)::int8 AS n FROM quarantine ${gateway !== undefined ? 'WHERE gateway = $1' : ''}`, gateway !== undefined ? [gateway] : []);
    return r.rows[0]?.n ?? 0;
  }

  async storedRanges(gateway: string, producerId: string, seqFirst: number, seqLast: number): Promise<{ seqFirst: number; seqLast: number }[]> {
    const r = await this.pool.query<{ seq_first: string; seq_last: string }>(
      'SELECT seq_first, seq_last FROM batches WHERE gateway = $1 AND producer_id = $2 AND seq_first BETWEEN $3 AND $4 AND seq_last >= $5 ORDER BY seq_first',
      [gateway, producerId, Math.max(0, seqFirst - LIMITS.maxReadings + 1), seqLast, seqFirst]);
    return r.rows.map((x) => ({ seqFirst: Number(x.seq_first), seqLast: Number(x.seq_last) }));
  }

  async registryRevision(): Promise<number> {
    return (await this.pool.query<{ revision: number }>('SELECT revision FROM registry_revision')).rows[0]?.revision ?? 0;
  }

  async loadRegistry(): Promise<RegistrySnapshot> {
    return this.tx(async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      const revision = (await c.query<{ revision: number }>('SELECT revision FROM registry_revision')).rows[0]?.revision ?? 0;
      const tenants = (await c.query<{ id: string }>('SELECT id FROM tenants ORDER BY id')).rows.map((t) => t.id);
      const gateways = (await c.query<{ id: string; tenant: string; password_hash: string | null; revoked_ms: number | null }>('SELECT id, tenant, password_hash, revoked_ms FROM gateways ORDER BY id')).rows
        .map((g) => ({ id: g.id, tenant: g.tenant, passwordHash: g.password_hash, revoked: g.revoked_ms !== null }));
      const tokens = (await c.query<{ id: string; tenant: string; scope: string; token_hash: string; revoked_ms: number | null }>('SELECT id, tenant, scope, token_hash, revoked_ms FROM api_tokens ORDER BY id')).rows
        .map((t) => ({ id: t.id, tenant: t.tenant, scope: tokenScope(t.scope), tokenHash: t.token_hash, revoked: t.revoked_ms !== null }));
      return { revision, tenants, gateways, tokens };
    });
  }

  async applyRegistry(ch: RegistryChange): Promise<void> {
    await this.tx(async (c) => {
      await c.query('SELECT revision FROM registry_revision FOR UPDATE'); // one registry change at a time
      const one = async (sql: string, params: unknown[]) => (await c.query(sql, params)).rows[0] as Record<string, unknown> | undefined;
      switch (ch.op) {
        case 'addTenant':
          if (await one('SELECT 1 FROM tenants WHERE id = $1', [ch.id])) throw new RegistryError('tenant_exists', `tenant "${ch.id}" already exists`);
          await c.query('INSERT INTO tenants (id, created_ms) VALUES ($1, $2)', [ch.id, ch.atMs]);
          break;
        case 'addGateway': {
          if (!(await one('SELECT 1 FROM tenants WHERE id = $1', [ch.tenant]))) throw new RegistryError('unknown_tenant', `tenant "${ch.tenant}" does not exist (add it with: jinyun admin tenant add ${ch.tenant})`);
          const old = await one('SELECT tenant, revoked_ms FROM gateways WHERE id = $1', [ch.id]);
          if (old) throw new RegistryError('gateway_exists', `gateway "${ch.id}" already exists${old.revoked_ms !== null ? ' (revoked; gateway ids are never reused)' : ` in tenant "${String(old.tenant)}"`}`);
          await c.query('INSERT INTO gateways (id, tenant, password_hash) VALUES ($1, $2, $3)', [ch.id, ch.tenant, ch.passwordHash]);
          break;
        }
        case 'revokeGateway': {
          const old = await one('SELECT revoked_ms FROM gateways WHERE id = $1', [ch.id]);
          if (!old) throw new RegistryError('unknown_gateway', `gateway "${ch.id}" does not exist`);
          if (old.revoked_ms !== null) throw new RegistryError('already_revoked', `gateway "${ch.id}" is already revoked`);
          await c.query('UPDATE gateways SET revoked_ms = $1, password_hash = NULL WHERE id = $2', [ch.atMs, ch.id]);
          break;
        }
        case 'addToken':
          if (ch.scope === 'tenant' && !(await one('SELECT 1 FROM tenants WHERE id = $1', [ch.tenant]))) throw new RegistryError('unknown_tenant', `tenant "${ch.tenant}" does not exist`);
          await c.query('INSERT INTO api_tokens (id, tenant, scope, token_hash, created_ms) VALUES ($1, $2, $3, $4, $5)', [ch.id, ch.scope === 'platform' ? '' : ch.tenant, ch.scope, ch.tokenHash, ch.atMs]);
          break;
        case 'revokeToken': {
          const old = await one('SELECT revoked_ms FROM api_tokens WHERE id = $1', [ch.id]);
          if (!old) throw new RegistryError('unknown_token', `token "${ch.id}" does not exist`);
          if (old.revoked_ms !== null) throw new RegistryError('already_revoked', `token "${ch.id}" is already revoked`);
          await c.query("UPDATE api_tokens SET revoked_ms = $1, token_hash = '' WHERE id = $2", [ch.atMs, ch.id]);
          break;
        }
        case 'seedGateways':
          for (const g of ch.gateways) {
            await c.query('INSERT INTO tenants (id, created_ms) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [g.tenant, ch.atMs]);
            await c.query(`INSERT INTO gateways (id, tenant, password_hash) VALUES ($1, $2, $3)
              ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, password_hash = CASE WHEN gateways.revoked_ms IS NULL THEN excluded.password_hash ELSE NULL END`, [g.id, g.tenant, g.passwordHash]);
          }
          break;
      }
      await c.query('UPDATE registry_revision SET revision = revision + 1');
    });
  }

  // --- analytics and alarms (issue 7; SQL in pg-queries.ts) ---
  async aggregate(q: AggregateQuery): Promise<{ tag: TagRow; buckets: Bucket[] } | null> {
    const tag = (await this.pool.query<TagSql & { id: number }>(`SELECT s.id, ${TAG_COLS} FROM series s WHERE s.gateway = $1 AND s.key = $2`, [q.gateway, q.key])).rows[0];
    return tag ? { tag: tagRow(tag), buckets: await pgAggregate(this.pool, this.schema, tag.id, q) } : null;
  }

  insertAlarm(a: NewAlarm): Promise<AlarmRecord> {
    return pgInsertAlarm(this.pool, a);
  }

  clearAlarm(id: number, atMs: number, value: number | null): Promise<void> {
    return pgClearAlarm(this.pool, id, atMs, value);
  }

  ackAlarm(id: number, by: string, atMs: number, tenant?: string): Promise<AlarmRecord | null> {
    return pgAckAlarm(this.pool, id, by, atMs, tenant);
  }

  alarms(filter: AlarmFilter): Promise<AlarmRecord[]> {
    return pgAlarms(this.pool, filter);
  }

  async pruneRaw(beforeMs: number): Promise<{ deleted: number }> {
    const { deleted, dropped } = await pgPruneRaw(this.pool, this.schema, beforeMs);
    // A late reading for a dropped month must create its partition again.
    if (dropped.length > 0) this.partitions = new PartitionCache();
    if (dropped.length > 0) this.log.info({ dropped }, 'month partitions dropped by retention');
    return { deleted };
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async probeWrite(atMs: number): Promise<void> {
    await this.pool.query('INSERT INTO health_probe (id, at_ms) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms', [atMs]);
  }

  async close(): Promise<void> {
    await this.pool.end();
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
