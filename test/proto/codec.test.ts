import { describe, expect, it } from 'vitest';
import { decodeAck, decodeBatch, decodeCatalog, decodeStatus, encodeAck, encodeBatch, encodeBatchFromBlocks, encodeBlock, encodeCatalog, encodeStatus, fnv1a, pb } from '../../proto/codec.js';
import type { BatchData, SequencedReading } from '../../core/reading.js';
import { DecodeError } from '../../core/errors.js';
import { Quality } from '../../core/quality.js';
import { coalMineValues, type CoalMineValues } from '../../simulators/modbus/profiles/coal-mine.js';

function sample(): BatchData {
  const t0 = Date.UTC(2026, 10, 23, 8, 0, 0);
  const readings: SequencedReading[] = [];
  let seq = 1000;
  for (let i = 0; i < 10; i++) {
    readings.push({ seq: seq++, tagId: 1, ts: t0 + i * 1000, value: 0.41 + i / 100, quality: 0 });
    readings.push({ seq: seq++, tagId: 2, ts: t0 + i * 1000, value: i % 2 === 0, quality: 0 });
    readings.push({ seq: seq++, tagId: 3, ts: t0 + i * 1000 + 7, value: i === 4 ? null : 12 + i, quality: i === 4 ? Quality.BadTimeout : i === 5 ? Quality.UncertainLastUsableValue : 0 });
  }
  readings.push({ seq: seq++, tagId: 4, ts: t0 - 5, value: 18446744073709551615n, quality: 0 });
  readings.push({ seq: seq++, tagId: 5, ts: t0, value: -9007199254740993n, quality: 0 });
  readings.push({ seq: seq++, tagId: 6, ts: t0, value: 'RUN', quality: 0 });
  readings.push({ seq: seq++, tagId: 1, ts: t0 + 10_000, value: Number.NaN, quality: 0 });
  readings.push({ seq: seq++, tagId: 1, ts: t0 + 11_000, value: Number.POSITIVE_INFINITY, quality: 0 });
  return { producerId: 'c0ffee00-1111-4222-8333-444455556666', epoch: 7, seqFirst: 1000, readings, historical: true };
}

describe('batch codec', () => {
  it.each(['none', 'deflate'] as const)('round-trips every value kind, quality and timestamp exactly (%s)', (compression) => {
    const batch = sample();
    const decoded = decodeBatch(encodeBatch(batch, { compression, sentTimeMs: 1234 }));
    expect(decoded.producerId).toBe(batch.producerId);
    expect(decoded.epoch).toBe(7);
    expect(decoded.seqFirst).toBe(1000);
    expect(decoded.count).toBe(batch.readings.length);
    expect(decoded.historical).toBe(true);
    expect(decoded.sentTimeMs).toBe(1234);
    expect(decoded.readings).toEqual(batch.readings);
  });

  it('keeps the order by sequence number even when series interleave', () => {
    const decoded = decodeBatch(encodeBatch(sample()));
    expect(decoded.readings.map((r) => r.seq)).toEqual(sample().readings.map((r) => r.seq));
  });

  it('rejects a batch whose readings are not contiguous', () => {
    const b = sample();
    b.readings.splice(3, 1);
    expect(() => encodeBatch(b)).toThrow(/expected 1003/);
  });

  it('stores a Bad reading without a value', () => {
    const d = decodeBatch(encodeBatch(sample()));
    const bad = d.readings.find((r) => r.quality === Quality.BadTimeout)!;
    expect(bad.value).toBeNull();
    expect(bad.seq).toBe(1014);
  });

  it('rejects truncated, garbage and tampered bytes with a reason code', () => {
    const bytes = encodeBatch(sample());
    const cases: [Uint8Array, string][] = [
      [bytes.subarray(0, bytes.length - 3), 'malformed'],
      [new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 'malformed'],
      [new Uint8Array(0), 'invalid_batch'],
    ];
    const tampered = pb.Batch.decode(bytes);
    tampered.count = 3;
    cases.push([pb.Batch.encode(tampered).finish(), 'invalid_batch']);
    const rehashed = pb.Batch.decode(bytes);
    rehashed.body = new Uint8Array([...rehashed.body, 0x08]);
    cases.push([pb.Batch.encode(rehashed).finish(), 'hash_mismatch']);
    for (const [input, code] of cases) {
      let err: unknown;
      try { decodeBatch(input); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).reasonCode).toBe(code);
    }
  });

  it('ignores unknown fields from a newer producer', () => {
    const bytes = encodeBatch(sample());
    // field 99, varint 1: tag = (99 << 3) | 0 = 792 -> varint bytes 0x98 0x06
    const extended = new Uint8Array([...bytes, 0x98, 0x06, 0x01]);
    expect(decodeBatch(extended).count).toBe(sample().readings.length);
  });

  it('computes FNV-1a as published', () => {
    expect(fnv1a(new TextEncoder().encode('a'))).toBe(0xe40c292c);
    expect(fnv1a(new Uint8Array(0))).toBe(0x811c9dc5);
  });
});

