import type { Logger } from '../core/logger.js';
import { DecodeError, errorMessage } from '../core/errors.js';
import { TOPIC_ROOT, parseTopic, topicFor, type TopicKind } from '../core/topics.js';
import { decodeBatch, decodeCatalog, decodeHealth, decodeStatus, encodeAck, pb, type AckData, type DecodedBatch } from '../proto/codec.js';
import type { CloudConfig } from './config.js';
import type { MessageBus } from './message-bus.js';
import type { CloudStore, WriteOutcome } from './store/reading-store.js';
import { peekBatchKey, type BatchKey } from './batch-key.js';
import { LogLimiter, bump, counterMap, type CounterMap } from './metrics.js';
import type { Registry } from './registry.js';
import { GapTracker, uncoveredParts, type Gap } from './gap-tracker.js';
import { EdgeClocksAhead, checkTimestamps, countNonMonotonic } from './batch-checks.js';
import { DataWrites } from './data-writes.js';

/** Instrumented points of the C2 fault test: after delivery, after decode, inside the transaction before COMMIT, after COMMIT, after the Ack publish. */
export type FaultPoint = 'received' | 'decoded' | 'before_commit' | 'committed' | 'acked';

export interface IngestMetrics {
  batchesReceived: number;
  batchesOk: number;
  batchesDuplicate: number;
  /** Rejected batches by reason code (malformed, invalid_batch, hash_mismatch, replay_conflict, ...). */
  rejected: CounterMap;
  /** Batches answered RETRY by reason code (unknown_tag, store_error). */
  retry: CounterMap;
  readingsStored: number;
  /** Readings of accepted batches that overlapping earlier batches had already stored. */
  readingsSkipped: number;
  quarantined: number;
  /** Same batch key, other content: seq reuse or tampering. An alarm. */
  replayConflicts: number;
  storeErrors: number;
  catalogs: number;
  statuses: number;
  healths: number;
  /** Messages set aside without an answer, by reason (overload, unknown_gateway, bad_topic, closing, *_invalid, health_too_large). */
  dropped: CounterMap;
  acksPublished: number;
  ackPublishErrors: number;
  /** Seqs reused under another epoch (restored edge database): an alarm. */
  epochRegressions: number;
  /** Quarantine entries that pushed older entries of the gateway out (its quarantine is full: quarantine_full alarm). */
  quarantineFull: number;
  /** Batches whose send time is more than clockSkewAlarmMs off the cloud clock. */
  clockSkewAlarms: number;
  /** Readings whose source time goes backwards within a tag (stored anyway). */
  nonMonotonicTimestamps: number;
  /** Producer seq gaps not filled within gapTimeoutMs. */
  gapsReported: number;
}

export interface IngestOptions {
  ingest: CloudConfig['ingest'];
  /** Data writes of one gateway running at once (1 when the store cannot take two of a gateway safely at once). */
  parallelWrites?: number;
  registry: Registry;
}

export interface IngestContext {
  logger: Logger;
  now?: () => number;
  /** Fault injection (tests only): called at each instrumented point. */
  fault?: (point: FaultPoint) => void;
  /** Told of each durably committed batch and each reported gap (the alarm engine). */
  observer?: IngestObserver;
}

/** Sees what the ingest committed, after COMMIT and before the Ack; must return at once and never throw. */
export interface IngestObserver {
  committed(gw: { id: string; tenant: string }, batch: DecodedBatch, receivedMs: number): void;
  gap(g: Gap): void;
  /** A batch refused because its key was seen before with other content (replay_conflict) or an older epoch came back (epoch_regression). */
  integrity(e: IntegrityEvent): void;
  /** A gateway's quarantine is at its bound: its oldest rejected messages are being deleted. */
  quarantineFull?(e: QuarantineFullEvent): void;
}

export interface QuarantineFullEvent {
  gateway: string;
  tenant: string;
  rows: number;
  bytes: number;
  limitRows: number;
  limitBytes: number;
}

export interface IntegrityEvent {
  gateway: string;
  tenant: string;
  producerId: string;
  epoch: number;
  seqFirst: number;
  seqLast: number;
  reasonCode: 'replay_conflict' | 'epoch_regression';
  reason: string;
}

interface Gw { id: string; tenant: string }
interface Chain { tail: Promise<void>; queued: number }

