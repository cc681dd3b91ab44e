import type { DecodedBatch } from '../proto/codec.js';

export interface TimeWindow {
  /** Latest accepted source time relative to receive time. */
  maxFutureSkewMs: number;
  /** Earliest accepted source time (ms since epoch). */
  minTimestampMs: number;
}

/**
 * Bad-input row 28: a reading timestamp in the future (beyond the skew allowance) or before the
 * sane minimum means the edge clock is wrong. The whole batch is refused (one transaction, never a
 * partial batch) and quarantined with its bytes, so the original is kept for an operator.
 */
export function checkTimestamps(batch: DecodedBatch, receivedMs: number, w: TimeWindow): string | null {
  const latest = receivedMs + w.maxFutureSkewMs;
  for (const r of batch.readings) {
    if (r.ts > latest) return `reading seq ${r.seq} has source time ${new Date(r.ts).toISOString()}, ${Math.round((r.ts - receivedMs) / 1000)} s ahead of the cloud clock`;
    if (r.ts < w.minTimestampMs) return `reading seq ${r.seq} has source time ${r.ts} ms, before ${new Date(w.minTimestampMs).toISOString()}`;
  }
  return null;
}

/** Bad-input row 27: readings of one tag whose source time goes backwards in seq order (stored anyway; seq is the order). */
export function countNonMonotonic(batch: DecodedBatch): number {
  const lastTs = new Map<number, number>();
  let n = 0;
  for (const r of batch.readings) {
    const prev = lastTs.get(r.tagId);
    if (prev !== undefined && r.ts < prev) n++;
    lastTs.set(r.tagId, r.ts);
  }
  return n;
}
