import type { Pool, PoolClient } from 'pg';
import type { SequencedReading } from '../../core/reading.js';
import { LIMITS, type DecodedBatch } from '../../proto/codec.js';
import type { QuarantineEntry, WriteContext, WriteOutcome } from './reading-store.js';
import { monthPartition } from './pg-schema.js';
import { toColumns } from './value-columns.js';
import { insertBoundedQuarantine, type QuarantineLimits, type QuarantineSql } from './quarantine-bounds.js';
import { clockSkewMs, coveredReadings, epochRegression, newestPerSeries, overlapConflict, type StoredCells } from './replay-checks.js';

const hex = (h: number): string => `0x${(h >>> 0).toString(16).padStart(8, '0')}`;

/** The quarantine bounds' statements on a PostgreSQL connection (`?` numbered as `$n`). */
export const pgQuarantineSql = (c: PoolClient | Pool): QuarantineSql => {
  const numbered = (sql: string): string => { let i = 0; return sql.replace(/\?/g, () => `$${++i}`); };
  return {
    get: async <T>(sql: string, params: unknown[]) => (await c.query(numbered(sql), params)).rows[0] as T | undefined,
    all: async <T>(sql: string, params: unknown[]) => (await c.query(numbered(sql), params)).rows as T[],
    run: (sql, params) => c.query(numbered(sql), params),
  };
};

export function pgInsertQuarantine(c: PoolClient | Pool, e: QuarantineEntry, limits: QuarantineLimits): Promise<void> {
  return insertBoundedQuarantine(pgQuarantineSql(c), e, limits);
}

/** Month partitions of readings known to exist; created on demand (idempotent, serialized by an advisory lock). */
export class PartitionCache {
  private readonly known = new Set<string>();

  async ensure(pool: Pool, schema: string, readings: readonly SequencedReading[]): Promise<void> {
    const need = new Map<string, ReturnType<typeof monthPartition>>();
    for (const r of readings) {
      const p = monthPartition(r.ts);
      if (!this.known.has(p.name)) need.set(p.name, p);
    }
    for (const p of need.values()) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`jinyun-partition:${schema}`]);
        await c.query(`CREATE TABLE IF NOT EXISTS ${schema}.${p.name} PARTITION OF ${schema}.readings FOR VALUES FROM (${p.fromMs}) TO (${p.toMs})`);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
      this.known.add(p.name);
    }
  }
}

/**
 * The whole ingest decision for one batch in ONE transaction (synchronous_commit=on: COMMIT is
 * durable when it returns), as in the SQLite writer. The batch record is inserted before the
 * readings, so two workers holding the same key serialize on its primary key (the loser gets a
 * unique violation, answers retry, and the resend is a duplicate). Readings and latest values go
 * in as one multi-row INSERT ... SELECT FROM unnest(arrays) each: one round trip per batch.
 */
