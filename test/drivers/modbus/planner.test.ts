import { describe, expect, it } from 'vitest';
import { planReads, splitRequest, type PlannableTag, type ReadRequest } from '../../../drivers/modbus/planner.js';

type T = PlannableTag & { name: string };
const h = (name: string, address: number, type: T['type'] = 'uint16'): T => ({ name, table: 'holding', address, type });
const limits = { maxBlockRegisters: 125, maxGapRegisters: 10 };

/** Requests as plain data: [fc, start, count, [name@offset...]]. */
function shape(reqs: ReadRequest<T>[]): [number, number, number, string[]][] {
  return reqs.map((r) => [r.fc, r.start, r.count, r.points.map((p) => `${p.point.name}@${p.offset}`)]);
}

describe('planReads', () => {
  it('merges tags within the gap into one request, sorted by address', () => {
    const tags = [h('c', 12, 'float32'), h('a', 0), h('b', 3, 'int32')];
    expect(shape(planReads(tags, (t) => t, limits))).toEqual([[3, 0, 14, ['a@0', 'b@3', 'c@12']]]);
  });

  it('splits when the gap is larger than maxGapRegisters', () => {
    // a ends at 1; b at 11 leaves a gap of 10 (merged), c at 23 a gap of 11 (not merged).
    const tags = [h('a', 0), h('b', 11), h('c', 23)];
    expect(shape(planReads(tags, (t) => t, limits))).toEqual([
      [3, 0, 12, ['a@0', 'b@11']],
      [3, 23, 1, ['c@0']],
    ]);
    expect(shape(planReads(tags, (t) => t, { maxBlockRegisters: 125, maxGapRegisters: 0 }))).toEqual([
      [3, 0, 1, ['a@0']],
      [3, 11, 1, ['b@0']],
      [3, 23, 1, ['c@0']],
    ]);
  });

  it('with gap 0 still merges adjacent registers', () => {
    const tags = [h('a', 0), h('b', 1, 'float32'), h('c', 3)];
    expect(shape(planReads(tags, (t) => t, { maxBlockRegisters: 125, maxGapRegisters: 0 }))).toEqual([[3, 0, 4, ['a@0', 'b@1', 'c@3']]]);
  });

  it('never lets a request exceed maxBlockRegisters and never splits a 32-bit value', () => {
    const tags = [h('a', 0), h('b', 123, 'float32'), h('c', 125, 'uint32')];
    // a..b spans 0..124 (125 registers); c at 125-126 would make 127: new request.
    expect(shape(planReads(tags, (t) => t, { maxBlockRegisters: 125, maxGapRegisters: 124 }))).toEqual([
      [3, 0, 125, ['a@0', 'b@123']],
      [3, 125, 2, ['c@0']],
    ]);
    const tight = planReads([h('x', 0), h('y', 1, 'int32')], (t) => t, { maxBlockRegisters: 2, maxGapRegisters: 10 });
    expect(shape(tight)).toEqual([
      [3, 0, 1, ['x@0']],
      [3, 1, 2, ['y@0']],
    ]);
  });

  it('splits 300 consecutive registers into 125 + 125 + 50', () => {
    const tags = Array.from({ length: 300 }, (_, i) => h(`r${i}`, i));
    expect(planReads(tags, (t) => t, limits).map((r) => [r.start, r.count])).toEqual([
      [0, 125],
      [125, 125],
      [250, 50],
    ]);
  });

  it('groups by table, coils and discrete inputs in bits up to 2000', () => {
    const tags: T[] = [
      { name: 'in', table: 'input', address: 5, type: 'int16' },
      { name: 'hr', table: 'holding', address: 5, type: 'int16' },
      { name: 'c0', table: 'coil', address: 0, type: 'bool' },
      { name: 'c1', table: 'coil', address: 150, type: 'bool' },
      { name: 'c2', table: 'coil', address: 1999, type: 'bool' },
      { name: 'c3', table: 'coil', address: 2000, type: 'bool' },
      { name: 'd0', table: 'discrete', address: 7, type: 'bool' },
    ];
    // bit gap = 16 x 10 = 160; 0 -> 150 merges; 150 -> 1999 does not.
    expect(shape(planReads(tags, (t) => t, limits))).toEqual([
      [1, 0, 151, ['c0@0', 'c1@150']],
      [1, 1999, 2, ['c2@0', 'c3@1']],
      [2, 7, 1, ['d0@0']],
      [3, 5, 1, ['hr@0']],
      [4, 5, 1, ['in@0']],
    ]);
    const wide = Array.from({ length: 2001 }, (_, i): T => ({ name: `c${i}`, table: 'coil', address: i, type: 'bool' }));
    expect(planReads(wide, (t) => t, limits).map((r) => [r.start, r.count])).toEqual([
      [0, 2000],
      [2000, 1],
    ]);
  });

  it('keeps duplicate and overlapping tags, and the input index of each point', () => {
    const tags = [h('lo', 11), h('f', 10, 'float32'), h('same', 10, 'uint16')];
    const plan = planReads(tags, (t) => t, limits);
    expect(shape(plan)).toEqual([[3, 10, 2, ['f@0', 'same@0', 'lo@1']]]);
    expect(plan[0]!.points.map((p) => p.index)).toEqual([1, 2, 0]);
  });

  it('returns nothing for no points and works on any point shape', () => {
    expect(planReads([], (t: T) => t, limits)).toEqual([]);
    const points = [{ tagId: 7, config: h('a', 40) }];
    const [req] = planReads(points, (p) => p.config, limits);
    expect(req?.points[0]?.point.tagId).toBe(7);
  });

  it('refuses a value that cannot fit a request', () => {
    expect(() => planReads([h('x', 0, 'float32')], (t) => t, { maxBlockRegisters: 1, maxGapRegisters: 0 })).toThrow(RangeError);
    expect(() => planReads([h('x', 65535, 'float32')], (t) => t, limits)).toThrow(RangeError);
  });
});