const KINDS: readonly TopicKind[] = ['data', 'catalog', 'status', 'health'];

/**
 * Batches in, acknowledgements out: decode, dedupe and store in one durable transaction, and only
 * then publish the Ack. Messages of one gateway are processed strictly in arrival order (one
 * promise chain per gateway); nothing a gateway sends can crash the process.
 */
export class Ingest {
  readonly metrics: IngestMetrics = {
    batchesReceived: 0, batchesOk: 0, batchesDuplicate: 0, rejected: counterMap(), retry: counterMap(), readingsStored: 0, readingsSkipped: 0,
    quarantined: 0, replayConflicts: 0, storeErrors: 0, catalogs: 0, statuses: 0, healths: 0, dropped: counterMap(), acksPublished: 0, ackPublishErrors: 0,
    epochRegressions: 0, quarantineFull: 0, clockSkewAlarms: 0, nonMonotonicTimestamps: 0, gapsReported: 0,
  };
  readonly gaps: GapTracker;
  private readonly chains = new Map<string, Chain>();
  private readonly log: Logger;
  private readonly fault: (point: FaultPoint) => void;
  private gapTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly limiter: LogLimiter;
  private closing = false;
  private readonly observer: IngestObserver | undefined;
  /** The store's answers to batch writes, and the last message dropped for a full queue (the cloud's health reads them). */
  readonly writes = { lastOkMs: 0, lastErrorMs: 0, lastError: '', lastOverloadMs: 0 };
  /** Per gateway, its data writes in progress (dataWrites). */
  private readonly writing = new Map<string, DataWrites>();
  /** How far ahead of the cloud's each gateway's clock runs, or ran a moment ago. */
  private readonly edgeClocks = new EdgeClocksAhead();
  /** Per gateway, the quarantine's eviction count last seen (a rise means it is full). */
  private readonly evictedSeen = new Map<string, number>();

  constructor(private readonly store: CloudStore, private readonly bus: MessageBus, private readonly opts: IngestOptions, ctx: IngestContext) {
    this.log = ctx.logger.child({ component: 'ingest' });
    this.fault = ctx.fault ?? (() => undefined);
    this.gaps = new GapTracker(opts.ingest.gapTimeoutMs);
    this.now = ctx.now ?? Date.now;
    this.limiter = new LogLimiter(60_000, this.now);
    this.observer = ctx.observer;
  }

  async start(): Promise<void> {
    for (const kind of KINDS) await this.bus.subscribe(`${TOPIC_ROOT}/+/+/${kind}`, (topic, payload) => this.onMessage(topic, payload));
    let checking = false;
    this.gapTimer = setInterval(() => {
      if (checking) return;
      checking = true;
      void this.reportGaps().finally(() => { checking = false; });
    }, Math.min(5000, Math.max(50, this.opts.ingest.gapTimeoutMs / 2)));
    this.gapTimer.unref();
  }

  /**
   * Producer seq gaps open longer than the reorder timeout: a GAP event each (counted, logged as an
   * error), unless the store shows the seqs arrived meanwhile (through another ingest worker behind
   * a shared subscription, or a restart). Resolves when the check is done.
   */
  async reportGaps(): Promise<void> {
    for (const g of this.gaps.expired(this.now())) {
      let open: Gap[] = [g];
      try {
        open = uncoveredParts(g, await this.store.storedRanges(g.gateway, g.producerId, g.seqFirst, g.seqLast));
      } catch (err) {
        this.log.warn({ gateway: g.gateway, err: errorMessage(err) }, 'cannot check a gap against the store; reporting it');
      }
      for (const part of open) {
        this.metrics.gapsReported++;
        this.log.error({ gateway: part.gateway, producerId: part.producerId, seqFirst: part.seqFirst, seqLast: part.seqLast, openMs: this.now() - part.sinceMs, total: this.metrics.gapsReported }, 'GAP: producer seqs not received within the reorder timeout');
        this.observer?.gap(part);
      }
    }
  }

  /** Connection-level presence from the broker, applied in order with the gateway's messages. */
  onPresence(e: { gateway: string; online: boolean; atMs: number }): void {
    this.enqueue(e.gateway, true, () => this.store.setPresence(e.gateway, { online: e.online, atMs: e.atMs }));
  }

