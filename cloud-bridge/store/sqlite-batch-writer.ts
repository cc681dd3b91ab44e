import type { Sqlite, SqlParam } from '../../core/sqlite.js';
import { insertBoundedQuarantine, type QuarantineLimits, type QuarantineSql } from './quarantine-bounds.js';
import type { SequencedReading } from '../../core/reading.js';
import { LIMITS, type DecodedBatch } from '../../proto/codec.js';
import type { QuarantineEntry, WriteContext, WriteOutcome } from './reading-store.js';
import { Kind, exactParts, toColumns } from './value-columns.js';
import { clockSkewMs, coveredReadings, epochRegression, newestPerSeries, overlapConflict, type StoredCells } from './replay-checks.js';

/** (gateway, producer) -> (tag id -> series id), loaded lazily, dropped when the gateway's catalog changes. */
export class TagMapCache {
  private readonly maps = new Map<string, Map<number, number>>();

  async get(db: Sqlite, gateway: string, producerId: string): Promise<Map<number, number>> {
    const k = `${gateway}\u0000${producerId}`;
    let m = this.maps.get(k);
    if (!m) {
      const rows = await db.all<{ tag_id: number; series_id: number }>('SELECT tag_id, series_id FROM tag_map WHERE gateway = ? AND producer_id = ?', [gateway, producerId]);
      m = new Map(rows.map((r) => [r.tag_id, r.series_id]));
      if (this.maps.size >= 10_000) this.maps.clear();
      this.maps.set(k, m);
    }
    return m;
  }

  invalidate(gateway: string): void {
    for (const k of this.maps.keys()) if (k.startsWith(`${gateway}\u0000`)) this.maps.delete(k);
  }
}

/** The quarantine bounds' statements on a SQLite connection. */
export const sqliteQuarantineSql = (db: Sqlite): QuarantineSql => ({
  get: (sql, params) => db.get(sql, params as SqlParam[]),
  all: (sql, params) => db.all(sql, params as SqlParam[]),
  run: (sql, params) => db.run(sql, params as SqlParam[]),
});

/** Sets bytes aside with their reason, within the quarantine's bounds (quarantine-bounds.ts). */
export function insertQuarantine(db: Sqlite, e: QuarantineEntry, limits: QuarantineLimits): Promise<void> {
  return insertBoundedQuarantine(sqliteQuarantineSql(db), e, limits);
}

export interface WriterLimits {
  /** Readings per multi-row INSERT. */
  chunkRows: number;
  quarantine: QuarantineLimits;
}

const hex = (h: number): string => `0x${(h >>> 0).toString(16).padStart(8, '0')}`;

/** One writeBatch call waiting for the next group commit. */
export interface PendingWrite {
  gateway: string;
  batch: DecodedBatch;
  ctx: WriteContext;
  resolve(o: WriteOutcome): void;
  reject(err: unknown): void;
}

/**
 * Group commit: the batches that queued up while the previous transaction ran are written in ONE
 * transaction (BEGIN IMMEDIATE ... COMMIT; with synchronous=FULL the COMMIT is durable when it
 * returns), and each caller hears its outcome only after that COMMIT. Any error (a database error,
 * possibly after SQLite rolled the transaction back by itself) rolls the whole group back and
 * rejects every batch in it: nothing is half-written, and the edges resend.
 */
export async function writeGroupTx(db: Sqlite, tags: TagMapCache, group: readonly PendingWrite[], limits: WriterLimits): Promise<void> {
  let outcomes: WriteOutcome[];
  try {
    outcomes = await db.transaction(async () => {
      const out: WriteOutcome[] = [];
      for (const w of group) out.push(await writeBatchBody(db, tags, w.gateway, w.batch, w.ctx, limits));
      return out;
    });
  } catch (err) {
    for (const w of group) w.reject(err);
    return;
  }
  group.forEach((w, i) => w.resolve(outcomes[i]!));
}

interface StoredRange { epoch: number; seq_first: number; seq_last: number; count: number; body_hash: number }

/**
 * The whole ingest decision for one batch, inside the caller's transaction: exact-key dedupe,
 * replay-conflict check, catalog check, epoch regression, overlap filtering, inserts, latest values
 * and the batch range record. One bounded index scan finds every stored range of the producer (any
 * epoch) that overlaps the batch: a stored range overlapping [first, last] starts within
 * [first - maxReadings + 1, last].
 */
