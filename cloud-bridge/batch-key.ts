import { pb } from '../proto/codec.js';

export interface BatchKey {
  producerId: string;
  epoch: number;
  seqFirst: number;
  count: number;
}

const NO_KEY: BatchKey = { producerId: '', epoch: 0, seqFirst: 0, count: 0 };

function num(v: unknown): number {
  const n = typeof v === 'number' ? v : v !== null && typeof v === 'object' && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : 0;
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/**
 * Best effort: the key fields of a batch that failed to decode, so the rejection Ack can name the
 * batch and the edge stops resending it. An envelope that does not even parse yields an empty key.
 */
export function peekBatchKey(bytes: Uint8Array): BatchKey {
  try {
    const env = pb.Batch.decode(bytes);
    return { producerId: env.producerId.slice(0, 64), epoch: num(env.epoch), seqFirst: num(env.seqFirst), count: num(env.count) };
  } catch {
    return NO_KEY;
  }
}