  /** Stops taking messages and waits until every queued one is processed (and its Ack published). */
  async drain(): Promise<void> {
    this.closing = true;
    clearInterval(this.gapTimer);
    while (this.chains.size > 0 || this.writing.size > 0) {
      await Promise.all([...this.chains.values()].map((c) => c.tail));
      await Promise.all([...this.writing.values()].map((w) => w.tail));
    }
  }

  private onMessage(topic: string, payload: Buffer): void {
    try {
      const t = parseTopic(topic);
      if (!t) return this.drop('bad_topic', topic, {});
      const gw = this.opts.registry.gateway(t.gateway);
      // The broker ACL bound the topic to the credential; a mismatch here means a misconfigured bus
      // or a gateway revoked since it published (bad-input row 29).
      if (!gw || gw.tenant !== t.tenant) return this.drop(this.opts.registry.isRevoked(t.gateway) ? 'revoked_gateway' : 'unknown_gateway', t.gateway, { topic: topic.slice(0, 200) });
      if (this.closing) return this.drop('closing', gw.id, {});
      if (!this.enqueue(gw.id, false, () => this.handle(gw, t.kind, payload))) this.drop('overload', gw.id, { kind: t.kind });
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'message dispatch failed');
    }
  }

  private enqueue(gateway: string, force: boolean, work: () => Promise<unknown>): boolean {
    let chain = this.chains.get(gateway);
    if (!chain) {
      chain = { tail: Promise.resolve(), queued: 0 };
      this.chains.set(gateway, chain);
    }
    if (!force && chain.queued >= this.opts.ingest.maxQueuedPerGateway) return false;
    const c = chain;
    c.queued++;
    c.tail = c.tail
      .then(async () => { await work(); })
      .catch((err: unknown) => this.log.error({ gateway, err: errorMessage(err) }, 'message handling failed'))
      .finally(() => {
        c.queued--;
        if (c.queued === 0 && this.chains.get(gateway) === c) this.chains.delete(gateway);
      });
    return true;
  }

  private async handle(gw: Gw, kind: TopicKind, payload: Buffer): Promise<void> {
    switch (kind) {
      case 'data': return this.onData(gw, payload);
      case 'catalog': return this.onCatalog(gw, payload);
      case 'status': return this.onStatus(gw, payload);
      case 'health': return this.onHealth(gw, payload);
      default: return;
    }
  }

  private async onData(gw: Gw, payload: Buffer): Promise<void> {
    const m = this.metrics;
    m.batchesReceived++;
    const receivedMs = this.now();
    this.fault('received');
    let batch: DecodedBatch;
    try {
      batch = decodeBatch(payload);
      const skew = checkTimestamps(batch, receivedMs, this.opts.ingest, this.edgeClocks.aheadMs(gw.id, batch, receivedMs));
      if (skew) throw new DecodeError('clock_skew', skew);
    } catch (err) {
      const reasonCode = err instanceof DecodeError ? err.reasonCode : 'malformed';
      const key = peekBatchKey(payload);
      bump(m.rejected, reasonCode);
      this.warn(gw.id, reasonCode, { ...key, reason: errorMessage(err) }, 'batch rejected: cannot decode');
      await this.quarantine(gw, 'data', receivedMs, reasonCode, errorMessage(err), key, payload);
      return this.ack(gw, { ...key, result: 'rejected', reasonCode, reason: errorMessage(err) });
    }
    const key: BatchKey = { producerId: batch.producerId, epoch: batch.epoch, seqFirst: batch.seqFirst, count: batch.count };
    this.observeTime(gw, batch, receivedMs);
    this.fault('decoded');
    // The write runs while the gateway's next batches are decoded and written too (up to parallelWrites
    // at once: the SQLite store commits them in one group, one fsync); what follows a write (counters,
    // gap tracking, alarms, the Ack) runs in arrival order.
    const w = this.dataWrites(gw.id);
    await w.slot();
    const written = this.store.writeBatch(gw.id, batch, { receivedMs, bytes: payload, beforeCommit: () => this.fault('before_commit') })
      .then((outcome) => ({ outcome, err: undefined }), (err: unknown) => ({ outcome: undefined, err }));
    const prev = w.tail;
    w.tail = (async () => {
      const r = await written;
      await prev;
      await this.afterWrite(gw, batch, key, receivedMs, r.outcome, r.err);
    })().catch((err: unknown) => this.log.error({ gateway: gw.id, ...key, err: errorMessage(err) }, 'batch handling failed')).finally(() => w.release());
  }

  /** The gateway's outstanding data writes: a slot for each (at most parallelWrites) and the tail of their in-order completion. */
  private dataWrites(gateway: string): DataWrites {
    let w = this.writing.get(gateway);
    if (!w) {
      w = new DataWrites(this.opts.parallelWrites ?? 1, () => { if (this.writing.get(gateway) === w && w!.idle) this.writing.delete(gateway); });
      this.writing.set(gateway, w);
    }
    return w;
  }

  private async afterWrite(gw: Gw, batch: DecodedBatch, key: BatchKey, receivedMs: number, outcome: WriteOutcome | undefined, err: unknown): Promise<void> {
    const m = this.metrics;
    if (!outcome) {
      this.writes.lastErrorMs = this.now();
      this.writes.lastError = errorMessage(err).slice(0, 300);
      m.storeErrors++;
      bump(m.retry, 'store_error');
      if (this.limiter.allow(`${gw.id}\u0000store_error`)) this.log.error({ gateway: gw.id, ...key, err: errorMessage(err), total: m.storeErrors }, 'batch not stored: store error; asking the edge to retry');
      return this.ack(gw, { ...key, result: 'retry', reasonCode: 'store_error', reason: 'the store could not commit the batch' });
    }
    this.writes.lastOkMs = this.now();
    this.fault('committed');
    if (outcome.result === 'ok' || outcome.result === 'duplicate') this.gaps.observe(gw.id, batch.producerId, batch.seqFirst, batch.count, receivedMs);
    switch (outcome.result) {
      case 'ok':
        m.batchesOk++;
        m.readingsStored += outcome.stored;
        m.readingsSkipped += outcome.skipped;
        this.log.debug({ gateway: gw.id, ...key, stored: outcome.stored, skipped: outcome.skipped }, 'batch stored');
        this.observer?.committed(gw, batch, receivedMs); // alarms: after the durable commit
        return this.ack(gw, { ...key, result: 'ok' });
      case 'duplicate':
        m.batchesDuplicate++;
        m.readingsSkipped += outcome.skipped;
        return this.ack(gw, { ...key, result: 'duplicate' });
      case 'rejected':
        bump(m.rejected, outcome.reasonCode);
        m.quarantined++;
        if (outcome.reasonCode === 'epoch_regression') m.epochRegressions++;
        else m.replayConflicts++;
        if (this.limiter.allow(`${gw.id}\u0000${outcome.reasonCode}`)) this.log.error({ gateway: gw.id, ...key, reasonCode: outcome.reasonCode, reason: outcome.reason }, 'ALARM: seq reuse (replay with other content or epoch regression); quarantined, not stored');
        await this.checkQuarantine(gw).catch(() => undefined);
        this.observer?.integrity({
          gateway: gw.id, tenant: gw.tenant, producerId: batch.producerId, epoch: batch.epoch, seqFirst: batch.seqFirst, seqLast: batch.seqFirst + batch.count - 1,
          reasonCode: outcome.reasonCode, reason: outcome.reason,
        });
        return this.ack(gw, { ...key, result: 'rejected', reasonCode: outcome.reasonCode, reason: outcome.reason });
      case 'retry':
        bump(m.retry, outcome.reasonCode);
        this.warn(gw.id, outcome.reasonCode, { ...key, reason: outcome.reason }, 'batch not stored: asking the edge to retry');
        return this.ack(gw, { ...key, result: 'retry', reasonCode: outcome.reasonCode, reason: outcome.reason });
    }
  }

  /** Row 27 and the row 28 alarm: non-monotonic source times are counted; a send time far off the cloud clock is an alarm. */
  private observeTime(gw: Gw, batch: DecodedBatch, receivedMs: number): void {
    const back = countNonMonotonic(batch);
    this.metrics.nonMonotonicTimestamps += back;
    if (back > 0) this.warn(gw.id, 'non_monotonic_time', { producerId: batch.producerId, readings: back }, 'source time goes backwards within a batch (stored; seq is the order)');
    if (batch.sentTimeMs > 0 && Math.abs(batch.sentTimeMs - receivedMs) > this.opts.ingest.clockSkewAlarmMs) {
      this.metrics.clockSkewAlarms++;
      this.warn(gw.id, 'clock_skew_alarm', { skewMs: batch.sentTimeMs - receivedMs }, 'edge clock is off the cloud clock');
    }
  }

  private async onCatalog(gw: Gw, payload: Buffer): Promise<void> {
    try {
      const catalog = decodeCatalog(payload);
      if (!catalog.producerId) throw new DecodeError('invalid_catalog', 'catalog without producer_id');
      await this.store.upsertCatalog(gw.id, catalog);
      this.metrics.catalogs++;
      this.log.info({ gateway: gw.id, producerId: catalog.producerId, version: catalog.version, tags: catalog.tags.length, devices: catalog.devices.length }, 'catalog stored');
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.drop('catalog_invalid', gw.id, { reason: err.message });
      await this.quarantine(gw, 'catalog', this.now(), err.reasonCode, err.message, undefined, payload);
    }
  }

  private async onStatus(gw: Gw, payload: Buffer): Promise<void> {
    let s;
    try {
      s = decodeStatus(payload);
    } catch (err) {
      return this.drop('status_invalid', gw.id, { reason: errorMessage(err) });
    }
    this.metrics.statuses++;
    await this.store.setPresence(gw.id, { online: s.online, atMs: this.now(), epoch: s.epoch, producerId: s.producerId || undefined });
  }

  private async onHealth(gw: Gw, payload: Buffer): Promise<void> {
    if (payload.length > this.opts.ingest.maxHealthBytes) return this.drop('health_too_large', gw.id, { bytes: payload.length });
    let json: string;
    try {
      json = JSON.stringify(pb.Health.toObject(decodeHealth(payload), { longs: Number, enums: String, defaults: true }));
    } catch (err) {
      return this.drop('health_invalid', gw.id, { reason: errorMessage(err) });
    }
    this.metrics.healths++;
    await this.store.setHealth(gw.id, json, this.now());
  }

  private async quarantine(gw: Gw, kind: string, receivedMs: number, reasonCode: string, reason: string, key: BatchKey | undefined, bytes: Buffer): Promise<void> {
    try {
      await this.store.quarantine({ gateway: gw.id, kind, receivedMs, reasonCode, reason, key, bytes });
      this.metrics.quarantined++;
      await this.checkQuarantine(gw);
    } catch (err) {
      this.metrics.storeErrors++;
      this.log.error({ gateway: gw.id, reasonCode, err: errorMessage(err) }, 'cannot quarantine rejected bytes');
    }
  }

  /** After a quarantine entry: when older entries of the gateway were deleted to stay within the bounds, its quarantine is full: counted, logged, alarmed. */
  private async checkQuarantine(gw: Gw): Promise<void> {
    const o = this.opts.ingest;
    const u = await this.store.quarantineUsage(gw.id);
    const seen = this.evictedSeen.get(gw.id);
    this.evictedSeen.set(gw.id, u.evicted);
    if (seen === undefined ? u.evicted === 0 : u.evicted <= seen) return;
    this.metrics.quarantineFull++;
    this.warn(gw.id, 'quarantine_full', { rows: u.rows, bytes: u.bytes }, 'quarantine of the gateway is full: its oldest rejected messages are deleted');
    this.observer?.quarantineFull?.({ gateway: gw.id, tenant: gw.tenant, rows: u.rows, bytes: u.bytes, limitRows: o.maxQuarantinePerGateway, limitBytes: o.maxQuarantineBytesPerGateway });
  }

  private ack(gw: Gw, a: AckData): void {
    this.bus.publish(topicFor(gw.tenant, gw.id, 'ack'), encodeAck(a), { qos: 1, retain: false }).then(
      () => {
        this.metrics.acksPublished++;
        this.fault('acked');
      },
      (err: unknown) => {
        this.metrics.ackPublishErrors++;
        this.log.warn({ gateway: gw.id, err: errorMessage(err) }, 'ack publish failed (the edge will resend)');
      },
    );
  }

  private drop(reason: string, source: string, fields: Record<string, unknown>): void {
    bump(this.metrics.dropped, reason);
    if (reason === 'overload') this.writes.lastOverloadMs = this.now();
    this.warn(source, reason, fields, 'message dropped');
  }

  private warn(source: string, reason: string, fields: Record<string, unknown>, msg: string): void {
    if (this.limiter.allow(`${source}\u0000${reason}`)) this.log.warn({ gateway: source, reasonCode: reason, ...fields }, msg);
  }
}
