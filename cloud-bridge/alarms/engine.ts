import type { Logger } from '../../core/logger.js';
import { errorMessage } from '../../core/errors.js';
import { isBad } from '../../core/quality.js';
import type { Value } from '../../core/reading.js';
import type { DecodedBatch } from '../../proto/codec.js';
import type { MessageBus } from '../message-bus.js';
import type { Gap } from '../gap-tracker.js';
import type { CloudStore, TagRow } from '../store/reading-store.js';
import type { AlarmRecord, AlarmType, NewAlarm } from '../store/analytics-types.js';
import type { QuarantineFullEvent, IntegrityEvent } from '../ingest.js';
import { allRules, expandPreset, globMatcher, type AlarmRule, type AlarmsConfig, type ValueRule } from './rules.js';
import { newValueState, stepValue, type ValueState } from './evaluate.js';
import { alarmJson } from './alarm-json.js';
import { checkTimeRules, type TimeTracks } from './time-rules.js';

export interface AlarmMetrics { raised: number; cleared: number; acknowledged: number; published: number; publishErrors: number; errors: number }

export interface AlarmContext {
  logger: Logger;
  now?: () => number;
  /** Tenant of a gateway (from the registry); undefined for an unknown gateway. */
  tenantOf: (gateway: string) => string | undefined;
  /** A gateway whose clock is further off the cloud's than this gets a clock_skew alarm (ingest.clockSkewAlarmMs; default 60 s). */
  clockSkewAlarmMs?: number;
}

export type AlarmEvent = 'raised' | 'cleared' | 'acknowledged';

const k = (...parts: string[]): string => parts.join('\u0000');

interface TagEntry { tag: TagRow; seenKey: string; deviceKey: string; rules: ValueRule[] }
/** Rule name of the built-in integrity alarms (replay_conflict, epoch_regression). */
export const INTEGRITY_RULE = 'ingest-integrity';
/** Rule name of the built-in clock alarm. */
export const CLOCK_RULE = 'gateway-clock';
/** Event alarms with nothing to clear them but a person: cleared when acknowledged. */
const CLEARED_BY_ACK: ReadonlySet<AlarmType> = new Set(['data_gap', 'replay_conflict', 'epoch_regression', 'quarantine_full']);

/** A numeric view of a value for thresholds: booleans as 0/1, 64-bit integers as the nearest double; strings and null have none. */
function numeric(v: Value): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  return null;
}

/**
 * Evaluates the alarm rules after each durable commit (ingest observer) and on a timer (stale
 * data, device down, gateway offline). Alarms are raised once per (rule, gateway, source), stored,
 * published on {topicRoot}/{tenant}/{gateway}/alarm and cleared past the hysteresis. All work runs
 * on one queue, in order, off the ingest's path: the Ack never waits for an alarm.
 */
