import type { Reading, SequencedReading } from '../core/reading.js';
import { encodeBlock, type StoredBlock } from '../proto/codec.js';

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
    const chunk = readings.slice(i, i + limits.maxBlockReadings).map((r, j): SequencedReading => ({ ...r, seq: firstSeq + i + j }));
    encodeInto(chunk, limits, out);
  }
  return out;
}

function encodeInto(chunk: SequencedReading[], limits: BlockLimits, out: StoredBlock[]): void {
  let block: StoredBlock | null = null;
  try {
    block = encodeBlock(chunk);
  } catch (err) {
    if (!(err instanceof RangeError) || chunk.length === 1) throw err;
  }
  if (block && (block.bytes.length <= limits.maxBlockBytes || chunk.length === 1)) {
    out.push(block);
    return;
  }
  const half = Math.ceil(chunk.length / 2);
  encodeInto(chunk.slice(0, half), limits, out);
  encodeInto(chunk.slice(half), limits, out);
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
