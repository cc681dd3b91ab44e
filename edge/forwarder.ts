import { Backoff } from '../core/backoff.js';
import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';
import { decodeAck, encodeBatchFromBlocks, type AckData, type CompressionName } from '../proto/codec.js';
import type { Spool, SpoolBatch, BatchLimits } from './spool.js';

/** The part of the MQTT link the forwarder needs. */
export interface Publisher {
  readonly connected: boolean;
  publish(topic: string, payload: Uint8Array, opts: { qos: 0 | 1; retain?: boolean }): Promise<void>;
}

export interface ForwarderOptions extends BatchLimits {
  dataTopic: string;
  /** Seal a partial batch once its oldest reading has waited this long. */
  maxDelayMs: number;
  ackTimeoutMs: number;
  maxInFlight: number;
  compression: CompressionName;
  /** liveFirst: during a backlog drain one extra batch slot carries the newest readings. oldestFirst: strictly in order. */
  order: 'liveFirst' | 'oldestFirst';
  retryInitialMs: number;
  retryMaxMs: number;
  logger: Logger;
  /** Called when the ingest asks for the catalog again (unknown tag id). */
  onCatalogNeeded?: () => void;
}

interface InFlight {
  batch: SpoolBatch;
  bytes: Uint8Array;
  timer: NodeJS.Timeout;
  sentAt: number;
}

/**
 * Moves sealed batches from the spool to the broker and settles them on the ingest's application
 * ACK (never on PUBACK). At most maxInFlight batches wait for an ACK; a batch without an ACK after
 * ackTimeoutMs is resent with jittered backoff; a REJECTED batch is quarantined and never resent.
 */
export class Forwarder {
  private inFlight = new Map<number, InFlight>();
  private retryAt = new Map<number, number>();
  private settling = new Set<number>();
  private retryBackoff: Backoff;
  private pumping = false;
  /** The running pump (close waits for it). */
  private pumpDone: Promise<void> = Promise.resolve();
  /** Acks being settled into the spool now (close waits for them). */
  private readonly settles = new Set<Promise<void>>();
  private again = false;
  private closed = false;
  private firstUnsealedAt: number | null = null;
  /** seq_first of the live batch in flight (liveFirst), if any. */
  private liveInFlight: number | null = null;
  private delayTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  readonly counters = { sent: 0, resent: 0, acked: 0, duplicates: 0, rejected: 0, retries: 0, timeouts: 0, ackedReadings: 0, errors: 0, bytesSent: 0 };

  constructor(private readonly spool: Spool, private readonly link: Publisher, private readonly opts: ForwarderOptions) {
    this.retryBackoff = new Backoff({ initialMs: opts.retryInitialMs, maxMs: opts.retryMaxMs });
    // A backlog found at start is ready to go at once.
    if (spool.unsealed() > 0) this.firstUnsealedAt = -Infinity;
  }

  /** Tell the forwarder readings were appended. */
  notifyAppended(): void {
    if (this.firstUnsealedAt === null) this.firstUnsealedAt = performance.now();
    if (this.spool.unsealed() >= this.opts.maxReadings) this.kick();
    else this.armDelay(this.opts.maxDelayMs);
  }

  private armDelay(ms: number): void {
    if (this.delayTimer || this.closed) return;
    this.delayTimer = setTimeout(() => { this.delayTimer = null; this.kick(); }, Math.max(1, Math.ceil(ms)));
  }

  /** The link came up: everything not acknowledged is sent again. */
  onLinkUp(): void {
    this.retryAt.clear();
    this.kick();
  }

  /** The link went down: batches in flight will be resent after reconnect. */
  onLinkDown(): void {
    for (const f of this.inFlight.values()) clearTimeout(f.timer);
    this.inFlight.clear();
    this.liveInFlight = null;
  }

