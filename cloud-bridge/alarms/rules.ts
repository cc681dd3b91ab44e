import { z } from 'zod';

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'name must be 1-64 letters, digits, "_", "." or "-"');
const glob = (what: string) => z.string().min(1).max(256).describe(`${what}: exact name or a pattern where * matches any run of characters (e.g. "*/methane").`);
const severity = z.enum(['info', 'warning', 'alarm', 'critical']).default('alarm').describe('Shown on the dashboard and carried in the MQTT message.');
const ms = (max: number) => z.number().int().min(0).max(max);

const base = {
  name: name.describe('Rule name, unique: stored with each alarm it raises.'),
  gateway: glob('Gateways the rule applies to').default('*'),
  severity,
};
const tagRule = { ...base, tag: glob('Tag keys (device/tag) the rule applies to') };

const thresholdRule = <T extends 'high' | 'low'>(type: T) => z.strictObject({
  ...tagRule,
  type: z.literal(type).describe(type === 'high' ? 'Raised when value >= limit; cleared when value < limit - hysteresis.' : 'Raised when value <= limit; cleared when value > limit + hysteresis.'),
  limit: z.number().describe('Threshold in the tag\'s unit.'),
  hysteresis: z.number().min(0).default(0).describe('Dead band between raise and clear, in the tag\'s unit.'),
  delayMs: ms(86_400_000).default(0).describe('The condition must hold for this long (by source time) before the alarm is raised; 0 raises on the first reading.'),
});

export const alarmRuleSchema = z.discriminatedUnion('type', [
  thresholdRule('high'),
  thresholdRule('low'),
  z.strictObject({
    ...tagRule,
    type: z.literal('rate').describe('Rate of change: raised when |Δvalue / Δt| exceeds maxPerS between consecutive readings.'),
    maxPerS: z.number().positive().describe('Largest allowed change per second, in the tag\'s unit.'),
    hysteresis: z.number().min(0).default(0).describe('Cleared when the rate falls to maxPerS - hysteresis or below.'),
    delayMs: ms(86_400_000).default(0).describe('The rate must stay above maxPerS this long (by source time) before the alarm is raised.'),
  }),
  z.strictObject({
    ...tagRule,
    type: z.literal('stale').describe('Stale data: no reading of the tag reached the cloud for afterMs; cleared by the next reading.'),
    afterMs: ms(30 * 86_400_000).min(1000),
  }),
  z.strictObject({
    ...base,
    type: z.literal('device_down').describe('Device down: no good-quality reading of any tag of the device for afterMs; cleared by the next good reading.'),
    device: glob('Devices the rule applies to').default('*'),
    afterMs: ms(30 * 86_400_000).min(1000),
  }),
  z.strictObject({
    ...base,
    type: z.literal('gateway_offline').describe('Gateway offline (MQTT session lost, last will) for afterMs; cleared when it is back online.'),
    afterMs: ms(30 * 86_400_000).default(60_000).describe('Offline this long before the alarm is raised (after a cloud restart, counted from the restart).'),
  }),
  z.strictObject({
    ...base,
    type: z.literal('data_gap').describe('Data gap: sequence numbers of the gateway never arrived within the ingest\'s reorder timeout (readings lost before the cloud); cleared when acknowledged.'),
  }),
]);

export type AlarmRule = z.output<typeof alarmRuleSchema>;
export type ValueRule = Extract<AlarmRule, { type: 'high' | 'low' | 'rate' }>;

/**
 * Methane limits by location, from the table of 煤矿安全规程 / AQ 1029 quoted in ANCHORS.md §5
 * (a secondary source): alarm level, power-cut level, power-restore level (% CH4). MUST be
 * confirmed against the mine's own rules and the current official texts before use.
 */
export const METHANE_LIMITS = {
  'coal-face-upper-corner': { alarm: 1.0, cut: 1.5, restore: 1.5, label: 'coal face upper corner (T0)' },
  'coal-face': { alarm: 1.0, cut: 1.5, restore: 1.0, label: 'coal face (T1)' },
  'return-airway': { alarm: 1.0, cut: 1.0, restore: 1.0, label: 'coal face return airway (T2)' },
  'intake-airway': { alarm: 0.5, cut: 0.5, restore: 0.5, label: 'intake airway, high-gas/outburst mine (T3)' },
  'drainage-roadway': { alarm: 2.5, cut: 2.5, restore: 2.5, label: 'dedicated gas drainage roadway' },
} as const;

export type MethaneLocation = keyof typeof METHANE_LIMITS;

export const presetSchema = z.strictObject({
  preset: z.literal('coal-mine-methane').describe('Methane alarm and power-cut levels by location (煤矿安全规程 / AQ 1029 table). REQUIRES CONFIRMATION against the mine\'s own rules; Jinyun reports, it never replaces the certified safety-monitoring system\'s cut-off.'),
  location: z.enum(Object.keys(METHANE_LIMITS) as [MethaneLocation, ...MethaneLocation[]]).describe('Where the sensor is; selects the limits.'),
  tag: glob('Methane tags at this location'),
  gateway: glob('Gateways').default('*'),
  alarmHysteresis: z.number().min(0).max(1).default(0.1).describe('Dead band below the alarm level before the alarm clears (% CH4).'),
});

export type AlarmPreset = z.output<typeof presetSchema>;

/** The high rules of a coal-mine-methane preset: the alarm level and the power-cut level (cleared below the restore level). */
export function expandPreset(p: AlarmPreset): ValueRule[] {
  const l = METHANE_LIMITS[p.location];
  return [
    { type: 'high', name: `methane-${p.location}-alarm`, gateway: p.gateway, tag: p.tag, severity: 'alarm', limit: l.alarm, hysteresis: p.alarmHysteresis, delayMs: 0 },
    { type: 'high', name: `methane-${p.location}-power-cut`, gateway: p.gateway, tag: p.tag, severity: 'critical', limit: l.cut, hysteresis: Math.round((l.cut - l.restore) * 1000) / 1000, delayMs: 0 },
  ];
}

export const alarmsConfigSchema = z.strictObject({
  rules: z.array(alarmRuleSchema).default([]).describe('Alarm rules per tag or tag pattern.'),
  presets: z.array(presetSchema).default([]).describe('Rule sets for a kind of site (coal-mine-methane).'),
  tickMs: z.number().int().min(100).max(60_000).default(1000).describe('How often time-based rules (stale, device down, gateway offline) are checked.'),
  topicRoot: z.string().regex(/^[A-Za-z0-9_.\/-]{1,128}$/).default('jinyun/v1').describe('Alarms are published (QoS 1, JSON) on {topicRoot}/{tenant}/{gateway}/alarm.'),
}).prefault({}).describe('Alarms: evaluated by the cloud bridge after each durable commit, stored, published on MQTT and shown on the dashboard. Jinyun reports; it never replaces the certified safety-monitoring system.');

export type AlarmsConfig = z.output<typeof alarmsConfigSchema>;

/** Every rule of the config, presets expanded. */
export function allRules(c: AlarmsConfig): AlarmRule[] {
  return [...c.rules, ...c.presets.flatMap(expandPreset)];
}

/** "*" matches any run of characters; everything else literally. */
export function globMatcher(pattern: string): (s: string) => boolean {
  if (!pattern.includes('*')) return (s) => s === pattern;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return (s) => re.test(s);
}
