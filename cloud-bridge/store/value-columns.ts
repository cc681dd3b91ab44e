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
