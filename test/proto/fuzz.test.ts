import { describe, expect, it } from 'vitest';
import { decodeAck, decodeBatch, decodeCatalog, decodeHealth, decodeStatus, encodeAck, encodeBatch, encodeCatalog, encodeHealth, encodeStatus, fnv1a, pb } from '../../proto/codec.js';
import { peekBatchKey } from '../../cloud-bridge/batch-key.js';
import { DecodeError } from '../../core/errors.js';
import { isBad } from '../../core/quality.js';
import type { SequencedReading } from '../../core/reading.js';
import { prng } from '../helpers/prng.js';
import { mutate } from '../helpers/mutate.js';

/**
 * Fuzz smoke (RELIABILITY.md F1, the CI-sized 10^4 runs): mutated encodings of every message the
 * cloud decodes. Each decode either returns a value that keeps the codec's invariants or throws a
 * DecodeError with a reason code; never another error type, never a hang. The generator is seeded,
 * so a failure names the seed and iteration that reproduce it.
 */


const SEED = Number(process.env.JINYUN_FUZZ_SEED ?? 20261123);
const RUNS = 10_000;

function sampleReadings(): SequencedReading[] {
  const t0 = Date.UTC(2026, 10, 23, 8, 0, 0);
  const out: SequencedReading[] = [];
  let seq = 500;
  for (let i = 0; i < 40; i++) {
    out.push({ seq: seq++, tagId: 1, ts: t0 + i * 250, value: 0.4 + i / 1000, quality: 0 });
    out.push({ seq: seq++, tagId: 2, ts: t0 + i * 250, value: i % 3 === 0, quality: i === 7 ? 0x800a0000 : 0 });
    out.push({ seq: seq++, tagId: 3, ts: t0 + i * 250 + 3, value: BigInt(i) * 1_000_000_007n, quality: 0 });
    out.push({ seq: seq++, tagId: 4, ts: t0 + i * 250 + 5, value: i % 2 ? 'RUN' : 'STOP', quality: 0 });
  }
  return out;
}

/** What every successfully decoded batch must satisfy, however odd its bytes were. */
function checkBatchInvariants(d: ReturnType<typeof decodeBatch>): void {
  expect(d.readings.length).toBe(d.count);
  for (let i = 0; i < d.readings.length; i++) {
    const r = d.readings[i]!;
    expect(r.seq).toBe(d.seqFirst + i);
    expect(Number.isInteger(r.ts)).toBe(true);
    if (isBad(r.quality)) expect(r.value).toBeNull();
  }
}

function expectOnlyDecodeErrors(label: string, inputs: (rand: () => number) => Uint8Array, decode: (b: Uint8Array) => unknown, check?: (v: never) => void): { ok: number; rejected: Map<string, number> } {
  const rand = prng(SEED);
  const rejected = new Map<string, number>();
  let ok = 0;
  for (let i = 0; i < RUNS; i++) {
    const bytes = inputs(rand);
    try {
      const v = decode(bytes);
      check?.(v as never);
      ok++;
    } catch (err) {
      if (!(err instanceof DecodeError)) throw new Error(`${label}: seed ${SEED} run ${i} threw ${(err as Error).name}: ${(err as Error).message} for ${Buffer.from(bytes).toString('hex')}`, { cause: err });
      rejected.set(err.reasonCode, (rejected.get(err.reasonCode) ?? 0) + 1);
    }
  }
  return { ok, rejected };
}

describe('fuzz smoke: mutated wire messages never throw anything but a DecodeError', () => {
  const readings = sampleReadings();
  const batch = { producerId: 'fuzz-producer', epoch: 3, seqFirst: 500, readings, historical: false };

  it.each(['none', 'deflate'] as const)('batch envelopes (%s)', (compression) => {
    const good = encodeBatch(batch, { compression, sentTimeMs: 1 });
    const r = expectOnlyDecodeErrors('batch', (rand) => mutate(good, rand), decodeBatch, checkBatchInvariants);
    // Almost every mutation of the envelope is caught (the body hash covers the body).
    expect(r.ok + [...r.rejected.values()].reduce((a, b) => a + b, 0)).toBe(RUNS);
    expect(r.rejected.get('malformed') ?? 0).toBeGreaterThan(0);
    expect(r.rejected.get('hash_mismatch') ?? 0).toBeGreaterThan(0);
  });

  it('batch bodies re-sealed with a matching hash (reaches the column checks)', () => {
    const good = pb.Batch.decode(encodeBatch(batch));
    const r = expectOnlyDecodeErrors('body', (rand) => {
      const body = mutate(good.body, rand);
      return pb.Batch.encode({ ...good, body, bodyHash: fnv1a(body) }).finish();
    }, decodeBatch, checkBatchInvariants);
    expect(r.rejected.get('invalid_batch') ?? 0).toBeGreaterThan(0);
  });

  it('peekBatchKey never throws and yields safe non-negative integers', () => {
    const good = encodeBatch(batch);
    const rand = prng(SEED);
    for (let i = 0; i < RUNS; i++) {
      const k = peekBatchKey(mutate(good, rand));
      for (const n of [k.epoch, k.seqFirst, k.count]) expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
      expect(k.producerId.length).toBeLessThanOrEqual(64);
    }
  });

  it('acks, catalogs, status and health messages', () => {
    const ack = encodeAck({ producerId: 'p', epoch: 2, seqFirst: 10, count: 5, result: 'rejected', reason: 'x', reasonCode: 'malformed' });
    const catalog = encodeCatalog({ producerId: 'p', version: 4, tags: [{ id: 1, key: 'gas/methane', device: 'gas', unit: '%CH4', dataType: 'float32', description: 'CH4' }], devices: [{ name: 'gas', driver: 'modbus-tcp', endpoint: '127.0.0.1:502' }] });
    const status = encodeStatus({ online: true, producerId: 'p', epoch: 2, timeMs: 1_700_000_000_000, version: '0.1.0' });
    const health = encodeHealth({ timeMs: 1_700_000_000_000, uptimeS: 5, spoolDepth: 12, devices: [{ name: 'gas', state: 1 }] });
    for (const [label, good, decode] of [['ack', ack, decodeAck], ['catalog', catalog, decodeCatalog], ['status', status, decodeStatus], ['health', health, decodeHealth]] as const) {
      const r = expectOnlyDecodeErrors(label, (rand) => mutate(good, rand), decode as (b: Uint8Array) => unknown);
      expect(r.rejected.size).toBeGreaterThan(0);
    }
  });
});
