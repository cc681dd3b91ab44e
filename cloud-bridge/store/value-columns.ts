import type { Value } from '../../core/reading.js';

/** How a reading's value sits in the (kind, value REAL, value_text TEXT) columns. */
export const Kind = { Double: 0, Bool: 1, String: 2, BigInt: 3, None: 4, NaN: 5 } as const;

export type ValueColumns = [kind: number, value: number | null, text: string | null];

export function toColumns(v: Value): ValueColumns {
  switch (typeof v) {
    case 'number': return Number.isNaN(v) ? [Kind.NaN, null, null] : [Kind.Double, v, null];
    case 'boolean': return [Kind.Bool, v ? 1 : 0, null];
    case 'string': return [Kind.String, null, v];
    // Never bind a bigint: node-sqlite3 silently stores it as NULL. Exact text, approximate double.
    case 'bigint': return [Kind.BigInt, Number(v), v.toString()];
    default: return [Kind.None, null, null];
  }
}

export function fromColumns(kind: number, value: number | null, text: string | null): Value {
  switch (kind) {
    case Kind.Double: return value;
    case Kind.Bool: return value !== null && value !== 0;
    case Kind.String: return text ?? '';
    case Kind.BigInt: return text === null ? null : BigInt(text);
    case Kind.NaN: return Number.NaN;
    default: return null;
  }
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const TWO_52 = 4_503_599_627_370_496;

/**
 * A double as integers (m, e) with value = m * 2^e exactly, both safe to pass through JSON (|m| <= 2^53);
 * SQL rebuilds it as `m * pow(2.0, e)`, which is exact (an integer below 2^53 times a power of two).
 * ±Infinity is (±1, 2000): pow overflows to Infinity. null stays null. -0 becomes 0 (as SQLite stores it).
 * Assumes a little-endian host (x86-64, arm64).
 */
export function exactParts(v: number | null): [m: number | null, e: number] {
  if (v === null) return [null, 0];
  if (Number.isInteger(v) && Math.abs(v) <= 2 * TWO_52) return [v === 0 ? 0 : v, 0];
  f64[0] = v;
  const lo = u32[0]!;
  const hi = u32[1]!;
  const biased = (hi >>> 20) & 0x7ff;
  const sign = hi >>> 31 ? -1 : 1;
  if (biased === 0x7ff) return [sign, 2000];
  const frac = (hi & 0xfffff) * 4_294_967_296 + lo;
  return biased === 0 ? [sign * frac, -1074] : [sign * (frac + TWO_52), biased - 1075];
}
