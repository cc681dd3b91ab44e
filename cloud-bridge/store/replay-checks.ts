import type { SequencedReading } from '../../core/reading.js';
import type { DecodedBatch } from '../../proto/codec.js';
import { Kind, toColumns } from './value-columns.js';

/**
 * The per-batch rules both stores' writers share (which reading is the newest of a series, the
 * gateway's clock skew), and the replay rules they apply inside the write transaction, beyond the
 * exact-key dedupe:
 *
 * - Epoch regression. A producer's epochs and seqs rise together: the spool bumps the epoch at every
 *   start and never hands out a seq below one it handed out before, so every seq of an epoch lies
 *   below every seq of a later epoch (a later epoch may reuse the last seqs of an earlier one after
 *   a power cut lost the tail of the spool; that direction is allowed). A batch of epoch E whose
 *   last seq is at or above the first stored seq of any epoch > E therefore comes from a producer
 *   that went back in time (a restored or copied edge database), whether or not its seqs overlap a
 *   stored range. A backlog batch of an older epoch has seqs below the newer epoch's and passes.
 * - Replay conflict across batch boundaries. A seq already stored (same producer and epoch) that
 *   arrives again in a batch with other boundaries must carry the same reading (tag, source time,
 *   value, quality); otherwise the batch is a replay conflict, exactly as the same key with other
 *   content is.
 */

/** The first stored batch of the next epoch above `epoch`, or undefined; one index seek per call. */
export type NextEpoch = (epoch: number) => Promise<{ epoch: number; seqFirst: number } | undefined>;

/** The reason of an epoch regression, or null. Walks the newer epochs (normally none, or the one now running). */
export async function epochRegression(batch: DecodedBatch, nextEpoch: NextEpoch): Promise<string | null> {
  const last = batch.seqFirst + batch.count - 1;
  for (let e = await nextEpoch(batch.epoch); e; e = await nextEpoch(e.epoch)) {
    if (e.seqFirst <= last) {
      return `seqs ${batch.seqFirst}..${last} of producer ${batch.producerId} come with epoch ${batch.epoch}, but its later epoch ${e.epoch} already began at seq ${e.seqFirst} (restored or copied edge database?)`;
    }
  }
  return null;
}

/** A stored reading's columns. */
export interface StoredCells { kind: number; value: number | null; value_text: string | null; quality: number }

/** True when the stored columns hold exactly the reading's value and quality. */
export function sameCells(r: SequencedReading, s: StoredCells): boolean {
  const [kind, value, text] = toColumns(r.value);
  if (kind !== Number(s.kind) || (r.quality >>> 0) !== Number(s.quality)) return false;
  switch (kind) {
    case Kind.Double: case Kind.Bool: return value === (s.value === null ? null : Number(s.value));
    case Kind.String: case Kind.BigInt: return text === s.value_text;
    default: return true;
  }
}

/**
 * The readings of a batch whose seqs a stored batch of the same epoch already covers (they are
 * compared, not stored again).
 */
export function coveredReadings(batch: DecodedBatch, covered: ReadonlyArray<{ seq_first: number; seq_last: number }>): SequencedReading[] {
  if (covered.length === 0) return [];
  return batch.readings.filter((r) => covered.some((c) => r.seq >= c.seq_first && r.seq <= c.seq_last));
}

/**
 * The reason of a replay conflict among the covered readings, or null. `stored[i]` holds what the
 * store has under (series, source time, epoch, seq) of `overlap[i]` (undefined: nothing there).
 * Nothing there is a conflict (the stored reading has another tag or time), unless retention has
 * pruned raw readings before that time (`prunedBeforeMs`, the store's pruned horizon; 0 = never).
 */
export function overlapConflict(batch: DecodedBatch, overlap: readonly SequencedReading[], stored: ReadonlyArray<StoredCells | undefined>, prunedBeforeMs: number): string | null {
  for (let i = 0; i < overlap.length; i++) {
    const r = overlap[i]!;
    const s = stored[i];
    if (s ? sameCells(r, s) : r.ts < prunedBeforeMs) continue;
    const what = s ? 'another value or quality' : 'another tag or source time';
    return `seq ${r.seq} of producer ${batch.producerId} epoch ${batch.epoch} was stored by an earlier batch with ${what}; this batch (${batch.seqFirst}..${batch.seqFirst + batch.count - 1}) replays it with other content`;
  }
  return null;
}

/** Per series, the reading with the highest seq among `rows` (one batch: one producer and epoch). */
export function newestPerSeries(series: Map<number, number>, rows: readonly SequencedReading[]): Map<number, SequencedReading> {
  const newest = new Map<number, SequencedReading>();
  for (const r of rows) {
    const id = series.get(r.tagId)!;
    const cur = newest.get(id);
    if (!cur || r.seq > cur.seq) newest.set(id, r);
  }
  return newest;
}

/** The edge's clock minus the cloud's at this batch (its send time against the receive time); null when the edge sent no time. */
export function clockSkewMs(batch: DecodedBatch, receivedMs: number): number | null {
  return batch.sentTimeMs > 0 ? batch.sentTimeMs - receivedMs : null;
}
