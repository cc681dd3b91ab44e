import { sleep } from '../core/backoff.js';
import type { Logger } from '../core/logger.js';
import type { Reading } from '../core/reading.js';
import { errorMessage } from '../core/errors.js';
import type { Driver, Point } from '../drivers/driver.js';

/** Appends of one device that may be committing at once (see run). */
export const MAX_APPENDING = 4;

export interface PollerOptions {
  intervalMs: number;
  logger: Logger;
  /** Where readings go (the spool); a rejection is counted and logged, the poller keeps going. */
  sink: (readings: Reading[]) => Promise<void>;
}

/**
 * Polls one device's points on a fixed-rate schedule measured with the monotonic clock, so a wall
 * clock jump never speeds up or stalls polling. A read that overruns skips the missed slots (counted)
 * instead of bursting to catch up.
 */
export class Poller {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  readonly counters = { cycles: 0, overruns: 0, readings: 0, sinkErrors: 0 };
  private lastSinkLog = 0;

  constructor(private readonly driver: Driver, private readonly points: Point[], private readonly opts: PollerOptions) {}

  start(): void {
    this.loop ??= this.run().catch((err) => {
      if (!this.abort.signal.aborted) this.opts.logger.error({ err: errorMessage(err) }, 'poller stopped unexpectedly');
    });
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const { intervalMs } = this.opts;
    const t0 = performance.now();
    let slot = 0;
    // The appends of earlier cycles commit while the next read is on the wire: up to
    // MAX_APPENDING appends of this device outstanding (the spool keeps them in order), so the
    // spool's pace still holds the poller back, but a commit that takes longer than a slot (an
    // fsync, a group commit of every device) no longer costs a poll slot.
    const appending: Promise<void>[] = [];
    try {
      while (!signal.aborted) {
        const readings = await this.driver.read(this.points, signal);
        this.counters.cycles++;
        this.counters.readings += readings.length;
        while (appending.length >= MAX_APPENDING) await appending.shift();
        if (signal.aborted) break; // stopping: the spool takes no more (policy block may be holding it at its cap)
        appending.push(this.deliver(readings));
        slot++;
        const now = performance.now();
        let next = t0 + slot * intervalMs;
        if (next < now) {
          const behind = Math.ceil((now - next) / intervalMs);
          this.counters.overruns += behind;
          slot += behind;
          next = t0 + slot * intervalMs;
        }
        await sleep(next - now, signal).catch(() => undefined);
      }
    } finally {
      await Promise.all(appending);
    }
  }

  /** Hands readings to the sink; a failure is counted and logged (once a minute), never thrown. */
  private async deliver(readings: Reading[]): Promise<void> {
    try {
      await this.opts.sink(readings);
    } catch (err) {
      this.counters.sinkErrors++;
      const now = performance.now();
      if (now - this.lastSinkLog > 60_000) {
        this.lastSinkLog = now;
        this.opts.logger.error({ err: errorMessage(err), lost: readings.length, sinkErrors: this.counters.sinkErrors }, 'readings could not be spooled');
      }
    }
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('poller stopped'));
    await this.loop;
  }
}