describe('splitRequest (a device refused a read of several tags)', () => {
  it('first drops the gaps, keeping adjacent tags together and the original point indices', () => {
    const tags = [h('x', 500), h('a', 0), h('b', 1, 'float32'), h('c', 6), h('d', 9, 'int32')];
    const [req, far] = planReads(tags, (t) => t, limits);
    expect(shape([req!])).toEqual([[3, 0, 11, ['a@0', 'b@1', 'c@6', 'd@9']]]);
    const parts = splitRequest(req!, (t) => t, limits);
    expect(shape(parts)).toEqual([[3, 0, 3, ['a@0', 'b@1']], [3, 6, 1, ['c@0']], [3, 9, 2, ['d@0']]]);
    expect(parts.flatMap((q) => q.points.map((p) => p.index))).toEqual([1, 2, 3, 4]);
    expect(splitRequest(far!, (t) => t, limits)).toEqual([]); // one tag: nothing to split
  });

  it('then one request per tag when the tags are adjacent', () => {
    const tags = [h('a', 10), h('b', 11, 'float32'), h('c', 13)];
    const [req] = planReads(tags, (t) => t, { maxBlockRegisters: 125, maxGapRegisters: 0 });
    const parts = splitRequest(req!, (t) => t, limits);
    expect(shape(parts)).toEqual([[3, 10, 1, ['a@0']], [3, 11, 2, ['b@0']], [3, 13, 1, ['c@0']]]);
    expect(parts.map((q) => q.points[0]!.index)).toEqual([0, 1, 2]);
    expect(parts.flatMap((q) => splitRequest(q, (t) => t, limits))).toEqual([]);
  });

  it('splits coils the same way', () => {
    const coils: T[] = [0, 1, 40].map((a) => ({ name: `c${a}`, table: 'coil', address: a, type: 'bool' }));
    const [req] = planReads(coils, (t) => t, limits);
    expect(shape([req!])).toEqual([[1, 0, 41, ['c0@0', 'c1@1', 'c40@40']]]);
    expect(shape(splitRequest(req!, (t) => t, limits))).toEqual([[1, 0, 2, ['c0@0', 'c1@1']], [1, 40, 1, ['c40@0']]]);
  });
});
