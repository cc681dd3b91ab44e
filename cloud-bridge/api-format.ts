import { z } from 'zod';
import type { Value } from '../core/reading.js';
import { qualityName, severity, type Severity } from '../core/quality.js';
import { JinyunError } from '../core/errors.js';

/** A request the API cannot answer as asked; becomes HTTP 400 with the message. */
export class BadRequestError extends JinyunError {
  constructor(message: string) {
    super('bad_request', message);
  }
}

export type JsonValue = number | boolean | string | null;

/** JSON cannot carry NaN, ±Infinity or 64-bit integers: they travel as strings ("NaN", "Infinity", "-Infinity", "12345678901234567890"). */
export function jsonValue(v: Value): JsonValue {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

export function qualityJson(code: number): { code: number; name: string; severity: Severity } {
  return { code: code >>> 0, name: qualityName(code), severity: severity(code) };
}

const MAX_MS = 8.64e15;

/** ISO 8601 of a ms timestamp; null for none or for one outside the Date range. */
export function iso(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > MAX_MS) return null;
  return new Date(ms).toISOString();
}

/** A time parameter: integer ms since 1970 or an ISO 8601 date-time. */
export function parseTime(name: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (/^-?\d{1,16}$/.test(s)) return Number(s);
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) {
    const ms = Date.parse(s);
    if (Number.isFinite(ms)) return ms;
  }
  throw new BadRequestError(`${name} must be ms since 1970 or an ISO 8601 time such as 2026-01-31T08:00:00Z, got "${s.slice(0, 64)}"`);
}

/** Page cursor: "ts:id" of the last row of the previous page. */
export function encodeCursor(ts: number, id: number): string {
  return `${ts}:${id}`;
}

export function parseCursor(s: string | undefined): { ts: number; id: number } | undefined {
  if (s === undefined) return undefined;
  const m = /^(-?\d{1,16}):(\d{1,16})$/.exec(s);
  if (!m) throw new BadRequestError(`after must be the "next" cursor of a previous page, got "${s.slice(0, 64)}"`);
  return { ts: Number(m[1]), id: Number(m[2]) };
}

/** Validates a query string against a zod schema; unknown parameters are errors (a typo should not silently widen a query). */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const r = schema.safeParse(query ?? {});
  if (r.success) return r.data;
  const msg = r.error.issues.map((i) => {
    const path = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') return `unknown parameter${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}`;
    return `${path || 'query'}: ${i.message}`;
  }).join('; ');
  throw new BadRequestError(msg);
}
