import { z } from 'zod';
import type { ConfigIssue } from '../core/errors.js';
import type { ReportRule } from './report-filter.js';

const settings = {
  enabled: z.boolean().optional().describe('false: every reading of this tag (or device) goes to the spool, deadband or not.'),
  deadband: z.number().min(0).optional().describe('Absolute deadband in engineering units: a number is reported when it moved MORE than this from the last reported value (0 = any change). Booleans and strings report on any change. Default 0.'),
  heartbeatMs: z.number().int().min(1000).max(86_400_000).optional().describe('An unchanged value is reported again after this long (source time), so a flat signal is still confirmed. Default 60000.'),
};

const deviceReportSchema = z.strictObject({
  ...settings,
  tags: z.record(z.string(), z.strictObject(settings)).default({}).describe('Per-tag settings by tag name; each key overrides the device default.'),
}).describe('Report by exception for one device: its settings are the default of its tags.');

export const reportByExceptionSchema = z.record(z.string(), deviceReportSchema).default({})
  .describe('Deadband and report-by-exception, by device name, applied before the spool. Devices not listed report every reading.');

export type ReportByException = z.output<typeof reportByExceptionSchema>;

export const REPORT_DEFAULTS: ReportRule = { deadband: 0, heartbeatMs: 60_000 };

/** Rules by tag name for one device: only the tags that report by exception. */
export function reportRules(rbe: ReportByException, device: string, tags: string[]): Map<string, ReportRule> {
  const dev = rbe[device];
  const rules = new Map<string, ReportRule>();
  if (!dev) return rules;
  for (const tag of tags) {
    const own = dev.tags[tag];
    if (!(own?.enabled ?? dev.enabled ?? true)) continue;
    rules.set(tag, {
      deadband: own?.deadband ?? dev.deadband ?? REPORT_DEFAULTS.deadband,
      heartbeatMs: own?.heartbeatMs ?? dev.heartbeatMs ?? REPORT_DEFAULTS.heartbeatMs,
    });
  }
  return rules;
}

/** Every device and tag named in reportByException must exist. */
export function checkReportNames(rbe: ReportByException, devices: { name: string; tags: { name: string }[] }[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const known = new Map(devices.map((d) => [d.name, new Set(d.tags.map((t) => t.name))]));
  for (const [device, dev] of Object.entries(rbe)) {
    const tags = known.get(device);
    if (!tags) {
      issues.push({ path: ['reportByException', device], message: `unknown device "${device}"; devices: ${[...known.keys()].join(', ')}` });
      continue;
    }
    for (const tag of Object.keys(dev.tags)) {
      if (!tags.has(tag)) issues.push({ path: ['reportByException', device, 'tags', tag], message: `unknown tag "${tag}" of device "${device}"` });
    }
  }
  return issues;
}