export async function pgWriteBatchTx(c: PoolClient, tagMap: (c: PoolClient) => Promise<Map<number, number>>, gateway: string, batch: DecodedBatch, ctx: WriteContext, keepQuarantine: QuarantineLimits): Promise<WriteOutcome> {
  const last = batch.seqFirst + batch.count - 1;
  const same = (await c.query<{ body_hash: number; count: number }>('SELECT body_hash, count FROM batches WHERE gateway = $1 AND producer_id = $2 AND epoch = $3 AND seq_first = $4',
    [gateway, batch.producerId, batch.epoch, batch.seqFirst])).rows[0];
  if (same) {
    if (same.body_hash === batch.bodyHash && same.count === batch.count) return { result: 'duplicate', stored: 0, skipped: batch.count };
    const reason = `batch ${batch.producerId}/${batch.epoch}/${batch.seqFirst} was stored with body hash ${hex(same.body_hash)} (${same.count} readings); the replay has ${hex(batch.bodyHash)} (${batch.count})`;
    await pgInsertQuarantine(c, { gateway, kind: 'data', receivedMs: ctx.receivedMs, reasonCode: 'replay_conflict', reason, key: batch, bytes: ctx.bytes }, keepQuarantine);
    return { result: 'rejected', reasonCode: 'replay_conflict', reason };
  }
  const lo = Math.max(0, batch.seqFirst - LIMITS.maxReadings + 1);
  const ranges = (await c.query<{ epoch: number; seq_first: number; seq_last: number }>(
    'SELECT epoch, seq_first, seq_last FROM batches WHERE gateway = $1 AND producer_id = $2 AND seq_first BETWEEN $3 AND $4 AND seq_last >= $5',
    [gateway, batch.producerId, lo, last, batch.seqFirst])).rows;
  // Epoch regression (bad-input row 29, replay-checks.ts): a later epoch of the producer already began at or below these seqs.
  const regression = await epochRegression(batch, async (e) => {
    const row = (await c.query<{ epoch: number; seq_first: number }>(
      'SELECT epoch, seq_first FROM batches WHERE gateway = $1 AND producer_id = $2 AND epoch > $3 ORDER BY epoch, seq_first LIMIT 1', [gateway, batch.producerId, e])).rows[0];
    return row && { epoch: row.epoch, seqFirst: row.seq_first };
  });
  if (regression) {
    await pgInsertQuarantine(c, { gateway, kind: 'data', receivedMs: ctx.receivedMs, reasonCode: 'epoch_regression', reason: regression, key: batch, bytes: ctx.bytes }, keepQuarantine);
    return { result: 'rejected', reasonCode: 'epoch_regression', reason: regression };
  }
  const series = await tagMap(c);
  const unknown = [...new Set(batch.readings.filter((r) => !series.has(r.tagId)).map((r) => r.tagId))];
  if (unknown.length > 0) {
    return { result: 'retry', reasonCode: 'unknown_tag', reason: `tag ids ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', ...' : ''} are not in the catalog of producer ${batch.producerId}`, tagIds: unknown };
  }
  const covered = ranges.filter((x) => x.epoch === batch.epoch);
  const overlap = coveredReadings(batch, covered);
  const conflict = overlap.length === 0 ? null : await pgOverlapConflict(c, series, batch, overlap);
  if (conflict) {
    await pgInsertQuarantine(c, { gateway, kind: 'data', receivedMs: ctx.receivedMs, reasonCode: 'replay_conflict', reason: conflict, key: batch, bytes: ctx.bytes }, keepQuarantine);
    return { result: 'rejected', reasonCode: 'replay_conflict', reason: conflict };
  }
  const fresh = overlap.length === 0 ? batch.readings : batch.readings.filter((r) => !covered.some((x) => r.seq >= x.seq_first && r.seq <= x.seq_last));
  await c.query('INSERT INTO batches (gateway, producer_id, epoch, seq_first, seq_last, count, body_hash, stored, historical, received_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)',
    [gateway, batch.producerId, batch.epoch, batch.seqFirst, last, batch.count, batch.bodyHash, fresh.length, batch.historical, ctx.receivedMs]);
  if (fresh.length > 0) {
    await insertReadings(c, series, batch, fresh);
    await upsertLatest(c, series, batch, fresh, ctx.receivedMs);
  }
  await c.query('UPDATE gateways SET last_seen_ms = GREATEST(COALESCE(last_seen_ms, 0), $1), readings_stored = readings_stored + $2, clock_skew_ms = COALESCE($4, clock_skew_ms) WHERE id = $3',
    [ctx.receivedMs, fresh.length, gateway, clockSkewMs(batch, ctx.receivedMs)]);
  ctx.beforeCommit?.();
  const skipped = batch.count - fresh.length;
  return fresh.length > 0 ? { result: 'ok', stored: fresh.length, skipped } : { result: 'duplicate', stored: 0, skipped };
}

