import type { AlarmRecord } from '../store/analytics-types.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** An alarm as the API returns it and the MQTT message carries it. */
export function alarmJson(a: AlarmRecord): Record<string, unknown> {
  return {
    id: a.id, tenant: a.tenant, gateway: a.gateway, source: a.source, rule: a.rule, type: a.type, severity: a.severity, message: a.message,
    active: a.clearedMs === null, raisedAt: iso(a.raisedMs), raisedMs: a.raisedMs, value: a.value, limit: a.limit,
    clearedAt: iso(a.clearedMs), clearValue: a.clearValue, acknowledged: a.ackMs !== null, ackBy: a.ackBy, ackAt: iso(a.ackMs),
  };
}
