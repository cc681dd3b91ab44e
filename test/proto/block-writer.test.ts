import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeBatch, encodeBatchFromBlocks, encodeBlock, encodeBlockAt, pb } from '../../proto/codec.js';
import type { Reading, SequencedReading, Value } from '../../core/reading.js';
import { Quality } from '../../core/quality.js';

const T0 = Date.UTC(2026, 11, 8, 6, 0, 0);
const QUALITIES = [0, 0, 0, Quality.Uncertain, Quality.UncertainLastUsableValue, Quality.Bad, Quality.BadTimeout];

/** One kind of value per tag (the codec refuses a tag that mixes kinds in one block), every edge case of each kind. */
const valueOf: Record<string, fc.Arbitrary<Value>> = {
  double: fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 0, Number.MIN_VALUE, 2 ** 53 + 2), fc.integer({ min: 0, max: 65535 })),
  bool: fc.boolean(),
  string: fc.string({ maxLength: 40, unit: 'grapheme' }),
  int64: fc.bigInt({ min: -(2n ** 63n), max: -1n }),
  uint64: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
};

const blockReadings = fc
  .record({
    kinds: fc.array(fc.constantFrom('double', 'double', 'bool', 'string', 'int64', 'uint64'), { minLength: 1, maxLength: 6 }),
    picks: fc.array(fc.record({ tag: fc.nat(), dt: fc.integer({ min: -86_400_000, max: 86_400_000 }), q: fc.constantFrom(...QUALITIES), v: fc.nat() }), { minLength: 1, maxLength: 60 }),
    values: fc.array(fc.tuple(valueOf.double!, valueOf.bool!, valueOf.string!, valueOf.int64!, valueOf.uint64!), { minLength: 1, maxLength: 8 }),
    firstTag: fc.constantFrom(0, 1, 200, 70_000),
  })
  .map(({ kinds, picks, values, firstTag }): Reading[] => picks.map((p) => {
    const tag = p.tag % kinds.length;
    const kind = kinds[tag]!;
    const vals = values[p.v % values.length]!;
    const value = ({ double: vals[0], bool: vals[1], string: vals[2], int64: vals[3], uint64: vals[4] } as Record<string, Value>)[kind]!;
    // int64 columns take uint64 values only while every value fits int64: keep each tag to one signedness.
    return { tagId: firstTag + tag, ts: T0 + p.dt, quality: p.q, value: p.q >>> 30 >= 2 ? null : value };
  }));

describe('block writer (the spool encodes every reading here)', () => {
  it('writes canonical protobuf: decoding and re-encoding with protobufjs gives the same bytes', () => {
    fc.assert(fc.property(blockReadings, fc.nat({ max: 2 ** 40 }), (readings, seqFirst) => {
      const block = encodeBlockAt(readings, seqFirst);
      const again = pb.Block.encode(pb.Block.decode(block.bytes)).finish();
      expect(Buffer.from(block.bytes).equals(Buffer.from(again))).toBe(true);
    }), { numRuns: 500 });
  });

  it('round-trips every reading exactly: value, kind, quality, timestamp, seq and order', () => {
    fc.assert(fc.property(blockReadings, fc.nat({ max: 2 ** 40 }), (readings, seqFirst) => {
      const block = encodeBlockAt(readings, seqFirst);
      const d = decodeBatch(encodeBatchFromBlocks({ producerId: 'p', epoch: 1, historical: false }, [block]));
      expect(d.readings).toEqual(readings.map((r, i): SequencedReading => ({ ...r, seq: seqFirst + i })));
    }), { numRuns: 500 });
  });

  it('gives the same bytes whether readings carry their seq or the block is placed at seqFirst', () => {
    const readings: SequencedReading[] = [
      { seq: 41, tagId: 3, ts: T0, value: 1.5, quality: 0 },
      { seq: 42, tagId: 4, ts: T0 + 1, value: true, quality: 0 },
      { seq: 43, tagId: 3, ts: T0 + 2, value: null, quality: Quality.BadTimeout },
    ];
    expect(Buffer.from(encodeBlock(readings).bytes).equals(Buffer.from(encodeBlockAt(readings, 41).bytes))).toBe(true);
    expect(() => encodeBlock([readings[0]!, readings[2]!])).toThrow('reading 1 has seq 43, expected 42');
  });

  it('refuses a time step that sint32 cannot carry, and a tag that mixes kinds (the spool splits the block)', () => {
    const far = 2 ** 31 - 10;
    // Each reading is within the block's time base, but the step between two of one tag is not.
    expect(() => encodeBlockAt([{ tagId: 1, ts: T0, value: 1, quality: 0 }, { tagId: 1, ts: T0 + far, value: 1, quality: 0 }, { tagId: 1, ts: T0 - far, value: 1, quality: 0 }], 1))
      .toThrow(RangeError);
    expect(() => encodeBlockAt([{ tagId: 1, ts: T0, value: 1, quality: 0 }, { tagId: 1, ts: T0, value: 'x', quality: 0 }], 1)).toThrow('tag 1 mixes value types in one batch');
  });
});
