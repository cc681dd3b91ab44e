import { parseArgs } from 'node:util';
import { ConfigError, UsageError } from '../core/errors.js';
import { loadEdgeConfig } from './config.js';
import { inspectSpool, type SpoolInspection } from './spool-inspect.js';

const USAGE = 'jinyun spool stats (--config FILE | --spool FILE) [--json]';

/** `jinyun spool stats`: offline (read-only) look at an edge outbox; works while the agent runs. */
export async function runSpool(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== 'stats') throw new UsageError(USAGE);
  const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, spool: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const path = values.spool ?? (values.config ? spoolPathOf(values.config) : undefined);
  if (!path) throw new UsageError(USAGE);
  const info = await inspectSpool(path);
  process.stdout.write(values.json ? `${JSON.stringify(info)}\n` : formatInspection(info, Date.now()));
}

/** The spool path from an edge config; secrets (${VAR}) need not be set to look at the spool. */
function spoolPathOf(file: string): string {
  const env = new Proxy(process.env, { get: (t, k: string) => t[k] ?? 'unset' });
  try {
    return loadEdgeConfig(file, env).spool.path;
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`${err.message}\n(use --spool FILE to name the spool file directly)`);
    throw err;
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MiB`;

function when(ms: number | null, now: number): string {
  if (ms === null) return '-';
  const ago = Math.max(0, now - ms) / 1000;
  const age = ago < 120 ? `${ago.toFixed(0)} s` : ago < 7200 ? `${(ago / 60).toFixed(1)} min` : `${(ago / 3600).toFixed(1)} h`;
  return `${new Date(ms).toISOString()} (${age} ago)`;
}

export function formatInspection(i: SpoolInspection, now: number): string {
  const rows: [string, string][] = [
    ['producer id', i.producerId ?? '-'],
    ['epoch', i.epoch === null ? '-' : `${i.epoch} (the next start uses ${i.epoch + 1})`],
    ['readings waiting', `${i.readings.count} (last seq ${i.readings.lastSeq})`],
    ['oldest reading', when(i.readings.oldestTs, now)],
    ['newest reading', when(i.readings.newestTs, now)],
    ['sealed batches', `${i.sealed.batches} waiting for their ACK (${i.sealed.readings} readings${i.sealed.batches ? `, sealed since ${when(i.sealed.oldestSealedMs, now)}, most attempts ${i.sealed.maxAttempts}` : ''})`],
    ['quarantined', `${i.quarantine.batches} batches (${i.quarantine.readings} readings)`],
    ['dropped', `${i.dropped.readings} readings${i.dropped.readings ? ` (${Object.entries(i.dropped.byDevice).map(([d, n]) => `${d || '-'} ${n}`).join(', ')})` : ''}`],
    ['file size', `${mib(i.fileBytes)} + WAL ${mib(i.walBytes)}`],
  ];
  const lines = [`spool ${i.path}`, ...rows.map(([k, v]) => `  ${k.padEnd(18)}${v}`)];
  for (const q of i.quarantine.latest) {
    lines.push(`    seq ${q.seqFirst}..${q.seqFirst + q.count - 1} epoch ${q.epoch} at ${new Date(q.atMs).toISOString()}: ${q.reasonCode}: ${q.reason}`);
  }
  return `${lines.join('\n')}\n`;
}
