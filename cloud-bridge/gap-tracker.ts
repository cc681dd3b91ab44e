/** A seq range of a producer not received yet. */
export interface Gap {
  gateway: string;
  producerId: string;
  /** Inclusive. */
  seqFirst: number;
  /** Inclusive. */
  seqLast: number;
  sinceMs: number;
}

interface Producer {
  /** Next seq after the highest one seen. */
  next: number;
  gaps: Gap[];
}

const MAX_GAPS_PER_PRODUCER = 1000;
const MAX_PRODUCERS = 100_000;

/**
 * Per-producer contiguity of the seqs an ingest has seen (bad-input row 26): batches may arrive out
 * of order, and a hole is opened when a batch starts past the highest seq seen; later batches fill
 * it. `expired()` hands out (once) the holes still open after the reorder timeout: a GAP event.
 * The first batch of a producer after a start is the baseline (state is in memory; the dedupe in
 * the store does not depend on it). An edge numbers seqs across epochs, so the epoch is not part of
 * the key.
 */
export class GapTracker {
  private readonly producers = new Map<string, Producer>();

  constructor(private readonly timeoutMs: number) {}

  observe(gateway: string, producerId: string, seqFirst: number, count: number, nowMs: number): void {
    const key = `${gateway}\u0000${producerId}`;
    const last = seqFirst + count - 1;
    let p = this.producers.get(key);
    if (!p) {
      if (this.producers.size >= MAX_PRODUCERS) this.producers.clear();
      this.producers.set(key, { next: last + 1, gaps: [] });
      return;
    }
    if (seqFirst > p.next) {
      p.gaps.push({ gateway, producerId, seqFirst: p.next, seqLast: seqFirst - 1, sinceMs: nowMs });
      if (p.gaps.length > MAX_GAPS_PER_PRODUCER) p.gaps.shift();
    }
    if (seqFirst < p.next && p.gaps.length > 0) p.gaps = p.gaps.flatMap((g) => cut(g, seqFirst, last));
    p.next = Math.max(p.next, last + 1);
  }

  /** Gaps open for longer than the timeout; each is returned once and then forgotten. */
  expired(nowMs: number): Gap[] {
    const out: Gap[] = [];
    for (const p of this.producers.values()) {
      if (p.gaps.length === 0) continue;
      const keep: Gap[] = [];
      for (const g of p.gaps) (nowMs - g.sinceMs >= this.timeoutMs ? out : keep).push(g);
      p.gaps = keep;
    }
    return out;
  }

  /** Gaps open now (for the API and tests). */
  open(): Gap[] {
    return [...this.producers.values()].flatMap((p) => p.gaps);
  }
}

/** What remains of gap g after [first, last] arrived. */
function cut(g: Gap, first: number, last: number): Gap[] {
  if (last < g.seqFirst || first > g.seqLast) return [g];
  const out: Gap[] = [];
  if (first > g.seqFirst) out.push({ ...g, seqLast: first - 1 });
  if (last < g.seqLast) out.push({ ...g, seqFirst: last + 1 });
  return out;
}

/** What remains of gap g once the stored ranges (sorted or not) are taken out. */
export function uncoveredParts(g: Gap, stored: readonly { seqFirst: number; seqLast: number }[]): Gap[] {
  let parts: Gap[] = [g];
  for (const r of stored) parts = parts.flatMap((p) => cut(p, r.seqFirst, r.seqLast));
  return parts;
}
