import { describe, expect, it } from 'vitest';
import type { DecodedBatch } from '../../proto/codec.js';
import { coveredReadings, epochRegression, overlapConflict, sameCells } from '../../cloud-bridge/store/replay-checks.js';
import { Kind } from '../../cloud-bridge/store/value-columns.js';

const batch = (epoch: number, seqFirst: number, count: number): DecodedBatch => ({
  producerId: 'p', epoch, seqFirst, count, bodyHash: 0, sentTimeMs: 0, historical: false,
  readings: Array.from({ length: count }, (_, i) => ({ tagId: 1, ts: 1000 + i, value: i, quality: 0, seq: seqFirst + i })),
});

describe('replay checks (pure)', () => {
  it('sameCells compares every value kind exactly, and the quality', () => {
    const r = (value: number | boolean | string | bigint | null, quality = 0) => ({ tagId: 1, ts: 1, seq: 1, value, quality });
    expect(sameCells(r(1.5), { kind: Kind.Double, value: 1.5, value_text: null, quality: 0 })).toBe(true);
    expect(sameCells(r(1.5), { kind: Kind.Double, value: 1.5000000000000002, value_text: null, quality: 0 })).toBe(false);
    expect(sameCells(r(-0), { kind: Kind.Double, value: 0, value_text: null, quality: 0 })).toBe(true);
    expect(sameCells(r(Number.NaN), { kind: Kind.NaN, value: null, value_text: null, quality: 0 })).toBe(true);
    expect(sameCells(r(true), { kind: Kind.Bool, value: 1, value_text: null, quality: 0 })).toBe(true);
    expect(sameCells(r(true), { kind: Kind.Bool, value: 0, value_text: null, quality: 0 })).toBe(false);
    expect(sameCells(r('a'), { kind: Kind.String, value: null, value_text: 'a', quality: 0 })).toBe(true);
    expect(sameCells(r('a'), { kind: Kind.String, value: null, value_text: 'b', quality: 0 })).toBe(false);
    expect(sameCells(r(2n ** 63n - 1n), { kind: Kind.BigInt, value: 9.2e18, value_text: '9223372036854775807', quality: 0 })).toBe(true);
    expect(sameCells(r(2n ** 63n - 2n), { kind: Kind.BigInt, value: 9.2e18, value_text: '9223372036854775807', quality: 0 })).toBe(false);
    expect(sameCells(r(1), { kind: Kind.Bool, value: 1, value_text: null, quality: 0 })).toBe(false);
    expect(sameCells(r(null, 0x80310000), { kind: Kind.None, value: null, value_text: null, quality: 0x80310000 })).toBe(true);
    expect(sameCells(r(null, 0x80310000), { kind: Kind.None, value: null, value_text: null, quality: 0x80320000 })).toBe(false);
  });

  it('a missing stored reading is a conflict unless retention pruned raw readings before its time', () => {
    const b = batch(1, 10, 3);
    const overlap = coveredReadings(b, [{ seq_first: 5, seq_last: 11 }]);
    expect(overlap.map((r) => r.seq)).toEqual([10, 11]);
    const cells = (v: number) => ({ kind: Kind.Double, value: v, value_text: null, quality: 0 });
    expect(overlapConflict(b, overlap, [cells(0), cells(1)], 0)).toBeNull();
    expect(overlapConflict(b, overlap, [cells(0), cells(7)], 0)).toBe('seq 11 of producer p epoch 1 was stored by an earlier batch with another value or quality; this batch (10..12) replays it with other content');
    expect(overlapConflict(b, overlap, [cells(0), undefined], 0)).toContain('seq 11 of producer p epoch 1 was stored by an earlier batch with another tag or source time');
    expect(overlapConflict(b, overlap, [cells(0), undefined], 1001)).toContain('seq 11');
    expect(overlapConflict(b, overlap, [cells(0), undefined], 1002)).toBeNull();
  });

  it('epoch regression: any later epoch that began at or below the batch\'s last seq; the walk visits each later epoch once', async () => {
    const epochs = [{ epoch: 3, seqFirst: 100 }, { epoch: 7, seqFirst: 200 }, { epoch: 9, seqFirst: 150 }];
    const visited: number[] = [];
    const next = async (e: number) => {
      visited.push(e);
      return epochs.find((x) => x.epoch > e);
    };
    expect(await epochRegression(batch(2, 90, 10), next)).toBeNull(); // backlog of epoch 2 below epoch 3's seqs
    expect(visited).toEqual([2, 3, 7, 9]);
    expect(await epochRegression(batch(2, 95, 10), next)).toBe('seqs 95..104 of producer p come with epoch 2, but its later epoch 3 already began at seq 100 (restored or copied edge database?)');
    expect(await epochRegression(batch(5, 160, 1), next)).toContain('its later epoch 9 already began at seq 150');
    expect(await epochRegression(batch(9, 150, 1), next)).toBeNull();
  });
});