  kick(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    this.pumpDone = this.pump()
      .catch((err) => {
        if (this.closed) return; // the spool or the link closed under it during a stop: nothing to retry
        this.counters.errors++;
        this.opts.logger.error({ err: errorMessage(err) }, 'forwarder pump failed; retrying');
        this.scheduleRetry(this.opts.retryInitialMs);
      })
      .finally(() => {
        this.pumping = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async pump(): Promise<void> {
    while (!this.closed && this.link.connected) {
      const liveFree = this.opts.order === 'liveFirst' && this.liveInFlight === null;
      const headFree = this.inFlight.size - (this.liveInFlight === null ? 0 : 1) < this.opts.maxInFlight;
      if (!liveFree && !headFree) return;
      const next = await this.next(headFree, liveFree);
      if (!next) return;
      if (next.live) this.liveInFlight = next.batch.seqFirst;
      await this.send(next.batch);
    }
  }

  private async next(headFree: boolean, liveFree: boolean): Promise<{ batch: SpoolBatch; live: boolean } | null> {
    const now = performance.now();
    if (headFree) {
      const skip = new Set<number>([...this.inFlight.keys(), ...this.settling]);
      for (const [seq, at] of this.retryAt) if (at > now) skip.add(seq);
      const [sealed] = await this.spool.sealed(skip, 1);
      if (sealed) return { batch: sealed, live: false };
    }
    const unsealed = this.spool.unsealed();
    if (unsealed === 0) {
      this.firstUnsealedAt = null;
      return null;
    }
    if (liveFree && unsealed > this.opts.maxReadings) {
      // A backlog is draining: the newest readings go in their own batch, ahead of it.
      const live = await this.spool.seal(this.opts, 'tail');
      if (live) return { batch: live, live: true };
    }
    if (!headFree) return null;
    const waited = this.firstUnsealedAt === null ? 0 : now - this.firstUnsealedAt;
    if (unsealed < this.opts.maxReadings && waited < this.opts.maxDelayMs) {
      // Not full and not old enough yet: come back when it will be (timers may fire a little early).
      this.armDelay(this.opts.maxDelayMs - waited + 1);
      return null;
    }
    const before = this.spool.unsealed();
    const batch = await this.spool.seal(this.opts);
    if (this.spool.unsealed() === 0) this.firstUnsealedAt = null;
    // The batch took every reading that was waiting when the seal began, so what is left was appended
    // during the seal: it waits its own maxDelayMs from now, not the sealed readings' age (which sent
    // it at the next ACK, in a batch of one or two readings).
    else if (batch && batch.count >= before) this.firstUnsealedAt = performance.now();
    return batch ? { batch, live: false } : null;
  }

  private async send(batch: SpoolBatch): Promise<void> {
    if (this.closed) return;
    const bytes = encodeBatchFromBlocks({ producerId: this.spool.producerId, epoch: batch.epoch, historical: batch.historical }, batch.blocks,
      { compression: this.opts.compression, sentTimeMs: Date.now() });
    const timer = setTimeout(() => this.onAckTimeout(batch.seqFirst), this.opts.ackTimeoutMs);
    this.inFlight.set(batch.seqFirst, { batch, bytes, timer, sentAt: performance.now() });
    this.retryAt.delete(batch.seqFirst);
    if (batch.attempts > 0) this.counters.resent++;
    this.counters.sent++;
    this.counters.bytesSent += bytes.length;
    await this.spool.markAttempt(batch.seqFirst);
    // Not awaited: a PUBACK proves nothing here, the application ACK (or its timeout) settles the batch.
    this.link.publish(this.opts.dataTopic, bytes, { qos: 1 }).catch((err: unknown) => {
      this.opts.logger.debug({ seqFirst: batch.seqFirst, err: errorMessage(err) }, 'publish failed; the batch goes again after its ack timeout or the next connect');
    });
  }

  private onAckTimeout(seqFirst: number): void {
    const f = this.inFlight.get(seqFirst);
    if (!f) return;
    this.inFlight.delete(seqFirst);
    if (this.liveInFlight === seqFirst) this.liveInFlight = null;
    this.counters.timeouts++;
    const delay = this.retryBackoff.next();
    this.retryAt.set(seqFirst, performance.now() + delay);
    this.opts.logger.warn({ seqFirst, count: f.batch.count, retryInMs: delay }, 'no ack for batch in time; will resend');
    this.scheduleRetry(delay);
    this.kick();
  }

  private scheduleRetry(delay: number): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.kick(); }, delay + 1);
  }