/** What the store holds under each covered reading's (series, source time, epoch, seq): one query through the (series_id, ts) index. */
async function pgOverlapConflict(c: PoolClient, series: Map<number, number>, batch: DecodedBatch, overlap: SequencedReading[]): Promise<string | null> {
  const sid = overlap.map((r) => series.get(r.tagId)!);
  const rows = (await c.query<StoredCells & { i: number }>(
    `SELECT u.i, r.kind, r.value, r.value_text, r.quality
     FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS u(s, t, n, i)
     JOIN readings r ON r.series_id = u.s AND r.ts = u.t AND r.epoch = $4 AND r.seq = u.n`,
    [sid, overlap.map((r) => r.ts), overlap.map((r) => r.seq), batch.epoch])).rows;
  const stored: (StoredCells | undefined)[] = new Array(overlap.length);
  for (const row of rows) stored[Number(row.i) - 1] = row;
  const horizon = overlap.length === rows.length ? 0 : (await c.query<{ b: number | null }>('SELECT MAX(before_ms) AS b FROM rollup_pruned')).rows[0]?.b ?? 0;
  return overlapConflict(batch, overlap, stored, horizon);
}

function columns(series: Map<number, number>, rows: readonly SequencedReading[]) {
  const n = rows.length;
  const sid = new Array<number>(n); const ts = new Array<number>(n); const kind = new Array<number>(n);
  const value = new Array<number | null>(n); const text = new Array<string | null>(n); const quality = new Array<number>(n); const seq = new Array<number>(n);
  rows.forEach((r, i) => {
    const [k, v, t] = toColumns(r.value);
    sid[i] = series.get(r.tagId)!; ts[i] = r.ts; kind[i] = k; value[i] = v; text[i] = t; quality[i] = r.quality >>> 0; seq[i] = r.seq;
  });
  return { sid, ts, kind, value, text, quality, seq };
}

async function insertReadings(c: PoolClient, series: Map<number, number>, batch: DecodedBatch, rows: readonly SequencedReading[]): Promise<void> {
  const k = columns(series, rows);
  await c.query(
    `INSERT INTO readings (series_id, ts, kind, value, value_text, quality, epoch, seq, historical)
     SELECT s, t, k, v, x, q, $7, n, $9 FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::float8[], $5::text[], $6::bigint[], $8::bigint[]) AS u(s, t, k, v, x, q, n)`,
    [k.sid, k.ts, k.kind, k.value, k.text, k.quality, batch.epoch, k.seq, batch.historical]);
}

/** latest follows the producer's order (epoch, seq), not the source clock; see the SQLite writer's upsertLatest. */
async function upsertLatest(c: PoolClient, series: Map<number, number>, batch: DecodedBatch, rows: readonly SequencedReading[], receivedMs: number): Promise<void> {
  const newest = newestPerSeries(series, rows);
  const ids = [...newest.keys()].sort((a, b) => a - b); // fixed lock order across workers
  const k = columns(series, ids.map((id) => newest.get(id)!));
  await c.query(
    `INSERT INTO latest (series_id, ts, kind, value, value_text, quality, seq, producer_id, epoch, received_ms)
     SELECT s, t, k, v, x, q, n, $8, $9, $10 FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::float8[], $5::text[], $6::bigint[], $7::bigint[]) AS u(s, t, k, v, x, q, n)
     ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, kind = excluded.kind, value = excluded.value, value_text = excluded.value_text, quality = excluded.quality,
       seq = excluded.seq, producer_id = excluded.producer_id, epoch = excluded.epoch, received_ms = excluded.received_ms
     WHERE excluded.producer_id <> latest.producer_id OR excluded.epoch > latest.epoch OR (excluded.epoch = latest.epoch AND excluded.seq > latest.seq)`,
    [k.sid, k.ts, k.kind, k.value, k.text, k.quality, k.seq, batch.producerId, batch.epoch, receivedMs]);
}