async function writeBatchBody(db: Sqlite, tags: TagMapCache, gateway: string, batch: DecodedBatch, ctx: WriteContext, limits: WriterLimits): Promise<WriteOutcome> {
  const last = batch.seqFirst + batch.count - 1;
  const ranges = await db.all<StoredRange>(
    'SELECT epoch, seq_first, seq_last, count, body_hash FROM batches WHERE gateway = ? AND producer_id = ? AND seq_first BETWEEN ? AND ? AND seq_last >= ?',
    [gateway, batch.producerId, Math.max(0, batch.seqFirst - LIMITS.maxReadings + 1), last, batch.seqFirst]);
  const same = ranges.find((x) => x.epoch === batch.epoch && x.seq_first === batch.seqFirst);
  if (same) {
    if (same.body_hash === batch.bodyHash && same.count === batch.count) return { result: 'duplicate', stored: 0, skipped: batch.count };
    const reason = `batch ${batch.producerId}/${batch.epoch}/${batch.seqFirst} was stored with body hash ${hex(same.body_hash)} (${same.count} readings); the replay has ${hex(batch.bodyHash)} (${batch.count})`;
    await insertQuarantine(db, { gateway, kind: 'data', receivedMs: ctx.receivedMs, reasonCode: 'replay_conflict', reason, key: batch, bytes: ctx.bytes }, limits.quarantine);
    return { result: 'rejected', reasonCode: 'replay_conflict', reason };
  }
  const series = await tags.get(db, gateway, batch.producerId);
  const unknown = [...new Set(batch.readings.filter((r) => !series.has(r.tagId)).map((r) => r.tagId))];
  if (unknown.length > 0) {
    return { result: 'retry', reasonCode: 'unknown_tag', reason: `tag ids ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', ...' : ''} are not in the catalog of producer ${batch.producerId}`, tagIds: unknown };
  }
  // Epoch regression (bad-input row 29, replay-checks.ts): a later epoch of the producer already began at or below these seqs.
  const regression = await epochRegression(batch, async (e) => {
    const row = await db.get<{ epoch: number; seq_first: number }>(
      'SELECT epoch, seq_first FROM batches WHERE gateway = ? AND producer_id = ? AND epoch > ? ORDER BY epoch, seq_first LIMIT 1', [gateway, batch.producerId, e]);
    return row && { epoch: row.epoch, seqFirst: row.seq_first };
  });
  if (regression) {
    await insertQuarantine(db, { gateway, kind: 'data', receivedMs: ctx.receivedMs, reasonCode: 'epoch_regression', reason: regression, key: batch, bytes: ctx.bytes }, limits.quarantine);
    return { result: 'rejected', reasonCode: 'epoch_regression', reason: regression };
  }
  const covered = ranges.filter((x) => x.epoch === batch.epoch);
  const overlap = coveredReadings(batch, covered);
  const conflict = overlap.length === 0 ? null : await sqliteOverlapConflict(db, series, batch, overlap);
  if (conflict) {
    await insertQuarantine(db, { gateway, kind: 'data', receivedMs: ctx.receivedMs, reasonCode: 'replay_conflict', reason: conflict, key: batch, bytes: ctx.bytes }, limits.quarantine);
    return { result: 'rejected', reasonCode: 'replay_conflict', reason: conflict };
  }
  const fresh = overlap.length === 0 ? batch.readings : batch.readings.filter((r) => !covered.some((c) => r.seq >= c.seq_first && r.seq <= c.seq_last));
  for (let i = 0; i < fresh.length; i += limits.chunkRows) await insertReadings(db, series, batch, fresh.slice(i, i + limits.chunkRows));
  await upsertLatest(db, series, batch, fresh, ctx.receivedMs, limits.chunkRows);
  await db.run(
    'INSERT INTO batches (gateway, producer_id, epoch, seq_first, seq_last, count, body_hash, stored, historical, received_ms) VALUES (?,?,?,?,?,?,?,?,?,?)',
    [gateway, batch.producerId, batch.epoch, batch.seqFirst, last, batch.count, batch.bodyHash, fresh.length, batch.historical ? 1 : 0, ctx.receivedMs],
  );
  await db.run('UPDATE gateways SET last_seen_ms = MAX(COALESCE(last_seen_ms, 0), ?), readings_stored = readings_stored + ?, clock_skew_ms = COALESCE(?, clock_skew_ms) WHERE id = ?',
    [ctx.receivedMs, fresh.length, clockSkewMs(batch, ctx.receivedMs), gateway]);
  ctx.beforeCommit?.();
  const skipped = batch.count - fresh.length;
  return fresh.length > 0 ? { result: 'ok', stored: fresh.length, skipped } : { result: 'duplicate', stored: 0, skipped };
}

