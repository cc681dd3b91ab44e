import { stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { freemem } from 'node:os';
import { errorMessage } from '../core/errors.js';
import type { DeviceHealth } from '../drivers/driver.js';
import type { SpoolStats } from './spool.js';
import type { Poller } from './poller.js';
import type { ReportCounters } from './report-filter.js';
import type { Forwarder } from './forwarder.js';
import type { MqttLink } from './mqtt-link.js';
import { ClockMonitor, type ClockReport } from './clock.js';

export interface DeviceSnapshot {
  name: string;
  health: DeviceHealth;
  poll: Poller['counters'];
  /** Deadband / report-by-exception counts (absent in tests that build a monitor by hand). */
  report?: ReportCounters;
}

/** Everything the agent knows about itself at one moment; feeds /healthz, /metrics and the Health message. */
export interface EdgeSnapshot {
  timeMs: number;
  uptimeS: number;
  /** null when the spool could not answer (spoolError says why). */
  spool: SpoolStats | null;
  spoolError: string;
  /** Spool file plus its WAL, bytes. */
  spoolFileBytes: number;
  /** The filesystem holding the spool; null when statfs failed. */
  disk: { freeBytes: number; totalBytes: number } | null;
  forwarder: Forwarder['counters'];
  link: MqttLink['counters'] & { connected: boolean; lastError: string };
  devices: DeviceSnapshot[];
  process: { rssBytes: number; heapUsedBytes: number; cpuUserUs: number; cpuSystemUs: number; systemFreeBytes: number };
  clock: ClockReport;
}

export type HealthLevel = 'ok' | 'degraded' | 'error';
export interface HealthReason { code: string; level: Exclude<HealthLevel, 'ok'>; detail: string }
export interface Assessment { status: HealthLevel; reasons: HealthReason[] }

export interface MonitorSources {
  spool: { stats(): Promise<SpoolStats> };
  spoolPath: string;
  forwarder: { counters: Forwarder['counters'] };
  link: { connected: boolean; counters: MqttLink['counters']; lastError?: string };
  devices(): DeviceSnapshot[];
  clock?: ClockMonitor;
}

export interface MonitorThresholds {
  /** Readings dropped or spool writes failing within this window make the status error. */
  windowMs: number;
  /** Free space below this fraction of the filesystem: degraded. */
  diskLowFraction: number;
  /** Free space below this many bytes (or 1 % of the filesystem): error, the spool is about to fail. */
  diskFullBytes: number;
}

const DEFAULT_THRESHOLDS: MonitorThresholds = { windowMs: 60_000, diskLowFraction: 0.1, diskFullBytes: 16 * 1024 * 1024 };

/**
 * Takes snapshots of the running agent (at most one every 250 ms, so a scrape and a health tick
 * share the work) and turns them into an ok / degraded / error assessment with reasons.
 */
export class EdgeMonitor {
  private readonly clock: ClockMonitor;
  private readonly started = performance.now();
  private cached: { at: number; snap: Promise<EdgeSnapshot> } | null = null;
  private readonly recent = { dropped: new RecentDelta(), sinkErrors: new RecentDelta(), quarantined: new RecentDelta() };
  readonly thresholds: MonitorThresholds;

  constructor(private readonly src: MonitorSources, thresholds: Partial<MonitorThresholds> = {}) {
    this.clock = src.clock ?? new ClockMonitor();
    this.thresholds = { ...DEFAULT_THRESHOLDS, ...thresholds };
  }

  snapshot(): Promise<EdgeSnapshot> {
    const now = performance.now();
    if (this.cached && now - this.cached.at < 250) return this.cached.snap;
    const snap = this.take(now);
    this.cached = { at: now, snap };
    return snap;
  }

  private async take(now: number): Promise<EdgeSnapshot> {
    const spool = await this.src.spool.stats().then((s) => ({ s, e: '' }), (err: unknown) => ({ s: null, e: errorMessage(err) }));
    const [disk, spoolFileBytes] = await Promise.all([diskOf(this.src.spoolPath), fileBytes(this.src.spoolPath)]);
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    return {
      timeMs: Date.now(), uptimeS: Math.round((now - this.started) / 1000), spool: spool.s, spoolError: spool.e, spoolFileBytes, disk,
      forwarder: { ...this.src.forwarder.counters }, link: { ...this.src.link.counters, connected: this.src.link.connected, lastError: this.src.link.lastError ?? '' },
      devices: this.src.devices().map((d) => ({ name: d.name, health: d.health, poll: { ...d.poll }, ...(d.report ? { report: { ...d.report } } : {}) })),
      process: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, cpuUserUs: cpu.user, cpuSystemUs: cpu.system, systemFreeBytes: freemem() },
      clock: this.clock.check(),
    };
  }

  /** ok: all is well. degraded: data is kept but something needs attention. error: data is lost or at risk. */
  assess(s: EdgeSnapshot): Assessment {
    const reasons: HealthReason[] = [];
    const add = (level: HealthReason['level'], code: string, detail: string) => reasons.push({ level, code, detail });
    const t = performance.now();
    const w = this.thresholds.windowMs;
    if (!s.spool) add('error', 'spool_unavailable', s.spoolError);
    else if (s.spool.diskFull) add('error', 'spool_disk_full', s.spool.lastError || 'the spool cannot grow (disk full or file quota reached)');
    const sinkErrors = this.recent.sinkErrors.delta(t, s.devices.reduce((n, d) => n + d.poll.sinkErrors, 0), w);
    if (sinkErrors > 0) add('error', 'spool_write_failing', `${sinkErrors} spool appends failed in the last ${w / 1000} s`);
    const dropped = this.recent.dropped.delta(t, s.spool?.dropped ?? 0, w);
    if (dropped > 0) add('error', 'spool_dropping', `${dropped} readings dropped by the spool policy in the last ${w / 1000} s`);
    if (s.disk) this.assessDisk(s.disk, add);
    if (!s.link.connected) add('degraded', 'link_down', `not connected to the MQTT broker; readings are kept in the spool${s.link.lastError ? `; last error: ${s.link.lastError}` : ''}`);
    const quarantined = this.recent.quarantined.delta(t, s.spool?.quarantined ?? 0, w);
    if (quarantined > 0) add('degraded', 'spool_quarantining', `${quarantined} readings rejected by the ingest in the last ${w / 1000} s`);
    for (const d of s.devices) {
      if (d.health.state === 'down' || d.health.state === 'degraded') add('degraded', `device_${d.health.state}`, `${d.name}: ${d.health.lastError || d.health.state}`);
    }
    if (s.clock.state === 'unsynced') add('degraded', 'clock_unsynced', s.clock.detail);
    const status: HealthLevel = reasons.some((r) => r.level === 'error') ? 'error' : reasons.length > 0 ? 'degraded' : 'ok';
    return { status, reasons };
  }

  private assessDisk(disk: { freeBytes: number; totalBytes: number }, add: (level: HealthReason['level'], code: string, detail: string) => void): void {
    const { freeBytes, totalBytes } = disk;
    const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    if (freeBytes < Math.max(this.thresholds.diskFullBytes, totalBytes * 0.01)) add('error', 'disk_full', `${mib(freeBytes)} free of ${mib(totalBytes)} on the spool's filesystem`);
    else if (freeBytes < totalBytes * this.thresholds.diskLowFraction) add('degraded', 'disk_low', `${mib(freeBytes)} free of ${mib(totalBytes)} on the spool's filesystem`);
  }
}

/** How much a monotonic total grew within the last window (the first baseline is 0, at start). */
export class RecentDelta {
  private samples: { t: number; v: number }[] = [{ t: -Infinity, v: 0 }];

  delta(t: number, v: number, windowMs: number): number {
    // At most ~16 samples per window, whatever the scrape rate.
    if (t - this.samples[this.samples.length - 1]!.t >= windowMs / 16) this.samples.push({ t, v });
    // Keep the newest sample at or before the window start as the baseline.
    while (this.samples.length > 1 && this.samples[1]!.t <= t - windowMs) this.samples.shift();
    return v - this.samples[0]!.v;
  }
}

async function diskOf(path: string): Promise<EdgeSnapshot['disk']> {
  try {
    const s = await statfs(dirname(path));
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return null;
  }
}

async function fileBytes(path: string): Promise<number> {
  const sizes = await Promise.all([path, `${path}-wal`].map((p) => stat(p).then((s) => s.size, () => 0)));
  return sizes.reduce((a, b) => a + b, 0);
}
