import { randomUUID } from 'node:crypto';
import { chmodSync } from 'node:fs';
import type { Reading } from '../core/reading.js';
import { Sqlite, sqliteCode } from '../core/sqlite.js';
import { errorMessage } from '../core/errors.js';
import { migrate } from './spool-schema.js';
import { moveReadingsToBlocks } from './spool-migrate-v2.js';
import { pickRun, toBlocks, toStored } from './spool-blocks.js';
import { fits, overflow, type Usage } from './spool-policy.js';
import type { AppendResult, BatchLimits, SpoolBatch, SpoolOptions, SpoolStats } from './spool-types.js';
import { SpoolStore } from './spool-store.js';

export { SPOOL_DEFAULTS, type AppendResult, type BatchLimits, type SpoolBatch, type SpoolOptions, type SpoolStats } from './spool-types.js';

interface Pending {
  readings: Reading[];
  source: string;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/**
 * The edge outbox. Every reading is appended here durably before anything else happens to it and
 * leaves only when the ingest's application ACK for its batch arrives (settle), or when a cap or a
 * full disk makes the configured policy drop it (counted by source). Appends are group-committed:
 * callers that arrive while a commit runs share the next one. Each caller's readings become one
 * block row, encoded once; batches are runs of whole blocks.
 */
export class Spool {
  readonly producerId: string;
  readonly epoch: number;
  private pending: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  private counters = { appended: 0, acked: 0, dropped: 0, quarantined: 0, checkpoints: 0 };
  private lastCheckpoint = { at: performance.now(), acked: 0 };
  private diskFull = false;
  private lastError = '';
  private readonly now: () => number;

  private constructor(private readonly store: SpoolStore, private readonly opts: SpoolOptions) {
    this.producerId = store.producerId;
    this.epoch = store.epoch;
    this.now = opts.now ?? Date.now;
  }

