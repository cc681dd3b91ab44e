import type { GatewayRow } from '../store/reading-store.js';
import type { NewAlarm } from '../store/analytics-types.js';
import { globMatcher, type AlarmRule } from './rules.js';

/** When each tag was last received and each device last gave a good reading (cloud clock, ms). */
export interface TimeTracks {
  /** gateway \0 tag key → receive time. */
  lastSeen: Map<string, number>;
  /** gateway \0 device → receive time of its last good reading (or of its first reading when none was good). */
  lastGood: Map<string, number>;
  /** Engine start: silence is counted from here after a restart. */
  startedMs: number;
}

export interface TimeActions {
  raise(key: string, a: NewAlarm): Promise<void>;
  clear(key: string): Promise<void>;
  tenantOf(gateway: string): string | undefined;
}

const k = (...parts: string[]): string => parts.join('\u0000');
const split = (key: string): [string, string] => {
  const i = key.indexOf('\u0000');
  return [key.slice(0, i), key.slice(i + 1)];
};

/** Stale data, device down and gateway offline: raised when the silence reaches afterMs (clearing is done by the next reading, or here for gateways). */
export async function checkTimeRules(rules: readonly AlarmRule[], t: TimeTracks, gateways: readonly GatewayRow[], now: number, act: TimeActions): Promise<void> {
  for (const r of rules) {
    if (r.type === 'stale') await silence(r, r.tag, t.lastSeen, now, act, (src, ms) => `no reading of ${src} for ${Math.round(ms / 1000)} s`);
    else if (r.type === 'device_down') await silence(r, r.device, t.lastGood, now, act, (src, ms) => `device ${src} gave no good reading for ${Math.round(ms / 1000)} s`);
    else if (r.type === 'gateway_offline') await offline(r, gateways, t.startedMs, now, act);
  }
}

async function silence(r: Extract<AlarmRule, { type: 'stale' | 'device_down' }>, pattern: string, last: Map<string, number>, now: number, act: TimeActions, text: (src: string, ms: number) => string): Promise<void> {
  const gwOk = globMatcher(r.gateway);
  const srcOk = globMatcher(pattern);
  for (const [key, ms] of last) {
    if (now - ms < r.afterMs) continue;
    const [gateway, source] = split(key);
    const tenant = act.tenantOf(gateway);
    if (tenant === undefined || !gwOk(gateway) || !srcOk(source)) continue;
    await act.raise(k(r.name, gateway, source), { tenant, gateway, source, rule: r.name, type: r.type, severity: r.severity, raisedMs: now, value: null, limit: r.afterMs, message: text(source, now - ms) });
  }
}

async function offline(r: Extract<AlarmRule, { type: 'gateway_offline' }>, gateways: readonly GatewayRow[], startedMs: number, now: number, act: TimeActions): Promise<void> {
  const gwOk = globMatcher(r.gateway);
  for (const g of gateways) {
    if (!gwOk(g.id)) continue;
    const key = k(r.name, g.id, '');
    if (g.online) {
      await act.clear(key);
      continue;
    }
    if (g.lastSeenMs === null) continue; // never connected: nothing went offline
    const since = Math.max(g.lastSeenMs, startedMs);
    if (now - since >= r.afterMs) {
      await act.raise(key, { tenant: g.tenant, gateway: g.id, source: '', rule: r.name, type: 'gateway_offline', severity: r.severity, raisedMs: now, value: null, limit: r.afterMs, message: `gateway ${g.id} offline since ${new Date(g.lastSeenMs).toISOString()}` });
    }
  }
}
