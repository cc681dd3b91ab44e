import { sleep } from '../../core/backoff.js';
import { errorMessage } from '../../core/errors.js';
import { Quality, isGood } from '../../core/quality.js';
import type { Reading } from '../../core/reading.js';
import type { SubscribingDriver } from '../driver.js';
import type { OpcuaTag } from './config.js';
import { badReading } from './convert.js';
import { BadNodeIdInvalid, OpcuaDriver, splitValidNodeIds, type OpcuaPoint } from './opcua-driver.js';
import { startSubscription, type LiveSubscription } from './subscription.js';

/** Silence, in keep-alive periods, after which the watchdog declares a subscription dead (RELIABILITY U1). */
export const WATCHDOG_KEEPALIVE_PERIODS = 3;

/**
 * Subscribe mode: one subscription per device, every tag a monitored item. A supervisor loop owns
 * the lifecycle: connect, subscribe, watch; on a lost connection, a subscription the server
 * dropped, or a watchdog trip ("connected but no data" for 3 keep-alive periods, node-opcua #1334)
 * it emits one BadNoCommunication reading per tag, tears everything down and re-creates session,
 * subscription and every monitored item, with jittered backoff between attempts.
 */
export class OpcuaSubscribingDriver extends OpcuaDriver implements SubscribingDriver<OpcuaTag> {
  /** lastCreateMs: time to create the subscription and every monitored item, last (re-)subscribe. */
  readonly counters = { subscribes: 0, restores: 0, watchdogTrips: 0, notifications: 0, badItems: 0, lastCreateMs: 0 };
  private loop: Promise<void> | null = null;
  private readonly stop = new AbortController();
  private trouble: ((reason: string) => void) | null = null;

  subscribe(points: OpcuaPoint[], onReadings: (readings: Reading[]) => void): Promise<void> {
    if (this.loop) throw new Error('subscribe() may be called once per driver');
    const { valid, invalid } = splitValidNodeIds(points);
    if (invalid.length > 0) {
      this.log.error({ tags: invalid.map((p) => p.key) }, 'NodeIds that cannot be parsed; these tags stay BadNodeIdInvalid');
      onReadings(invalid.map((p) => badReading(p.tagId, BadNodeIdInvalid, this.now())));
    }
    return new Promise<void>((firstAttemptDone) => {
      this.loop = this.supervise(valid, onReadings, firstAttemptDone).catch((err: unknown) => {
        if (!this.closed) this.log.error({ err: errorMessage(err) }, 'subscription supervisor stopped unexpectedly');
      });
    });
  }

  private async supervise(points: OpcuaPoint[], onReadings: (r: Reading[]) => void, firstDone: () => void): Promise<void> {
    let lostAt = 0;
    while (!this.closed) {
      let live: LiveSubscription | null = null;
      let reason = 'closed';
      try {
        const link = await this.ensureSession(true);
        const t0 = performance.now();
        const troubled = new Promise<string>((resolve) => { this.trouble = resolve; });
        live = await startSubscription({
          session: link.session, device: this.device, points, now: this.now,
          onReadings: (r) => this.deliver(r, onReadings),
          onBroken: (why) => this.trouble?.(why),
        });
        this.counters.subscribes++;
        this.counters.badItems = live.badItems.length;
        this.healthT.state(live.badItems.length > 0 ? 'degraded' : 'ok');
        if (live.badItems.length > 0) this.log.warn({ bad: live.badItems.slice(0, 20).map((b) => ({ tag: b.key, code: `0x${b.code.toString(16)}` })), count: live.badItems.length }, 'server refused some monitored items; those tags are Bad, the others run');
        const ms = Math.round(performance.now() - t0);
        this.counters.lastCreateMs = ms;
        if (lostAt > 0) {
          this.counters.restores++;
          this.log.info({ items: live.items, createMs: ms, outageMs: Math.round(performance.now() - lostAt) }, 'subscription re-created, every monitored item restored');
        } else this.log.info({ items: live.items, createMs: ms, keepAlivePeriodMs: live.keepAlivePeriodMs }, 'subscribed');
        firstDone();
        reason = await this.watch(live, troubled);
      } catch (err) {
        reason = errorMessage(err);
      } finally {
        this.trouble = null;
      }
      firstDone();
      // The outage shows in the data and in the health at once (stamped when it was detected), before
      // a teardown that may wait on an unresponsive server; dropLink closes the session in the background.
      if (live && !this.closed && reason !== 'closed') {
        lostAt = performance.now();
        onReadings(points.map((p) => badReading(p.tagId, Quality.BadNoCommunication, this.now())));
      }
      if (!this.closed) this.dropLink(reason);
      await live?.close();
      if (this.closed) break;
      await sleep(this.backoff.next(), this.stop.signal).catch(() => undefined);
    }
  }

  private deliver(readings: Reading[], onReadings: (r: Reading[]) => void): void {
    this.counters.notifications += readings.length;
    if (readings.some((r) => isGood(r.quality))) this.healthT.good(this.now());
    onReadings(readings);
  }

  /** Resolves with the reason the subscription must be rebuilt (or 'closed'). */
  private watch(live: LiveSubscription, troubled: Promise<string>): Promise<string> {
    const limit = WATCHDOG_KEEPALIVE_PERIODS * live.keepAlivePeriodMs;
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<string>((resolve) => {
      timer = setInterval(() => {
        const silentMs = performance.now() - live.lastActivity();
        if (silentMs > limit) {
          this.counters.watchdogTrips++;
          this.healthT.count('watchdog');
          resolve(`watchdog: no publish response for ${Math.round(silentMs)} ms (${WATCHDOG_KEEPALIVE_PERIODS} keep-alive periods = ${limit} ms)`);
        }
      }, Math.max(50, Math.min(1000, live.keepAlivePeriodMs / 4)));
    });
    let onAbort = (): void => undefined;
    const closed = new Promise<string>((resolve) => { onAbort = () => resolve('closed'); this.stop.signal.addEventListener('abort', onAbort, { once: true }); });
    return Promise.race([troubled, watchdog, closed]).finally(() => { clearInterval(timer); this.stop.signal.removeEventListener('abort', onAbort); });
  }

  protected override onLinkLost(reason: string): void {
    this.trouble?.(reason);
  }

  protected override async stopping(): Promise<void> {
    this.stop.abort();
    await this.loop;
  }
}