describe('small messages', () => {
  it('round-trips ack, catalog and status', () => {
    const ack = { producerId: 'p', epoch: 3, seqFirst: 10, count: 5, result: 'rejected' as const, reason: 'bad', reasonCode: 'malformed' };
    expect(decodeAck(encodeAck(ack))).toEqual(ack);
    const cat = { producerId: 'p', version: 2, tags: [{ id: 1, key: 'fan/current', device: 'fan', unit: 'A', dataType: 'uint16', description: 'main fan current' }], devices: [{ name: 'fan', driver: 'modbus-tcp', endpoint: '127.0.0.1:502 unit 1' }] };
    expect(decodeCatalog(encodeCatalog(cat))).toEqual(cat);
    const st = { online: true, producerId: 'p', epoch: 3, timeMs: 1700000000000, version: '0.1.0' };
    expect(decodeStatus(encodeStatus(st))).toEqual(st);
  });
});

describe('64-bit integer columns', () => {
  it('refuses a tag that mixes negatives with values above 2^63-1 instead of wrapping them', () => {
    const readings = [
      { seq: 1, tagId: 1, ts: 0, value: 18446744073709551615n, quality: 0 },
      { seq: 2, tagId: 1, ts: 0, value: -1n, quality: 0 },
    ];
    expect(() => encodeBatch({ producerId: 'p', epoch: 1, seqFirst: 1, readings, historical: false })).toThrow(/above 2\^63-1/);
  });

  it('keeps a mix of small negative and positive bigints exact', () => {
    const readings = [
      { seq: 1, tagId: 1, ts: 0, value: 5n, quality: 0 },
      { seq: 2, tagId: 1, ts: 0, value: -9223372036854775808n, quality: 0 },
    ];
    expect(decodeBatch(encodeBatch({ producerId: 'p', epoch: 1, seqFirst: 1, readings, historical: false })).readings.map((r) => r.value)).toEqual([5n, -9223372036854775808n]);
  });
});

describe('batches assembled from spooled blocks', () => {
  it.each(['none', 'deflate'] as const)('decode to exactly the readings of the blocks, in order (%s)', (compression) => {
    const all = sample().readings;
    // Three blocks of different sizes, the middle one earlier in time than the first (clock step back).
    const blocks = [encodeBlock(all.slice(0, 7)), encodeBlock(all.slice(7, 8).map((r) => ({ ...r, ts: r.ts - 3_600_000 }))), encodeBlock(all.slice(8))];
    const expected = [...all.slice(0, 7), { ...all[7]!, ts: all[7]!.ts - 3_600_000 }, ...all.slice(8)];
    const d = decodeBatch(encodeBatchFromBlocks({ producerId: 'p', epoch: 4, historical: false }, blocks, { compression }));
    expect([d.seqFirst, d.count, d.epoch]).toEqual([1000, all.length, 4]);
    expect(d.readings).toEqual(expected);
  });

  it('refuses blocks that do not follow each other', () => {
    const all = sample().readings;
    expect(() => encodeBatchFromBlocks({ producerId: 'p', epoch: 1, historical: false }, [encodeBlock(all.slice(0, 3)), encodeBlock(all.slice(4, 6))])).toThrow(/does not follow seq 1002/);
  });

  it('rejects a block whose offset points outside the batch', () => {
    const all = sample().readings;
    const bytes = encodeBatchFromBlocks({ producerId: 'p', epoch: 1, historical: false }, [encodeBlock(all.slice(0, 3))]);
    const env = pb.Batch.decode(bytes);
    const body = pb.BatchBody.decode(env.body);
    body.blocks[0]!.seqOffset = 2;
    env.body = pb.BatchBody.encode(body).finish();
    env.bodyHash = fnv1a(env.body);
    expect(() => decodeBatch(pb.Batch.encode(env).finish())).toThrow(/outside the batch or repeated/);
  });
});

