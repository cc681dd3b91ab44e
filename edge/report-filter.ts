import type { Reading, Value } from '../core/reading.js';

/** Report-by-exception settings of one tag, resolved from its device's default and its own entry. */
export interface ReportRule {
  /** A numeric value is reported when it moved more than this (engineering units) from the last reported one. 0 = any change. */
  deadband: number;
  /** An unchanged value is reported again once this long (source time) passed since the last reported one. */
  heartbeatMs: number;
}

export type ReportDecision = 'change' | 'heartbeat' | 'suppress';

interface LastReported {
  value: Value;
  quality: number;
  ts: number;
}

/**
 * Whether `next` moved away from `prev`: numbers (and bigints) by more than the deadband, anything
 * else by identity. NaN equals NaN (a stuck NaN is flat), and a change of type is always a change.
 */
export function valueChanged(prev: Value, next: Value, deadband: number): boolean {
  if (Object.is(prev, next)) return false;
  if (typeof prev === 'number' && typeof next === 'number') {
    if (Number.isNaN(prev) || Number.isNaN(next)) return true;
    return !(Math.abs(next - prev) <= deadband);
  }
  if (typeof prev === 'bigint' && typeof next === 'bigint') {
    const d = next > prev ? next - prev : prev - next;
    return Number(d) > deadband;
  }
  return true;
}

/** The decision for one reading, given what was last reported for its tag. */
export function decide(rule: ReportRule, prev: LastReported | undefined, r: Reading): ReportDecision {
  if (!prev) return 'change';
  // A change of quality (Good -> Bad, a different Bad code) always goes out.
  if (r.quality !== prev.quality) return 'change';
  // The source clock went back: report, so the heartbeat window restarts from here.
  if (r.ts < prev.ts) return 'change';
  if (valueChanged(prev.value, r.value, rule.deadband)) return 'change';
  return r.ts - prev.ts >= rule.heartbeatMs ? 'heartbeat' : 'suppress';
}

export interface ReportCounters {
  /** Readings that went on to the spool (changes, heartbeats and tags without a rule). */
  passed: number;
  /** Readings held back: within the deadband and before the heartbeat was due. */
  suppressed: number;
  /** Of the passed ones, those sent only because the heartbeat was due (flat value confirmed). */
  heartbeats: number;
}

/**
 * Deadband and report-by-exception for one device, applied before the spool: a reading is kept when
 * it is the tag's first since start, its quality changed, its value moved beyond the deadband from
 * the last REPORTED value (so a slow drift still shows once it adds up), or the heartbeat is due. Tags
 * without a rule pass untouched. Held-back readings are counted, never silently lost.
 */
export class ReportFilter {
  private readonly last = new Map<number, LastReported>();
  readonly counters: ReportCounters = { passed: 0, suppressed: 0, heartbeats: 0 };

  /** rules: tag id -> rule, for the tags that report by exception. */
  constructor(private readonly rules: ReadonlyMap<number, ReportRule>) {}

  get active(): boolean {
    return this.rules.size > 0;
  }

  apply(readings: Reading[]): Reading[] {
    if (this.rules.size === 0) {
      this.counters.passed += readings.length;
      return readings;
    }
    const kept: Reading[] = [];
    for (const r of readings) {
      const rule = this.rules.get(r.tagId);
      if (!rule) {
        kept.push(r);
        continue;
      }
      const d = decide(rule, this.last.get(r.tagId), r);
      if (d === 'suppress') continue;
      if (d === 'heartbeat') this.counters.heartbeats++;
      this.last.set(r.tagId, { value: r.value, quality: r.quality, ts: r.ts });
      kept.push(r);
    }
    this.counters.passed += kept.length;
    this.counters.suppressed += readings.length - kept.length;
    return kept;
  }
}