  /** Handles a message on the ack topic; returns false when it was not ours or not valid. */
  async onAckMessage(payload: Uint8Array): Promise<boolean> {
    let ack: AckData;
    try {
      ack = decodeAck(payload);
    } catch (err) {
      this.opts.logger.warn({ err: errorMessage(err) }, 'undecodable ack ignored');
      return false;
    }
    if (ack.producerId !== this.spool.producerId) return false;
    if (this.closed) return true; // stopping: the batch stays in the spool and is resent (and deduplicated) at the next start
    const f = this.inFlight.get(ack.seqFirst);
    const batch = f?.batch ?? { seqFirst: ack.seqFirst, seqLast: ack.seqFirst + ack.count - 1, epoch: ack.epoch };
    if (f && (f.batch.epoch !== ack.epoch || f.batch.count !== ack.count)) return false;
    if (f) {
      clearTimeout(f.timer);
      this.inFlight.delete(ack.seqFirst);
    }
    if (this.liveInFlight === ack.seqFirst) this.liveInFlight = null;
    this.settling.add(ack.seqFirst);
    const settled = this.settle(ack, batch, f);
    this.settles.add(settled);
    try {
      await settled;
    } finally {
      this.settling.delete(ack.seqFirst);
      this.settles.delete(settled);
    }
    this.kick();
    return true;
  }

  private async settle(ack: AckData, batch: { seqFirst: number; seqLast: number; epoch: number }, f: InFlight | undefined): Promise<void> {
    switch (ack.result) {
      case 'ok':
      case 'duplicate': {
        const n = await this.spool.settleAcked(batch);
        if (ack.result === 'ok') this.counters.acked++;
        else this.counters.duplicates++;
        this.counters.ackedReadings += n;
        this.retryBackoff.reset();
        break;
      }
      case 'rejected':
        this.counters.rejected++;
        this.opts.logger.error({ seqFirst: ack.seqFirst, count: ack.count, reasonCode: ack.reasonCode, reason: ack.reason }, 'ingest rejected batch; quarantined, not resent');
        await this.spool.settleRejected(batch, ack.reasonCode ?? '', ack.reason ?? '', f?.bytes ?? null);
        break;
      case 'retry': {
        this.counters.retries++;
        const delay = this.retryBackoff.next();
        this.retryAt.set(ack.seqFirst, performance.now() + delay);
        this.opts.logger.warn({ seqFirst: ack.seqFirst, reasonCode: ack.reasonCode, reason: ack.reason, retryInMs: delay }, 'ingest asked to retry batch');
        if (ack.reasonCode === 'unknown_tag') this.opts.onCatalogNeeded?.();
        this.scheduleRetry(delay);
        break;
      }
    }
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Stops sending and waits (at most `waitMs`) for the pump and the acks being settled, so the
   * spool and the link can close under nobody. Unacknowledged batches stay in the spool: the next
   * start resends them and the ingest dedupes them.
   */
  async close(waitMs = 1000): Promise<void> {
    this.closed = true;
    for (const f of this.inFlight.values()) clearTimeout(f.timer);
    this.inFlight.clear();
    if (this.delayTimer) clearTimeout(this.delayTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    let t: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => { t = setTimeout(resolve, waitMs); });
    await Promise.race([Promise.allSettled([this.pumpDone, ...this.settles]), limit]);
    clearTimeout(t);
  }
}
