import type { Logger } from '../core/logger.js';
import type { Reading } from '../core/reading.js';
import { errorMessage } from '../core/errors.js';
import type { Point, SubscribingDriver } from '../drivers/driver.js';

export interface SubscriberOptions {
  logger: Logger;
  /** Where readings go (the spool), as for the Poller. */
  sink: (readings: Reading[]) => Promise<void>;
}

/**
 * The Poller's counterpart for drivers that push (OPC UA subscriptions): same counters, same sink.
 * Appends are serialised; readings that arrive while one is in flight are merged into the next
 * append, so a burst costs one spool transaction instead of one per notification.
 */
export class Subscriber {
  readonly counters = { cycles: 0, overruns: 0, readings: 0, sinkErrors: 0 };
  private pending: Reading[] = [];
  private flushing: Promise<void> | null = null;
  private stopped = false;
  private lastSinkLog = 0;

  constructor(private readonly driver: SubscribingDriver, private readonly points: Point[], private readonly opts: SubscriberOptions) {}

  start(): void {
    void this.driver.subscribe(this.points, (readings) => this.accept(readings));
  }

  private accept(readings: Reading[]): void {
    if (this.stopped) return;
    for (const r of readings) this.pending.push(r);
    this.flushing ??= this.drain();
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      this.counters.cycles++;
      this.counters.readings += batch.length;
      try {
        await this.opts.sink(batch);
      } catch (err) {
        this.counters.sinkErrors++;
        const now = performance.now();
        if (now - this.lastSinkLog > 60_000) {
          this.lastSinkLog = now;
          this.opts.logger.error({ err: errorMessage(err), lost: batch.length, sinkErrors: this.counters.sinkErrors }, 'readings could not be spooled');
        }
      }
    }
    this.flushing = null;
  }

  /** Stops taking readings and waits for the append in flight (the driver itself is closed by the agent). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.flushing;
  }
}
