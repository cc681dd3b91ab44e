import type { DecodedBatch } from '../proto/codec.js';

export interface TimeWindow {
  /** Latest accepted source time relative to receive time. */
  maxFutureSkewMs: number;
  /** Earliest accepted source time (ms since epoch). */
  minTimestampMs: number;
}

/** The most an edge's clock may run ahead of the cloud's for its readings to be taken at its word... */
export const MAX_EDGE_CLOCK_AHEAD_MS = 86_400_000;
/** ...and how long a gateway's clock counts as ahead after a batch said so (readings read before its clock was set right arrive after). */
export const EDGE_AHEAD_MEMORY_MS = 600_000;

/**
 * Bad-input row 28: a reading timestamp in the future (beyond the skew allowance) or before the
 * sane minimum means the edge clock is wrong. The whole batch is refused (one transaction, never a
 * partial batch) and quarantined with its bytes, so the original is kept for an operator.
 */
export function checkTimestamps(batch: DecodedBatch, receivedMs: number, w: TimeWindow, edgeAheadMs = 0): string | null {
  // An edge whose clock runs (or ran, a moment ago: edgeAheadMs) ahead, up to a day, stamps its readings ahead too: they are
  // real readings, kept with the times it gave and flagged by the clock_skew alarm. A reading ahead of the edge's own clock is garbage.
  const edgeNow = receivedMs + Math.min(Math.max(0, edgeAheadMs), MAX_EDGE_CLOCK_AHEAD_MS);
  const latest = edgeNow + w.maxFutureSkewMs;
  for (const r of batch.readings) {
    if (r.ts > latest) return `reading seq ${r.seq} has source time ${new Date(r.ts).toISOString()}, ${Math.round((r.ts - receivedMs) / 1000)} s ahead of the cloud clock${edgeNow > receivedMs ? ` and ${Math.round((r.ts - edgeNow) / 1000)} s ahead of the edge's` : ''}`;
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

/**
 * How far ahead of the cloud's each gateway's clock is, or was within EDGE_AHEAD_MEMORY_MS: the
 * batch after its clock was set back still carries readings stamped by the clock that ran ahead.
 */
export class EdgeClocksAhead {
  private readonly seen = new Map<string, { aheadMs: number; atMs: number }>();

  aheadMs(gateway: string, batch: DecodedBatch, receivedMs: number): number {
    const now = batch.sentTimeMs > 0 ? batch.sentTimeMs - receivedMs : 0;
    const seen = this.seen.get(gateway);
    const recent = seen && receivedMs - seen.atMs <= EDGE_AHEAD_MEMORY_MS ? seen.aheadMs : 0;
    if (now > 0 && now >= recent) {
      if (this.seen.size >= 100_000) this.seen.clear();
      this.seen.set(gateway, { aheadMs: now, atMs: receivedMs });
    }
    return Math.max(now, recent);
  }
}
