import { describe, expect, it } from 'vitest';
import type { Reading, Value } from '../../core/reading.js';
import { Quality } from '../../core/quality.js';
import { ReportFilter, valueChanged, type ReportRule } from '../../edge/report-filter.js';
import { checkReportNames, reportByExceptionSchema, reportRules } from '../../edge/report-config.js';

const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);
const r = (tagId: number, i: number, value: Value, quality = 0): Reading => ({ tagId, ts: T0 + i * 1000, value, quality });

/** Feeds one reading per second for tag 1 and returns the seconds (indexes) that were kept. */
function keptAt(rule: ReportRule, values: Value[], qualities: number[] = []): { at: number[]; filter: ReportFilter } {
  const filter = new ReportFilter(new Map([[1, rule]]));
  const at: number[] = [];
  values.forEach((v, i) => {
    if (filter.apply([r(1, i, v, qualities[i] ?? 0)]).length === 1) at.push(i);
  });
  return { at, filter };
}

describe('deadband and report by exception', () => {
  it('reports a flat value once, then only when the heartbeat is due, counting what it held back', () => {
    const { at, filter } = keptAt({ deadband: 0.5, heartbeatMs: 10_000 }, Array.from({ length: 35 }, () => 7));
    expect(at).toEqual([0, 10, 20, 30]);
    expect(filter.counters).toEqual({ passed: 4, suppressed: 31, heartbeats: 3 });
  });

  it('reports a move beyond the deadband from the last REPORTED value, so a slow drift still shows', () => {
    // +0.2 per second with a 0.5 deadband: reported at 0, then when the total move exceeds 0.5.
    const values = Array.from({ length: 10 }, (_, i) => Math.round(i * 2) / 10);
    const { at, filter } = keptAt({ deadband: 0.5, heartbeatMs: 60_000 }, values);
    expect(at).toEqual([0, 3, 6, 9]);
    expect(filter.counters).toEqual({ passed: 4, suppressed: 6, heartbeats: 0 });
  });

  it('treats exactly the deadband as inside it, and restarts the heartbeat after every report', () => {
    const { at } = keptAt({ deadband: 1, heartbeatMs: 3000 }, [10, 11, 10.5, 11.01, 11, 11, 11, 11, 11]);
    // 11 is exactly 1 away (held), 10.5 held, 11.01 is more than 1 away: reported at 3; heartbeat due at 6.
    expect(at).toEqual([0, 3, 6]);
  });

  it('deadband 0 reports every change and holds back repeats', () => {
    const { at } = keptAt({ deadband: 0, heartbeatMs: 60_000 }, [1, 1, 2, 2, 2, 1, 1]);
    expect(at).toEqual([0, 2, 5]);
  });

  it('reports every quality change, whatever the value', () => {
    const bad = Quality.Bad;
    const { at } = keptAt({ deadband: 100, heartbeatMs: 60_000 }, [5, 5, null, null, 5, 5], [0, 0, bad, bad, 0, 0]);
    expect(at).toEqual([0, 2, 4]);
  });

  it('compares booleans, strings, bigints and NaN sensibly', () => {
    expect(keptAt({ deadband: 5, heartbeatMs: 60_000 }, [true, true, false, false, true]).at).toEqual([0, 2, 4]);
    expect(keptAt({ deadband: 5, heartbeatMs: 60_000 }, ['run', 'run', 'stop']).at).toEqual([0, 2]);
    expect(keptAt({ deadband: 5, heartbeatMs: 60_000 }, [100n, 104n, 106n, 200n]).at).toEqual([0, 2, 3]);
    expect(keptAt({ deadband: 5, heartbeatMs: 60_000 }, [Number.NaN, Number.NaN, 1, 1, Number.NaN]).at).toEqual([0, 2, 4]);
    expect(keptAt({ deadband: 5, heartbeatMs: 60_000 }, [1, Infinity, Infinity, -Infinity]).at).toEqual([0, 1, 3]);
    expect(valueChanged(1, '1', 5)).toBe(true);
  });

  it('reports when the source clock goes back, and passes tags without a rule untouched', () => {
    const filter = new ReportFilter(new Map([[1, { deadband: 0, heartbeatMs: 10_000 }]]));
    const out = filter.apply([r(1, 5, 3), r(2, 5, 3), r(1, 6, 3), r(2, 6, 3), r(1, 2, 3), r(1, 3, 3)]);
    expect(out.map((x) => [x.tagId, (x.ts - T0) / 1000])).toEqual([[1, 5], [2, 5], [2, 6], [1, 2]]);
    expect(filter.counters).toEqual({ passed: 4, suppressed: 2, heartbeats: 0 });
    const none = new ReportFilter(new Map());
    const batch = [r(1, 0, 1), r(1, 1, 1)];
    expect(none.apply(batch)).toBe(batch);
    expect(none.active).toBe(false);
  });
});

describe('reportByException config', () => {
  const rbe = reportByExceptionSchema.parse({
    pump: { deadband: 0.5, heartbeatMs: 30_000, tags: { flow: { deadband: 2 }, running: { heartbeatMs: 5000 }, counter: { enabled: false } } },
    fan: { enabled: false, tags: { current: { enabled: true } } },
  });

  it('resolves tag settings over the device default over the built-in default', () => {
    expect(Object.fromEntries(reportRules(rbe, 'pump', ['flow', 'running', 'level', 'counter']))).toEqual({
      flow: { deadband: 2, heartbeatMs: 30_000 },
      running: { deadband: 0.5, heartbeatMs: 5000 },
      level: { deadband: 0.5, heartbeatMs: 30_000 },
    });
    expect(Object.fromEntries(reportRules(rbe, 'fan', ['current', 'speed']))).toEqual({ current: { deadband: 0, heartbeatMs: 60_000 } });
    expect(reportRules(rbe, 'other', ['x']).size).toBe(0);
  });

  it('names unknown devices and tags', () => {
    expect(checkReportNames(rbe, [{ name: 'pump', tags: [{ name: 'flow' }, { name: 'running' }, { name: 'counter' }] }, { name: 'fan', tags: [] }])).toEqual([
      { path: ['reportByException', 'fan', 'tags', 'current'], message: 'unknown tag "current" of device "fan"' },
    ]);
    expect(checkReportNames(rbe, [{ name: 'pump', tags: [{ name: 'flow' }, { name: 'running' }, { name: 'counter' }] }])).toEqual([
      { path: ['reportByException', 'fan'], message: 'unknown device "fan"; devices: pump' },
    ]);
  });

  it('refuses a negative deadband and a heartbeat under a second', () => {
    expect(reportByExceptionSchema.safeParse({ pump: { deadband: -1 } }).success).toBe(false);
    expect(reportByExceptionSchema.safeParse({ pump: { tags: { flow: { heartbeatMs: 10 } } } }).success).toBe(false);
    expect(reportByExceptionSchema.safeParse({ pump: { deadbnd: 1 } }).success).toBe(false);
  });
});
