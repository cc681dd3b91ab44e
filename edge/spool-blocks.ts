import type { Reading } from '../core/reading.js';
import { blockWireBytes, encodeBlockAt, fitsTimeBase, type StoredBlock } from '../proto/codec.js';

export interface BlockLimits {
  maxBlockReadings: number;
  maxBlockBytes: number;
}

/**
 * Encodes readings as blocks numbered from firstSeq: at most maxBlockReadings each, split further
 * when a block's bytes exceed maxBlockBytes or its readings span more time than one block can hold.
 */
export function toBlocks(readings: readonly Reading[], firstSeq: number, limits: BlockLimits): StoredBlock[] {
  const out: StoredBlock[] = [];
  for (let i = 0; i < readings.length; i += limits.maxBlockReadings) {
    const chunk = i === 0 && readings.length <= limits.maxBlockReadings ? readings : readings.slice(i, i + limits.maxBlockReadings);
    encodeInto(chunk, firstSeq + i, limits, out);
  }
  return out;
}

function encodeInto(chunk: readonly Reading[], seqFirst: number, limits: BlockLimits, out: StoredBlock[]): void {
  let block: StoredBlock | null = null;
  try {
    block = encodeBlockAt(chunk, seqFirst);
  } catch (err) {
    if (!(err instanceof RangeError) || chunk.length === 1) throw err;
  }
  if (block && (block.bytes.length <= limits.maxBlockBytes || chunk.length === 1)) {
    out.push(block);
    return;
  }
  const half = Math.ceil(chunk.length / 2);
  encodeInto(chunk.slice(0, half), seqFirst, limits, out);
  encodeInto(chunk.slice(half), seqFirst + half, limits, out);
}

export interface BlockRow {
  seq_first: number;
  seq_last: number;
  epoch: number;
  count: number;
  base_ts: number;
  bytes: Uint8Array;
}

export const toStored = (r: BlockRow): StoredBlock => ({ seqFirst: r.seq_first, count: r.count, baseTs: r.base_ts, bytes: r.bytes });

/**
 * The longest run of blocks from the start of `rows` (in seq order for the head, reverse for the
 * tail) that follow each other, share an epoch and a time base, fit the batch limits, and lie on the
 * same side of `historicalBefore` (source time): a batch is flagged historical as a whole, so live
 * blocks never ride in a batch of backlog and are never flagged historical with it. Returned in seq
 * order.
 */
export function pickRun(rows: BlockRow[], limits: { maxReadings: number; maxBytes: number }, end: 'head' | 'tail', historicalBefore = -Infinity): BlockRow[] {
  const picked: BlockRow[] = [];
  let count = 0;
  let bytes = 64;
  for (const r of rows) {
    const prev = picked[picked.length - 1];
    const anchor = picked[0];
    if (prev && anchor) {
      const follows = end === 'head' ? r.seq_first === prev.seq_last + 1 : r.seq_last === prev.seq_first - 1;
      if (!follows || r.epoch !== anchor.epoch || !fitsTimeBase(anchor.base_ts, r.base_ts)) break;
      if ((r.base_ts < historicalBefore) !== (anchor.base_ts < historicalBefore)) break;
    }
    const wire = blockWireBytes(toStored(r));
    if (prev && (count + r.count > limits.maxReadings || bytes + wire > limits.maxBytes)) break;
    picked.push(r);
    count += r.count;
    bytes += wire;
  }
  if (end === 'tail') picked.reverse();
  // Every block's time must fit the batch base, which is the oldest block's.
  while (picked.length > 1 && picked.some((r) => !fitsTimeBase(picked[0]!.base_ts, r.base_ts))) picked.shift();
  return picked;
}