export class AlarmEngine {
  readonly metrics: AlarmMetrics = { raised: 0, cleared: 0, acknowledged: 0, published: 0, publishErrors: 0, errors: 0 };
  readonly rules: AlarmRule[];
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly presetRules: Set<string>;
  private readonly active = new Map<string, AlarmRecord>();
  private readonly values = new Map<string, ValueState>();
  private readonly tracks: TimeTracks = { lastSeen: new Map(), lastGood: new Map(), startedMs: 0 };
  private readonly tagIndex = new Map<string, Map<number, TagEntry>>();
  private readonly listeners = new Set<(e: AlarmEvent, a: AlarmRecord) => void>();
  private chain: Promise<void> = Promise.resolve();
  private bus: MessageBus | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: CloudStore, private readonly config: AlarmsConfig, private readonly ctx: AlarmContext) {
    this.log = ctx.logger.child({ component: 'alarms' });
    this.now = ctx.now ?? Date.now;
    this.rules = allRules(config);
    this.presetRules = new Set(config.presets.flatMap(expandPreset).map((r) => r.name));
    if (config.presets.length > 0) this.log.warn({ rules: [...this.presetRules] }, 'coal-mine methane preset in use: its limits come from a secondary source and MUST be confirmed against the mine\'s own rules; Jinyun reports, the certified safety-monitoring system keeps the cut-off');
  }

  /** The MQTT side to publish alarms on (known once the broker is up). */
  attach(bus: MessageBus): void {
    this.bus = bus;
  }

  /** Loads active alarms (raised once, across restarts) and the known tags, then starts the timer. */
  async start(): Promise<void> {
    this.tracks.startedMs = this.now();
    for (const a of await this.store.alarms({ active: true, limit: 1_000_000 })) this.active.set(k(a.rule, a.gateway, a.source), a);
    for (const l of await this.store.latest({})) {
      this.tracks.lastSeen.set(k(l.gateway, l.key), this.tracks.startedMs);
      this.tracks.lastGood.set(k(l.gateway, l.device), this.tracks.startedMs);
    }
    this.timer = setInterval(() => this.enqueue(() => this.tick()), this.config.tickMs);
    this.timer.unref();
    this.log.info({ rules: this.rules.length, active: this.active.size }, 'alarm engine started');
  }

  /** Waits for queued work and stops the timer. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.chain;
  }

  /** Checks the time-based rules now (the timer does this every tickMs) and waits for the result. */
  check(): Promise<void> {
    return this.run(() => this.tick());
  }

  /** Resolves when every evaluation queued so far is done. */
  settled(): Promise<void> {
    return this.run(async () => undefined);
  }

  /** Called by every raise, clear and acknowledgement (the dashboard's live feed, GET /api/v1/events). */
  onEvent(fn: (e: AlarmEvent, a: AlarmRecord) => void): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  // --- ingest observer ---
  committed(gw: { id: string; tenant: string }, batch: DecodedBatch, receivedMs: number): void {
    this.enqueue(async () => {
      await this.onClock(gw, batch, receivedMs);
      await this.onBatch(gw, batch, receivedMs);
    });
  }

  /**
   * Built-in: the gateway's clock (its send time) is further off the cloud's than clockSkewAlarmMs.
   * Its readings keep the source times it gave (seq keeps their order, latest follows seq), so the
   * people reading them must know those times are off. Cleared once the skew is back under half.
   */
  private async onClock(gw: { id: string; tenant: string }, batch: DecodedBatch, receivedMs: number): Promise<void> {
    if (batch.sentTimeMs <= 0) return;
    const limit = this.ctx.clockSkewAlarmMs ?? 60_000;
    const skew = batch.sentTimeMs - receivedMs;
    const key = k(CLOCK_RULE, gw.id, 'clock');
    if (Math.abs(skew) > limit) {
      const s = Math.round(skew / 1000);
      await this.raise(key, { tenant: gw.tenant, gateway: gw.id, source: 'clock', rule: CLOCK_RULE, type: 'clock_skew', severity: 'warning', raisedMs: this.now(), value: skew, limit,
        message: `the clock of ${gw.id} is ${Math.abs(s)} s ${s > 0 ? 'ahead of' : 'behind'} the cloud's: the source times of its readings are off by as much (their order and "latest" follow the sequence)` });
    } else if (Math.abs(skew) <= limit / 2) {
      await this.clear(key, skew);
    }
  }

  gap(g: Gap): void {
    this.enqueue(async () => {
      const tenant = this.ctx.tenantOf(g.gateway);
      if (tenant === undefined) return;
      for (const r of this.rules) {
        if (r.type !== 'data_gap' || !globMatcher(r.gateway)(g.gateway)) continue;
        const source = `${g.producerId}:${g.seqFirst}-${g.seqLast}`;
        await this.raise(k(r.name, g.gateway, source), { tenant, gateway: g.gateway, source, rule: r.name, type: 'data_gap', severity: r.severity, raisedMs: this.now(), value: g.seqLast - g.seqFirst + 1, limit: null,
          message: `readings lost before the cloud: seqs ${g.seqFirst}-${g.seqLast} of producer ${g.producerId} never arrived` });
      }
    });
  }

  /**
   * Built-in and always on (no rule to configure): a sequence range that came again with other
   * content, or an epoch older than one already stored, means readings were at risk of being mixed
   * up or lost before the cloud; the batch is quarantined and the alarm raised until acknowledged.
   */
  integrity(e: IntegrityEvent): void {
    this.enqueue(async () => {
      const source = `${e.producerId}:e${e.epoch}:${e.seqFirst}-${e.seqLast}`;
      const what = e.reasonCode === 'replay_conflict' ? 'sent again with other content' : 'sent with an epoch older than one already stored';
      await this.raise(k(INTEGRITY_RULE, e.gateway, source), { tenant: e.tenant, gateway: e.gateway, source, rule: INTEGRITY_RULE, type: e.reasonCode, severity: 'alarm', raisedMs: this.now(), value: e.seqLast - e.seqFirst + 1, limit: null,
        message: `seqs ${e.seqFirst}-${e.seqLast} of producer ${e.producerId} (epoch ${e.epoch}) ${what}: quarantined, not stored (${e.reason})` });
    });
  }

  /**
   * Built-in: a gateway's quarantine reached its bound, so its oldest rejected messages are being
   * deleted (a broken or hostile gateway sending poison). Raised once, until acknowledged.
   */
  quarantineFull(e: QuarantineFullEvent): void {
    this.enqueue(async () => {
      await this.raise(k(INTEGRITY_RULE, e.gateway, 'quarantine'), { tenant: e.tenant, gateway: e.gateway, source: 'quarantine', rule: INTEGRITY_RULE, type: 'quarantine_full', severity: 'warning', raisedMs: this.now(),
        value: e.bytes, limit: e.limitBytes,
        message: `the quarantine of ${e.gateway} is full (${e.rows} rejected messages, ${e.bytes} bytes; bound ${e.limitRows} messages, ${e.limitBytes} bytes): its oldest rejected messages are being deleted` });
    });
  }

  /** Acknowledges an alarm of the tenant (any when undefined); a data gap alarm clears with it. null when no such alarm. */
  ack(id: number, by: string, tenant: string | undefined): Promise<AlarmRecord | null> {
    return this.run(async () => {
      const rec = await this.store.ackAlarm(id, by, this.now(), tenant);
      if (!rec) return null;
      this.metrics.acknowledged++;
      const key = k(rec.rule, rec.gateway, rec.source);
      const live = this.active.get(key);
      if (live?.id === rec.id) this.active.set(key, rec);
      this.emit('acknowledged', rec);
      if (CLEARED_BY_ACK.has(rec.type) && rec.clearedMs === null) return (await this.clear(key, null)) ?? rec;
      return rec;
    });
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.then(() => undefined, () => undefined);
    return p;
  }

  private enqueue(fn: () => Promise<void>): void {
    this.run(fn).catch((err: unknown) => {
      this.metrics.errors++;
      this.log.error({ err: errorMessage(err), total: this.metrics.errors }, 'alarm evaluation failed');
    });
  }

  /** A gateway's tags with what the per-reading work needs, computed once per tag (not per reading). */
  private async tagsOf(gateway: string, batch: DecodedBatch): Promise<Map<number, TagEntry>> {
    let m = this.tagIndex.get(gateway);
    if (!m || batch.readings.some((r) => !m!.has(r.tagId))) {
      m = new Map((await this.store.tags({ gateway })).map((t) => [t.tagId, { tag: t, seenKey: k(gateway, t.key), deviceKey: k(gateway, t.device), rules: this.valueRules(gateway, t.key) }]));
      this.tagIndex.set(gateway, m);
    }
    return m;
  }

  private valueRules(gateway: string, key: string): ValueRule[] {
    return this.rules.filter((r): r is ValueRule => (r.type === 'high' || r.type === 'low' || r.type === 'rate') && globMatcher(r.gateway)(gateway) && globMatcher(r.tag)(key));
  }

  private async onBatch(gw: { id: string; tenant: string }, batch: DecodedBatch, receivedMs: number): Promise<void> {
    const tags = await this.tagsOf(gw.id, batch);
    const { lastSeen, lastGood } = this.tracks;
    for (const r of batch.readings) {
      const t = tags.get(r.tagId);
      if (!t) continue;
      lastSeen.set(t.seenKey, receivedMs);
      // Awaited only when an alarm is active: a batch of a thousand tags costs no thousand microtasks.
      if (this.active.size > 0) await this.clearFor('stale', gw.id, t.tag.key);
      if (isBad(r.quality)) {
        if (!lastGood.has(t.deviceKey)) lastGood.set(t.deviceKey, receivedMs);
        continue;
      }
      lastGood.set(t.deviceKey, receivedMs);
      if (this.active.size > 0) await this.clearFor('device_down', gw.id, t.tag.device);
      if (t.rules.length === 0) continue;
      const v = numeric(r.value);
      if (v !== null) for (const rule of t.rules) await this.onValue(rule, gw, t.tag, r.ts, v);
    }
  }

  private async onValue(rule: ValueRule, gw: { id: string; tenant: string }, tag: TagRow, ts: number, v: number): Promise<void> {
    const key = k(rule.name, gw.id, tag.key);
    let s = this.values.get(key);
    if (!s) this.values.set(key, (s = newValueState(this.active.has(key))));
    const step = stepValue(rule, s, ts, v);
    if (!step) return;
    if (step.action === 'clear') {
      await this.clear(key, step.value);
      return;
    }
    const limit = rule.type === 'rate' ? rule.maxPerS : rule.limit;
    const what = rule.type === 'rate' ? `changes by ${round(step.measured)} ${tag.unit}/s > ${limit}` : `= ${round(v)} ${tag.unit} ${rule.type === 'high' ? '>=' : '<='} ${limit}`;
    const preset = this.presetRules.has(rule.name) ? ' (coal-mine preset: confirm against the mine\'s rules; the certified safety system keeps the cut-off)' : '';
    await this.raise(key, { tenant: gw.tenant, gateway: gw.id, source: tag.key, rule: rule.name, type: rule.type, severity: rule.severity, raisedMs: this.now(), value: v, limit, message: `${tag.key} ${what}${preset}` });
  }

  private async tick(): Promise<void> {
    const now = this.now();
    const gateways = this.rules.some((r) => r.type === 'gateway_offline') ? await this.store.gateways({}) : [];
    await checkTimeRules(this.rules, this.tracks, gateways, now, {
      raise: (key, a) => this.raise(key, a),
      clear: (key) => this.clear(key, null).then(() => undefined),
      tenantOf: this.ctx.tenantOf,
    });
  }

  private async raise(key: string, a: NewAlarm): Promise<void> {
    if (this.active.has(key)) return;
    const rec = await this.store.insertAlarm(a);
    this.active.set(key, rec);
    this.metrics.raised++;
    this.log.warn({ alarm: rec.id, rule: rec.rule, gateway: rec.gateway, source: rec.source, value: rec.value, severity: rec.severity }, `ALARM raised: ${rec.message}`);
    this.emit('raised', rec);
  }

  private async clear(key: string, value: number | null): Promise<AlarmRecord | null> {
    const rec = this.active.get(key);
    if (!rec) return null;
    const atMs = this.now();
    await this.store.clearAlarm(rec.id, atMs, value);
    this.active.delete(key);
    this.metrics.cleared++;
    const done = { ...rec, clearedMs: atMs, clearValue: value };
    this.log.info({ alarm: rec.id, rule: rec.rule, gateway: rec.gateway, source: rec.source, value }, 'alarm cleared');
    this.emit('cleared', done);
    return done;
  }

  /** A reading clears the stale (tag) or device-down (device) alarms of its source. */
  private async clearFor(type: 'stale' | 'device_down', gateway: string, source: string): Promise<void> {
    if (this.active.size === 0) return;
    for (const r of this.rules) {
      const key = k(r.name, gateway, source);
      if (r.type === type && this.active.has(key)) await this.clear(key, null);
    }
  }

  private emit(event: AlarmEvent, a: AlarmRecord): void {
    for (const fn of this.listeners) fn(event, a);
    if (!this.bus) return;
    const topic = `${this.config.topicRoot}/${a.tenant}/${a.gateway}/alarm`;
    this.bus.publish(topic, Buffer.from(JSON.stringify({ event, alarm: alarmJson(a) })), { qos: 1, retain: false }).then(
      () => { this.metrics.published++; },
      (err: unknown) => {
        this.metrics.publishErrors++;
        this.log.warn({ topic, err: errorMessage(err) }, 'alarm publish failed');
      });
  }
}

const round = (v: number): number => Math.round(v * 1000) / 1000;