  static async open(opts: SpoolOptions): Promise<Spool> {
    const db = await Sqlite.open(opts.path);
    try {
      chmodSync(opts.path, 0o600);
      // The WAL is kept small: automatic checkpoints every 1000 pages, the file cut back to 64 MiB after
      // one, and checkpoint(TRUNCATE) to zero bytes after drains (see maybeCheckpoint).
      await db.exec('PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000; PRAGMA wal_autocheckpoint=1000; PRAGMA journal_size_limit=67108864; PRAGMA temp_store=MEMORY;');
      await migrate(db, { 2: moveReadingsToBlocks });
      const store = await SpoolStore.open(db, opts);
      opts.logger.info({ producerId: store.producerId, epoch: store.epoch, depth: store.used.readings, path: opts.path }, 'spool opened');
      return new Spool(store, opts);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
  }

  tagIds(keys: string[]): Promise<Map<string, number>> {
    return this.store.tagIds(keys);
  }

  /**
   * Appends readings durably; resolves once they are committed (or dropped by the policy, counted).
   * With policy `block` it resolves only when there is room, so the caller (a poller) waits.
   */
  /** Set by releaseWaiting (the agent is stopping): appends never wait for room any more. */
  private stopping = false;

  append(readings: Reading[], source = ''): Promise<AppendResult> {
    if (readings.length === 0) return Promise.resolve({ stored: 0, dropped: 0 });
    return new Promise((resolve, reject) => {
      this.pending.push({ readings, source, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    // An append that lands after the loop's last check but before this finally would wait forever
    // (the OPC UA Subscriber appends again right after its previous append resolves): kick again.
    if (!this.flushing && this.pending.length > 0) this.flushing = this.flushLoop().finally(() => { this.flushing = null; if (!this.wakeTimer) this.kick(); });
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      let waiting: Pending[] = [];
      try {
        waiting = await this.insertGroup(group);
        this.diskFull = false;
      } catch (err) {
        waiting = await this.onInsertFailure(group, err);
      }
      if (waiting.length > 0) {
        if (this.stopping) {
          for (const p of waiting) p.reject(new Error('spool closing: readings waiting for room were not stored'));
          continue;
        }
        // Policy `block`: try again when a settle frees room, or in a second at the latest.
        this.pending.unshift(...waiting);
        this.wakeTimer ??= setTimeout(() => { this.wakeTimer = null; this.kick(); }, 1000);
        return;
      }
    }
  }

  /**
   * One transaction for the whole group; returns the callers that must wait (policy block). Drops
   * are written in the same transaction, and every counter changes only once it commits, together:
   * at any moment appended = depth + acked + dropped-oldest, exactly.
   */
  private async insertGroup(group: Pending[]): Promise<Pending[]> {
    const waiting: Pending[] = [];
    const done: [Pending, AppendResult][] = [];
    const drops = new Map<string, number>();
    await this.store.transaction(async (tx) => {
      if (this.opts.maxAgeMs > 0) addTo(drops, await tx.dropOlderThan(this.now() - this.opts.maxAgeMs));
      for (const p of group) {
        const blocks = toBlocks(p.readings, tx.nextSeq, this.opts);
        const incoming: Usage = { readings: p.readings.length, bytes: blocks.reduce((n, b) => n + b.bytes.length, 0) };
        const over = overflow(this.opts, tx.used, incoming);
        if (!fits(over)) {
          if (this.opts.policy === 'block') { waiting.push(p); continue; }
          if (this.opts.policy === 'dropNewest') {
            addTo(drops, new Map([[p.source, p.readings.length]]));
            done.push([p, { stored: 0, dropped: p.readings.length }]);
            continue;
          }
          addTo(drops, await tx.dropOldest(over));
        }
        tx.insertBlocks(blocks, p.source, this.now());
        done.push([p, { stored: p.readings.length, dropped: 0 }]);
      }
      await tx.recordDrops(drops);
    }, () => {
      this.countDrops(drops);
      for (const [, r] of done) this.counters.appended += r.stored;
    });
    for (const [p, r] of done) p.resolve(r);
    return waiting;
  }

  private async onInsertFailure(group: Pending[], err: unknown): Promise<Pending[]> {
    const code = sqliteCode(err);
    if (code !== 'SQLITE_FULL') {
      this.lastError = errorMessage(err);
      for (const p of group) p.reject(err);
      return [];
    }
    if (!this.diskFull) this.opts.logger.error({ policy: this.opts.policy, depth: this.store.used.readings }, 'spool disk full (SQLITE_FULL): applying the policy until space returns');
    this.diskFull = true;
    this.lastError = 'disk full';
    if (this.opts.policy === 'block') return group;
    if (this.opts.policy === 'dropOldest') {
      // Make room for the group by dropping the oldest blocks, then try once more.
      const need = group.reduce((n, p) => n + p.readings.length, 0);
      try {
        const drops = new Map<string, number>();
        await this.store.transaction(async (tx) => {
          addTo(drops, await tx.dropOldest({ readings: Math.max(need * 2, 1), bytes: 0 }));
          await tx.recordDrops(drops);
        }, () => this.countDrops(drops));
        return await this.insertGroup(group);
      } catch (again) {
        if (sqliteCode(again) !== 'SQLITE_FULL') throw again;
      }
    }
    for (const p of group) p.resolve(this.dropNew(p, 'disk full'));
    return [];
  }

  /** Disk full: the drop cannot be written now; it is counted at once and persisted when it can be. */
  private dropNew(p: Pending, why: string): AppendResult {
    this.counters.dropped += p.readings.length;
    this.store.addDrop(p.source, p.readings.length);
    this.opts.logger.debug({ source: p.source, readings: p.readings.length, why }, 'new readings dropped');
    return { stored: 0, dropped: p.readings.length };
  }

  /** Drops already written by their transaction: the in-memory counts follow. */
  private countDrops(bySource: Map<string, number>): void {
    for (const [source, n] of bySource) {
      this.counters.dropped += n;
      this.store.noteDrop(source, n);
    }
  }

  /** Readings appended but not yet sealed into a batch. */
  unsealed(): number {
    return this.store.unsealed;
  }

  /** Sealed batches waiting for an ACK, oldest first, excluding those in `skip` (in flight). */
  async sealed(skip: ReadonlySet<number>, max: number): Promise<SpoolBatch[]> {
    const out: SpoolBatch[] = [];
    for (const b of await this.store.batches(max + skip.size)) {
      if (skip.has(b.seq_first) || out.length >= max) continue;
      const rows = await this.store.blocksIn(b.epoch, b.seq_first, b.seq_last);
      const count = rows.reduce((n, r) => n + r.count, 0);
      if (rows.length === 0) {
        await this.store.deleteBatch(b.seq_first);
        continue;
      }
      let seqFirst = b.seq_first;
      if (count !== b.count) {
        // The cap policy dropped the front of it: what is left is sealed anew (the ingest stores only
        // what it does not have yet, should the old range have arrived).
        seqFirst = rows[0]!.seq_first;
        await this.store.resealBatch(b.seq_first, seqFirst, count);
        if (skip.has(seqFirst)) continue;
      }
      out.push({ epoch: b.epoch, seqFirst, seqLast: b.seq_last, count, blocks: rows.map(toStored), historical: b.historical === 1, attempts: b.attempts });
    }
    return out;
  }

  /**
   * Seals the next batch from unsealed blocks within the limits: the oldest ones (head), or the
   * newest ones (tail: live data sent ahead of a backlog). null when there is nothing to seal.
   */
  async seal(limits: BatchLimits, end: 'head' | 'tail' = 'head'): Promise<SpoolBatch | null> {
    const rows = await this.store.unsealedBlocks(200, end);
    const now = this.now();
    // Readings older than historicalAfterMs are backlog: never in one batch with live ones.
    const picked = pickRun(rows, limits, end, now - limits.historicalAfterMs);
    const first = picked[0];
    const last = picked[picked.length - 1];
    if (!first || !last) return null;
    const count = picked.reduce((n, r) => n + r.count, 0);
    const historical = now - first.base_ts > limits.historicalAfterMs;
    await this.store.insertBatch({ seqFirst: first.seq_first, seqLast: last.seq_last, epoch: first.epoch, count, historical, sealedMs: now, head: end === 'head' });
    return { epoch: first.epoch, seqFirst: first.seq_first, seqLast: last.seq_last, count, blocks: picked.map(toStored), historical, attempts: 0 };
  }

  markAttempt(seqFirst: number): Promise<void> {
    return this.store.markAttempt(seqFirst);
  }

  /** The ingest stored the batch (or had it already): its readings leave the spool. */
  async settleAcked(batch: { seqFirst: number; seqLast: number; epoch: number }): Promise<number> {
    const deleted = await this.store.transaction((tx) => tx.deleteRange(batch));
    this.counters.acked += deleted;
    this.wake();
    await this.maybeCheckpoint();
    return deleted;
  }

  /** Truncates the WAL when the interval is up, or at once when a large backlog has just drained. */
  private async maybeCheckpoint(): Promise<void> {
    const since = this.counters.acked - this.lastCheckpoint.acked;
    const due = performance.now() - this.lastCheckpoint.at >= (this.opts.checkpointIntervalMs ?? 60_000);
    const drained = this.store.used.readings === 0 && since >= 100_000;
    if (since === 0 || (!due && !drained)) return;
    this.lastCheckpoint = { at: performance.now(), acked: this.counters.acked };
    try {
      if (await this.store.checkpoint()) this.counters.checkpoints++;
    } catch (err) {
      this.opts.logger.warn({ err: errorMessage(err) }, 'WAL checkpoint failed; tried again later');
    }
  }

  /** The ingest refused the batch for good: keep its bytes for inspection, never resend it. */
  async settleRejected(batch: { seqFirst: number; seqLast: number; epoch: number }, reasonCode: string, reason: string, bytes: Uint8Array | null): Promise<void> {
    const deleted = await this.store.transaction(async (tx) => {
      await tx.quarantine(batch, reasonCode, reason, this.now(), bytes);
      return tx.deleteRange(batch);
    });
    this.counters.quarantined += deleted;
    this.wake();
  }

  /** Room was made: callers waiting under policy `block` (or after a full disk) try again. */
  private wake(): void {
    if (this.pending.length === 0) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
    this.kick();
  }

  async stats(): Promise<SpoolStats> {
    const oldestTs = await this.store.oldestTs();
    const sealedBatches = await this.store.batchCount();
    // The counts are read together after the queries, so they agree with each other exactly.
    return {
      depth: this.store.used.readings, bytes: this.store.used.bytes, oldestTs, sealedBatches,
      ...this.counters, droppedBySource: this.store.dropsBySource(), diskFull: this.diskFull, lastError: this.lastError,
    };
  }

  /**
   * Shutdown: appends still waiting for room (policy block, or a full disk) give up, so the pollers
   * waiting on them can stop. Their readings were never stored; the caller counts them.
   */
  releaseWaiting(): void {
    this.stopping = true; // from now on an append that would wait for room is refused at once
    if (!this.wakeTimer) return;
    clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
    for (const p of this.pending.splice(0)) p.reject(new Error('spool closing: readings waiting for room were not stored'));
  }

  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    for (const p of this.pending.splice(0)) p.reject(new Error('spool closed'));
    await this.store.close();
  }
}

function addTo(total: Map<string, number>, more: Map<string, number>): void {
  for (const [k, v] of more) total.set(k, (total.get(k) ?? 0) + v);
}
