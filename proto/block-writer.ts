import type { Reading } from '../core/reading.js';
import { isBad } from '../core/quality.js';
import { jinyun } from './generated/jinyun.js';

/**
 * The wire bytes of a Block's series (batch.proto), written straight from readings: the edge's
 * hottest path (every reading is encoded here once, when spooled). It writes exactly what
 * protobufjs writes for the same message (test/proto/block-writer.test.ts compares them byte for
 * byte on random readings), for the kinds a plant sends by the thousand (double, bool); a series of
 * strings or 64-bit integers is handed to `slow`, which encodes one series as protobufjs does.
 *
 * Reading i is the block's i-th in seq (its seq delta is an index step). A series' time deltas must fit sint32 (a RangeError otherwise,
 * and the caller splits the block).
 */

const VK = jinyun.v1.ValueKind;
const KIND = { DOUBLE: VK.VALUE_KIND_DOUBLE, INT64: VK.VALUE_KIND_INT64, BOOL: VK.VALUE_KIND_BOOL, STRING: VK.VALUE_KIND_STRING, UINT64: VK.VALUE_KIND_UINT64 } as const;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

export interface SeriesColumns {
  tagId: number;
  kind: number;
  /** Indexes into the readings, in order. */
  at: number[];
  anyNotGood: boolean;
}

function kindOf(v: Reading['value']): number {
  switch (typeof v) {
    case 'number': return KIND.DOUBLE;
    case 'boolean': return KIND.BOOL;
    case 'string': return KIND.STRING;
    case 'bigint': return v < 0n ? KIND.INT64 : KIND.UINT64;
    default: return -1;
  }
}

/** Groups readings by tag, in order of first appearance, with each tag's value kind (the rules of the wire codec). */
export function groupSeries(readings: readonly Reading[]): SeriesColumns[] {
  const byTag = new Map<number, SeriesColumns>();
  const out: SeriesColumns[] = [];
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    let s = byTag.get(r.tagId);
    if (s === undefined) {
      s = { tagId: r.tagId, kind: -1, at: [], anyNotGood: false };
      byTag.set(r.tagId, s);
      out.push(s);
    }
    const k = isBad(r.quality) ? -1 : kindOf(r.value);
    if (k >= 0 && s.kind !== k) {
      if (s.kind === -1) s.kind = k;
      // int64/uint64 mix within one tag: widen to signed, which must then hold every value.
      else if ((s.kind === KIND.INT64 || s.kind === KIND.UINT64) && (k === KIND.INT64 || k === KIND.UINT64)) s.kind = KIND.INT64;
      else throw new RangeError(`tag ${r.tagId} mixes value types in one batch`);
    }
    s.at.push(i);
    if (r.quality !== 0) s.anyNotGood = true;
  }
  for (const s of out) if (s.kind === -1) s.kind = KIND.DOUBLE;
  return out;
}

const vlen = (v: number): number => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5);
const zz = (v: number): number => ((v << 1) ^ (v >> 31)) >>> 0;

/** One growing buffer per process: blocks are encoded one at a time and copied out. */
let scratch = Buffer.allocUnsafe(256 * 1024);

/**
 * Encodes the series of `readings` as a Block with zero offsets. `slow(series)` must return the
 * encoded Series message for a series of another kind than double or bool.
 */
export function writeBlock(readings: readonly Reading[], baseTs: number, slow: (s: SeriesColumns) => Uint8Array): Uint8Array {
  const series = groupSeries(readings);
  // Pass 1: sizes (and the range checks), so pass 2 writes each length prefix once, in place.
  const sizes = new Array<number>(series.length);
  // Per series: the byte lengths of its packed seq, time and quality columns (pass 2 writes them as measured here).
  const lens = new Array<[number, number, number]>(series.length);
  const slowBytes = new Map<SeriesColumns, Uint8Array>();
  let total = 0;
  for (let j = 0; j < series.length; j++) {
    const s = series[j]!;
    let size: number;
    if (s.kind !== KIND.DOUBLE && s.kind !== KIND.BOOL) {
      const b = slow(s);
      slowBytes.set(s, b);
      size = b.length;
    } else {
      const n = s.at.length;
      let seqLen = 0;
      let tsLen = 0;
      let qLen = 0;
      let prevI = 0;
      let prevTs = baseTs;
      for (let x = 0; x < n; x++) {
        const i = s.at[x]!;
        seqLen += vlen(i - prevI);
        prevI = i;
        const r = readings[i]!;
        const d = r.ts - prevTs;
        if (d < INT32_MIN || d > INT32_MAX || !Number.isInteger(d)) throw new RangeError(`tag ${s.tagId}: time step of ${d} ms does not fit one block`);
        tsLen += vlen(zz(d));
        prevTs = r.ts;
        if (s.anyNotGood) qLen += vlen(r.quality >>> 0);
      }
      lens[j] = [seqLen, tsLen, qLen];
      size = (s.tagId !== 0 ? 1 + vlen(s.tagId) : 0) + (s.kind !== 0 ? 1 + vlen(s.kind) : 0)
        + 1 + vlen(seqLen) + seqLen + 1 + vlen(tsLen) + tsLen + (s.anyNotGood ? 1 + vlen(qLen) + qLen : 0);
      const valLen = s.kind === KIND.DOUBLE ? 8 * n : n;
      size += 1 + vlen(valLen) + valLen;
    }
    sizes[j] = size;
    total += 1 + vlen(size) + size;
  }
  if (scratch.length < total) scratch = Buffer.allocUnsafe(Math.max(total, scratch.length * 2));
  const buf = scratch;
  let p = 0;
  const varint = (v: number): void => {
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
  };
  for (let j = 0; j < series.length; j++) {
    const s = series[j]!;
    buf[p++] = 0x1a; // Block.series
    varint(sizes[j]!);
    const b = slowBytes.get(s);
    if (b) {
      buf.set(b, p);
      p += b.length;
      continue;
    }
    const n = s.at.length;
    if (s.tagId !== 0) { buf[p++] = 0x08; varint(s.tagId); }
    if (s.kind !== 0) { buf[p++] = 0x10; varint(s.kind); }
    const [seqLen, tsLen, qLen] = lens[j]!;
    // seq_delta (packed uint32): seq of reading i is seqFirst + i, so the deltas are index steps.
    buf[p++] = 0x1a; varint(seqLen);
    let prevI = 0;
    for (let x = 0; x < n; x++) { varint(s.at[x]! - prevI); prevI = s.at[x]!; }
    // time_delta_ms (packed sint32)
    buf[p++] = 0x22; varint(tsLen);
    let prevTs = baseTs;
    for (let x = 0; x < n; x++) { const t = readings[s.at[x]!]!.ts; varint(zz(t - prevTs)); prevTs = t; }
    if (s.anyNotGood) {
      buf[p++] = 0x2a; varint(qLen);
      for (let x = 0; x < n; x++) varint(readings[s.at[x]!]!.quality >>> 0);
    }
    if (s.kind === KIND.DOUBLE) {
      buf[p++] = 0x32; varint(8 * n);
      for (let x = 0; x < n; x++) {
        const v = readings[s.at[x]!]!.value; // a Bad reading's value is a placeholder 0
        p = buf.writeDoubleLE(typeof v === 'number' ? v : 0, p);
      }
    } else {
      buf[p++] = 0x42; varint(n);
      for (let x = 0; x < n; x++) buf[p++] = readings[s.at[x]!]!.value === true ? 1 : 0;
    }
  }
  if (p !== total) throw new Error(`block writer: wrote ${p} bytes, sized ${total}`);
  return Buffer.from(buf.subarray(0, p));
}
