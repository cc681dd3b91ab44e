import { execFile } from 'node:child_process';

export type ClockState = 'unknown' | 'synced' | 'unsynced';

export interface ClockReport {
  state: ClockState;
  /** Why the state is what it is, e.g. "wall clock before 2020" or "timedatectl: NTPSynchronized=yes". */
  detail: string;
  /** Largest wall-vs-monotonic step seen in the last window, ms (signed; 0 when none). */
  jumpMs: number;
}

export interface ClockMonitorOptions {
  /** A step of the wall clock against the monotonic clock larger than this counts as a jump. */
  jumpThresholdMs?: number;
  /** How long a jump keeps the state unsynced, and how often the system is asked again. */
  windowMs?: number;
  /** Asks the system whether the clock is synchronized; null when it cannot tell. Injectable for tests. */
  probe?: () => Promise<boolean | null>;
  wallNow?: () => number;
  monoNow?: () => number;
}

/** 2020-01-01T00:00:00Z: a wall clock before this is surely unset (an RTC without battery boots in 1970 or 2000). */
export const MIN_PLAUSIBLE_WALL_MS = Date.UTC(2020, 0, 1);

/**
 * Best-effort wall-clock health. It flags, without any help from the system, a wall clock before
 * 2020 and a wall clock that steps against the monotonic clock (NTP correcting a wrong clock, or an
 * operator setting it); and it asks `timedatectl` once per window whether NTP is synchronized.
 * Without timedatectl (containers, non-systemd hosts) and with no anomaly the state is 'unknown'.
 */
export class ClockMonitor {
  private readonly jumpThresholdMs: number;
  private readonly windowMs: number;
  private readonly wallNow: () => number;
  private readonly monoNow: () => number;
  private readonly probe: () => Promise<boolean | null>;
  private offset: number;
  private jump = { ms: 0, atMono: -Infinity };
  private system: { synced: boolean | null; atMono: number } = { synced: null, atMono: -Infinity };
  private probing: Promise<void> | null = null;

  constructor(opts: ClockMonitorOptions = {}) {
    this.jumpThresholdMs = opts.jumpThresholdMs ?? 2000;
    this.windowMs = opts.windowMs ?? 600_000;
    this.wallNow = opts.wallNow ?? Date.now;
    this.monoNow = opts.monoNow ?? (() => performance.now());
    this.probe = opts.probe ?? timedatectlSynced;
    this.offset = this.wallNow() - this.monoNow();
  }

  /** Samples the clocks and returns the state; refreshes the system answer in the background. */
  check(): ClockReport {
    const wall = this.wallNow();
    const mono = this.monoNow();
    const offset = wall - mono;
    const step = offset - this.offset;
    this.offset = offset;
    if (Math.abs(step) > this.jumpThresholdMs) this.jump = { ms: Math.round(step), atMono: mono };
    if (mono - this.system.atMono > this.windowMs && !this.probing) this.refresh(mono);
    const recentJump = mono - this.jump.atMono <= this.windowMs ? this.jump.ms : 0;
    if (wall < MIN_PLAUSIBLE_WALL_MS) return { state: 'unsynced', detail: `wall clock before 2020 (${new Date(wall).toISOString()})`, jumpMs: recentJump };
    if (recentJump !== 0) return { state: 'unsynced', detail: `wall clock stepped ${recentJump} ms against the monotonic clock`, jumpMs: recentJump };
    if (this.system.synced === true) return { state: 'synced', detail: 'timedatectl: NTPSynchronized=yes', jumpMs: 0 };
    if (this.system.synced === false) return { state: 'unsynced', detail: 'timedatectl: NTPSynchronized=no', jumpMs: 0 };
    return { state: 'unknown', detail: 'synchronization state not available', jumpMs: 0 };
  }

  /** Resolves once the system has been asked (tests; the agent never waits on it). */
  async settled(): Promise<void> {
    await this.probing;
  }

  private refresh(mono: number): void {
    this.probing = this.probe()
      .catch(() => null)
      .then((synced) => { this.system = { synced, atMono: mono }; })
      .finally(() => { this.probing = null; });
  }
}

/** `timedatectl show -p NTPSynchronized --value`: true/false, or null when not available. */
export function timedatectlSynced(): Promise<boolean | null> {
  return new Promise((resolve) => {
    execFile('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 2000 }, (err, stdout) => {
      if (err) return resolve(null);
      const v = stdout.trim();
      resolve(v === 'yes' ? true : v === 'no' ? false : null);
    });
  });
}