describe('compression of a slowly changing series', () => {
  // The coal-mine simulator's values (pure function of the tick; 10 ticks = 1 s): 14 tags of a gas
  // monitor, the main fan and the pump station, polled every second for 10 minutes, with a few ms of
  // poll jitter on the timestamps. Doubles move by small steps; booleans and the frequency stay flat.
  const KEYS: (keyof CoalMineValues)[] = ['methanePct', 'coPpm', 'temperatureC', 'o2Pct', 'humidityPct', 'pressureKPa', 'windSpeedMs', 'fanCurrentA', 'windingTempC', 'fanPressurePa', 'fanFrequencyHz', 'sumpLevelM', 'fanRunning', 'pump1Running'];
  const POLLS = 600;
  const t0 = Date.UTC(2026, 10, 23, 8, 0, 0);
  const readings: SequencedReading[] = [];
  for (let p = 0; p < POLLS; p++) {
    const v = coalMineValues(p * 10);
    KEYS.forEach((k, i) => readings.push({ seq: 1 + readings.length, tagId: i + 1, ts: t0 + p * 1000 + ((p * 7) % 5), value: v[k], quality: 0 }));
  }
  const batch: BatchData = { producerId: 'c0ffee00-1111-4222-8333-444455556666', epoch: 3, seqFirst: 1, readings, historical: false };
  const compressionOf = (bytes: Uint8Array) => pb.Batch.decode(bytes).compression;

  it('flags deflate in the envelope, round-trips exactly, and costs a fraction of the plain batch', () => {
    const plain = encodeBatch(batch, { compression: 'none' });
    const deflated = encodeBatch(batch, { compression: 'deflate' });
    expect(compressionOf(plain)).toBe(pb.Compression.COMPRESSION_NONE);
    expect(compressionOf(encodeBatch(batch))).toBe(pb.Compression.COMPRESSION_NONE);
    expect(compressionOf(deflated)).toBe(pb.Compression.COMPRESSION_DEFLATE);
    expect(decodeBatch(deflated).readings).toEqual(readings);
    expect(decodeBatch(plain).readings).toEqual(readings);
    expect(deflated.length * 4).toBeLessThan(plain.length);
    // The aim for the wire (timestamps and quality included) is at most 2.5 bytes per reading.
    expect(deflated.length / readings.length).toBeLessThan(2.5);
  });

  it('does the same for a batch assembled from spooled blocks (one block per poll, as the forwarder sends)', () => {
    const blocks = Array.from({ length: POLLS }, (_, p) => encodeBlock(readings.slice(p * KEYS.length, (p + 1) * KEYS.length)));
    const plain = encodeBatchFromBlocks(batch, blocks, { compression: 'none' });
    const deflated = encodeBatchFromBlocks(batch, blocks, { compression: 'deflate' });
    expect(compressionOf(plain)).toBe(pb.Compression.COMPRESSION_NONE);
    expect(compressionOf(deflated)).toBe(pb.Compression.COMPRESSION_DEFLATE);
    expect(decodeBatch(deflated).readings).toEqual(readings);
    expect(deflated.length * 4).toBeLessThan(plain.length);
  });
});