/** What the store holds under each covered reading's (series, source time, epoch, seq): one query through the (series_id, ts) index. */
async function sqliteOverlapConflict(db: Sqlite, series: Map<number, number>, batch: DecodedBatch, overlap: SequencedReading[]): Promise<string | null> {
  const keys = overlap.map((r) => [series.get(r.tagId)!, r.ts, r.seq]);
  const rows = await db.all<StoredCells & { i: number }>(
    `SELECT j.key AS i, r.kind, r.value, r.value_text, r.quality FROM jsonb_each(?1) j
     JOIN readings r ON r.series_id = j.value->>0 AND r.ts = j.value->>1 AND r.epoch = ?2 AND r.seq = j.value->>2`, [JSON.stringify(keys), batch.epoch]);
  const stored: (StoredCells | undefined)[] = new Array(overlap.length);
  for (const row of rows) stored[row.i] = row;
  const horizon = overlap.length === rows.length ? 0 : (await db.get<{ b: number | null }>('SELECT MAX(pruned_before) AS b FROM rollup_state'))?.b ?? 0;
  return overlapConflict(batch, overlap, stored, horizon);
}

/**
 * Readings go into the hot tier (hot-tier.ts) as ONE bound parameter: a JSON array of rows expanded by jsonb_each inside SQLite (binary JSON: each element is parsed once).
 * Binding thousands of separate parameters costs node-sqlite3 most of the ingest's main-thread CPU
 * (each becomes a native value, on the main thread, while the write transaction waits); one string
 * does not. Doubles travel as exact (mantissa, exponent) integer pairs (see exactParts), because
 * SQLite's JSON number parser can be 1 ulp off.
 */
const INSERT_READINGS = `INSERT INTO readings_hot (series_id, ts, kind, value, value_text, quality, epoch, seq, historical)
  SELECT value->>0, value->>1, value->>2, value->>3 * pow(2.0, value->>4), value->>5, value->>6, ?2, value->>7, ?3 FROM jsonb_each(?1)`;

/** The common case in a shorter row: good doubles with consecutive seqs ([series, ts, m, e]; kind, text and quality constant, seq = first + index). */
const INSERT_PLAIN_READINGS = `INSERT INTO readings_hot (series_id, ts, kind, value, value_text, quality, epoch, seq, historical)
  SELECT value->>0, value->>1, ${Kind.Double}, value->>2 * pow(2.0, value->>3), NULL, 0, ?2, ?4 + key, ?3 FROM jsonb_each(?1)`;

async function insertReadings(db: Sqlite, series: Map<number, number>, batch: DecodedBatch, rows: SequencedReading[]): Promise<void> {
  if (rows.length === 0) return;
  const first = rows[0]!.seq;
  const plain = rows.every((r, i) => typeof r.value === 'number' && !Number.isNaN(r.value) && r.quality === 0 && r.seq === first + i);
  const out = new Array<unknown>(rows.length);
  rows.forEach((r, i) => {
    const [kind, value, text] = toColumns(r.value);
    const [m, e] = exactParts(value);
    out[i] = plain ? [series.get(r.tagId)!, r.ts, m, e] : [series.get(r.tagId)!, r.ts, kind, m, e, text, r.quality >>> 0, r.seq];
  });
  const historical = batch.historical ? 1 : 0;
  if (plain) await db.run(INSERT_PLAIN_READINGS, [JSON.stringify(out), batch.epoch, historical, first]);
  else await db.run(INSERT_READINGS, [JSON.stringify(out), batch.epoch, historical]);
}

/**
 * latest keeps, per series, the reading that came last in the producer's order (epoch, then seq),
 * whatever its source time: an edge whose clock jumps back an hour must not freeze "latest" for an
 * hour. A backlog batch (lower seqs) never replaces a newer live value; another producer of the
 * gateway (a replaced spool) takes over at its first batch. The receive time is kept beside it.
 */
async function upsertLatest(db: Sqlite, series: Map<number, number>, batch: DecodedBatch, rows: SequencedReading[], receivedMs: number, chunkRows: number): Promise<void> {
  const entries = [...newestPerSeries(series, rows).entries()];
  for (let i = 0; i < entries.length; i += chunkRows) {
    const part = entries.slice(i, i + chunkRows).map(([id, r]) => {
      const [kind, value, text] = toColumns(r.value);
      const [m, e] = exactParts(value);
      return [id, r.ts, kind, m, e, text, r.quality >>> 0, r.seq];
    });
    await db.run(UPSERT_LATEST, [JSON.stringify(part), batch.producerId, batch.epoch, receivedMs]);
  }
}

const UPSERT_LATEST = `INSERT INTO latest (series_id, ts, kind, value, value_text, quality, seq, producer_id, epoch, received_ms)
  SELECT value->>0, value->>1, value->>2, value->>3 * pow(2.0, value->>4), value->>5, value->>6, value->>7, ?2, ?3, ?4 FROM jsonb_each(?1) WHERE true
  ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, kind = excluded.kind, value = excluded.value, value_text = excluded.value_text, quality = excluded.quality,
    seq = excluded.seq, producer_id = excluded.producer_id, epoch = excluded.epoch, received_ms = excluded.received_ms
  WHERE excluded.producer_id <> latest.producer_id OR excluded.epoch > latest.epoch OR (excluded.epoch = latest.epoch AND excluded.seq > latest.seq)`;
