import { Quality, isBad } from '../../core/quality.js';
import type { Reading, Value } from '../../core/reading.js';

/**
 * Pure mapping of OPC UA DataValues onto Readings (no node-opcua import, tested without a network).
 * Quality IS the OPC UA StatusCode, so it passes straight through: Bad values are never stored
 * (value null, code kept, Part 4 §7.34.1 "shall never be used"); Uncertain values keep value and code.
 */

/** OPC UA built-in type ids (Part 6 §5.1.2). */
export const DataTypeId = {
  Null: 0, Boolean: 1, SByte: 2, Byte: 3, Int16: 4, UInt16: 5, Int32: 6, UInt32: 7, Int64: 8, UInt64: 9,
  Float: 10, Double: 11, String: 12, DateTime: 13, Guid: 14, ByteString: 15, XmlElement: 16, NodeId: 17,
  ExpandedNodeId: 18, StatusCode: 19, QualifiedName: 20, LocalizedText: 21, ExtensionObject: 22,
  DataValue: 23, Variant: 24, DiagnosticInfo: 25,
} as const;

const typeNames = new Map<number, string>(Object.entries(DataTypeId).map(([k, v]) => [v, k]));
export const dataTypeName = (id: number): string => typeNames.get(id) ?? `i=${id}`;

/** Structural view of node-opcua's DataValue: only what we read. */
export interface DataValueLike {
  value?: { dataType: number; arrayType?: number; value: unknown } | null;
  statusCode?: { value: number } | null;
  sourceTimestamp?: Date | null;
  serverTimestamp?: Date | null;
}

/** A Good status with a Null variant: nothing to store. */
export const BadNoData = 0x809b0000;
/** A number the spool cannot hold (NaN): kept out of the value column. */
export const BadDataLost = 0x809d0000;

/** node-opcua keeps Int64/UInt64 as [high, low] uint32 pairs. */
function toBigInt(v: unknown, signed: boolean): bigint {
  if (typeof v === 'bigint') return v;
  if (Array.isArray(v) && v.length === 2) {
    const u = (BigInt(v[0] as number >>> 0) << 32n) | BigInt(v[1] as number >>> 0);
    return signed ? BigInt.asIntN(64, u) : u;
  }
  return BigInt(Math.trunc(Number(v)));
}

function scalar(dataType: number, v: unknown): Value | undefined {
  if (v === null || v === undefined) return null;
  switch (dataType) {
    case DataTypeId.Boolean: return Boolean(v);
    case DataTypeId.Int64: return toBigInt(v, true);
    case DataTypeId.UInt64: return toBigInt(v, false);
    case DataTypeId.SByte: case DataTypeId.Byte: case DataTypeId.Int16: case DataTypeId.UInt16:
    case DataTypeId.Int32: case DataTypeId.UInt32: case DataTypeId.Float: case DataTypeId.Double:
      return Number(v);
    case DataTypeId.StatusCode: return typeof v === 'object' ? ((v as { value: number }).value >>> 0) : Number(v);
    case DataTypeId.DateTime: return v instanceof Date ? (Number.isNaN(v.getTime()) ? null : v.toISOString()) : String(v);
    case DataTypeId.ByteString: return Buffer.isBuffer(v) ? v.toString('base64') : String(v);
    case DataTypeId.LocalizedText: return (v as { text?: string | null }).text ?? '';
    case DataTypeId.QualifiedName: return (v as { name?: string | null }).name ?? '';
    case DataTypeId.ExtensionObject: return jsonOf(v);
    default: return typeof v === 'string' ? v : String(v);
  }
}

function jsonOf(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  } catch {
    return String(v);
  }
}

/** Variant value -> Reading value: scalars natively, arrays and matrices as a JSON array string. */
export function variantToValue(variant: DataValueLike['value']): Value {
  if (!variant || variant.dataType === DataTypeId.Null) return null;
  const arrayType = variant.arrayType ?? 0;
  if (arrayType === 0) return scalar(variant.dataType, variant.value) ?? null;
  const raw = variant.value as ArrayLike<unknown> | null;
  if (!raw) return '[]';
  // Int64 arrays hold [hi, lo] pairs per element; typed arrays become plain arrays.
  const items = Array.from(raw as ArrayLike<unknown>, (x) => scalar(variant.dataType, x));
  return jsonOf(items);
}

/** One DataValue -> one Reading. nowMs is the fallback timestamp when the server sends none. */
export function toReading(tagId: number, dv: DataValueLike, nowMs: number): Reading {
  const quality = (dv.statusCode?.value ?? 0) >>> 0;
  const ts = dv.sourceTimestamp?.getTime() ?? dv.serverTimestamp?.getTime() ?? nowMs;
  const safeTs = Number.isFinite(ts) && ts > 0 ? ts : nowMs;
  if (isBad(quality)) return { tagId, ts: safeTs, value: null, quality };
  const value = variantToValue(dv.value);
  if (value === null) return { tagId, ts: safeTs, value: null, quality: BadNoData };
  if (typeof value === 'number' && Number.isNaN(value)) return { tagId, ts: safeTs, value: null, quality: Quality.BadSensorFailure };
  return { tagId, ts: safeTs, value, quality };
}

/** A reading that says "no value, because code": used for item creation errors and outages. */
export function badReading(tagId: number, code: number, nowMs: number): Reading {
  return { tagId, ts: nowMs, value: null, quality: code >>> 0 };
}

/** Clock skew between the server's and the source's clocks, in ms (server - source), when both are given. */
export function timestampSkewMs(dv: DataValueLike): number | null {
  const a = dv.sourceTimestamp?.getTime();
  const b = dv.serverTimestamp?.getTime();
  return a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) ? b - a : null;
}
