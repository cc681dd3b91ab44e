import type { ValueRule } from './rules.js';

/** Per (rule, gateway, tag) state of a value rule between readings. */
export interface ValueState {
  /** An alarm of this rule is active for this tag. */
  active: boolean;
  /** Source time at which the raise condition started to hold (for delayMs). */
  pendingSinceTs: number | null;
  /** Previous reading (rate of change). */
  prev: { ts: number; v: number } | null;
}

export const newValueState = (active = false): ValueState => ({ active, pendingSinceTs: null, prev: null });

/** What one reading does to a value rule. */
export type Step = { action: 'raise'; value: number; measured: number } | { action: 'clear'; value: number; measured: number } | null;

/** The quantity compared with the limit: the value itself, or for a rate rule |Δv/Δt| per second (null for the first reading). */
function measure(rule: ValueRule, s: ValueState, ts: number, v: number): number | null {
  if (rule.type !== 'rate') return v;
  const prev = s.prev;
  s.prev = ts >= (prev?.ts ?? -Infinity) ? { ts, v } : prev;
  if (!prev || ts <= prev.ts) return null;
  return Math.abs(v - prev.v) / ((ts - prev.ts) / 1000);
}

function raiseCondition(rule: ValueRule, m: number): boolean {
  if (rule.type === 'low') return m <= rule.limit;
  if (rule.type === 'high') return m >= rule.limit;
  return m > rule.maxPerS;
}

function clearCondition(rule: ValueRule, m: number): boolean {
  if (rule.type === 'low') return m > rule.limit + rule.hysteresis;
  if (rule.type === 'high') return m < rule.limit - rule.hysteresis;
  return m <= rule.maxPerS - rule.hysteresis;
}

/**
 * Feeds one numeric reading (source time ts) to a threshold or rate rule. Raised once: an active
 * alarm only clears, and only past the hysteresis; a raise needs the condition to hold for
 * delayMs of source time. Pure apart from updating `s`.
 */
export function stepValue(rule: ValueRule, s: ValueState, ts: number, v: number): Step {
  if (!Number.isFinite(v)) return null;
  const m = measure(rule, s, ts, v);
  if (m === null) return null;
  if (s.active) {
    if (!clearCondition(rule, m)) return null;
    s.active = false;
    s.pendingSinceTs = null;
    return { action: 'clear', value: v, measured: m };
  }
  if (!raiseCondition(rule, m)) {
    s.pendingSinceTs = null;
    return null;
  }
  s.pendingSinceTs ??= ts;
  if (ts - s.pendingSinceTs < rule.delayMs) return null;
  s.active = true;
  s.pendingSinceTs = null;
  return { action: 'raise', value: v, measured: m };
}
