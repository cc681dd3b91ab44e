import { randomUUID } from 'node:crypto';
import { placeholders, type Sqlite, type SqlParam } from '../core/sqlite.js';
import type { StoredBlock } from '../proto/codec.js';
import type { BlockRow } from './spool-blocks.js';
import type { Usage } from './spool-policy.js';

/** True when block b lies inside a sealed batch (batches never overlap; their key is seq_first). */
const COVERED = 'COALESCE((SELECT t.seq_last FROM batches t WHERE t.seq_first <= b.seq_first ORDER BY t.seq_first DESC LIMIT 1), -1) >= b.seq_first';
const ADD_DROP = 'INSERT INTO drops (source, readings) VALUES (?, ?) ON CONFLICT(source) DO UPDATE SET readings = readings + excluded.readings';
const BLOCK_COLS = 'b.seq_first, b.seq_last, b.epoch, b.count, b.base_ts, b.bytes';

interface BatchRow { seq_first: number; seq_last: number; epoch: number; count: number; historical: number; attempts: number }
interface Removed { seq_first: number; count: number; b: number; source: string }

/** The spool's SQL and the counts kept beside it (readings and bytes held, unsealed readings). */
export class SpoolStore {
  used: Usage;
  unsealed: number;
  private drops: Map<string, number>;

  private constructor(private readonly db: Sqlite, readonly producerId: string, readonly epoch: number, private nextSeq: number, private headFloor: number, used: Usage, unsealed: number, drops: Map<string, number>) {
    this.used = used;
    this.unsealed = unsealed;
    this.drops = drops;
  }

  static async open(db: Sqlite, opts: { synchronous: 'FULL' | 'NORMAL'; maxFileBytes: number }): Promise<SpoolStore> {
    // The epoch bump is committed with FULL whatever the configured mode: after a power cut the next
    // start must never reuse an epoch, so reused sequence numbers never look like duplicates.
    await db.exec('PRAGMA synchronous=FULL');
    const meta = async (key: string) => (await db.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', [key]))?.value;
    const set = (key: string, value: string) => db.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value', [key, value]);
    const init = await db.transaction(async () => {
      let producerId = await meta('producer_id');
      if (!producerId) {
        producerId = randomUUID();
        await set('producer_id', producerId);
      }
      const epoch = Number((await meta('epoch')) ?? 0) + 1;
      await set('epoch', String(epoch));
      return { producerId, epoch };
    });
    await db.exec(`PRAGMA synchronous=${opts.synchronous}`);
    if (opts.maxFileBytes > 0) {
      const page = (await db.get<{ page_size: number }>('PRAGMA page_size'))!.page_size;
      await db.get(`PRAGMA max_page_count = ${Math.max(16, Math.floor(opts.maxFileBytes / page))}`);
    }
    const top = await db.get<{ s: number | null }>('SELECT MAX(seq_last) AS s FROM blocks');
    const nextSeq = Math.max(Number((await meta('next_seq')) ?? 1), (top?.s ?? 0) + 1);
    const used = await db.get<{ n: number | null; b: number | null }>('SELECT SUM(count) AS n, SUM(length(bytes)) AS b FROM blocks');
    const unsealed = await db.get<{ n: number | null }>(`SELECT SUM(b.count) AS n FROM blocks b WHERE NOT ${COVERED}`);
    const drops = new Map((await db.all<{ source: string; readings: number }>('SELECT source, readings FROM drops')).map((d) => [d.source, d.readings]));
    return new SpoolStore(db, init.producerId, init.epoch, nextSeq, 0, { readings: used?.n ?? 0, bytes: used?.b ?? 0 }, unsealed?.n ?? 0, drops);
  }

  /** Runs fn in one write transaction; the in-memory counts change only when it commits. */
  async transaction<T>(fn: (tx: SpoolTx) => Promise<T>, onCommit?: () => void): Promise<T> {
    let tx: SpoolTx | null = null;
    const result = await this.db.transaction(async () => {
      // Made when the transaction really starts (transactions queue up), so it sees the counts
      // as the previous one left them.
      const t = new SpoolTx(this.db, this.epoch, this.nextSeq, { ...this.used }, this.unsealed);
      tx = t;
      const result = await fn(t);
      await t.finish();
      return result;
    });
    const done = tx as SpoolTx | null;
    if (done) {
      this.nextSeq = done.nextSeq;
      this.used = done.used;
      this.unsealed = done.unsealed + (this.unsealed - done.startUnsealed);
    }
    // In the same synchronous step as the counts above, so no reader sees one without the other.
    onCommit?.();
    return result;
  }

  async tagIds(keys: string[]): Promise<Map<string, number>> {
    return this.db.transaction(async () => {
      for (let i = 0; i < keys.length; i += 500) {
        const chunk = keys.slice(i, i + 500);
        await this.db.run(`INSERT OR IGNORE INTO tags (key) VALUES ${placeholders(chunk.length, 1)}`, chunk);
      }
      const wanted = new Set(keys);
      return new Map((await this.db.all<{ id: number; key: string }>('SELECT id, key FROM tags')).filter((r) => wanted.has(r.key)).map((r) => [r.key, r.id]));
    });
  }

  /** A single write outside any group, queued like a transaction so it never lands inside another's. */
  private write(sql: string, params: SqlParam[]): Promise<unknown> {
    return this.db.transaction(() => this.db.run(sql, params));
  }

  /** A drop that could not be written with its transaction (disk full): counted now, written when it can be. */
  addDrop(source: string, n: number): void {
    this.noteDrop(source, n);
    void this.write(ADD_DROP, [source, n]).catch(() => undefined);
  }

  /** A drop already written by its transaction (SpoolTx.recordDrops). */
  noteDrop(source: string, n: number): void {
    this.drops.set(source, (this.drops.get(source) ?? 0) + n);
  }

  dropsBySource(): Record<string, number> {
    return Object.fromEntries(this.drops);
  }

  batches(limit: number): Promise<BatchRow[]> {
    return this.db.all<BatchRow>('SELECT seq_first, seq_last, epoch, count, historical, attempts FROM batches ORDER BY seq_first LIMIT ?', [limit]);
  }

  blocksIn(epoch: number, from: number, to: number): Promise<BlockRow[]> {
    return this.db.all<BlockRow>('SELECT seq_first, seq_last, epoch, count, base_ts, bytes FROM blocks WHERE seq_first BETWEEN ? AND ? AND epoch = ? ORDER BY seq_first', [from, to, epoch]);
  }

  /**
   * Blocks not yet in any batch: the oldest first (head), or the newest first (tail, for live data
   * during a backlog drain). headFloor skips the prefix known to be sealed already.
   */
  unsealedBlocks(limit: number, end: 'head' | 'tail' = 'head'): Promise<BlockRow[]> {
    return this.db.all<BlockRow>(`SELECT ${BLOCK_COLS} FROM blocks b WHERE b.seq_first > ? AND NOT ${COVERED} ORDER BY b.seq_first ${end === 'head' ? 'ASC' : 'DESC'} LIMIT ?`, [this.headFloor, limit]);
  }

  async insertBatch(b: { seqFirst: number; seqLast: number; epoch: number; count: number; historical: boolean; sealedMs: number; head: boolean }): Promise<void> {
    await this.write('INSERT INTO batches (seq_first, seq_last, epoch, count, historical, sealed_ms) VALUES (?, ?, ?, ?, ?, ?)', [b.seqFirst, b.seqLast, b.epoch, b.count, b.historical ? 1 : 0, b.sealedMs]);
    if (b.head) this.headFloor = Math.max(this.headFloor, b.seqLast);
    this.unsealed = Math.max(0, this.unsealed - b.count);
  }

  async deleteBatch(seqFirst: number): Promise<void> {
    await this.write('DELETE FROM batches WHERE seq_first = ?', [seqFirst]);
  }

  async resealBatch(oldFirst: number, newFirst: number, count: number): Promise<void> {
    await this.write('UPDATE batches SET seq_first = ?, count = ? WHERE seq_first = ?', [newFirst, count, oldFirst]);
  }

  async markAttempt(seqFirst: number): Promise<void> {
    await this.write('UPDATE batches SET attempts = attempts + 1 WHERE seq_first = ?', [seqFirst]);
  }

  async oldestTs(): Promise<number | null> {
    return (await this.db.get<{ ts: number }>('SELECT base_ts AS ts FROM blocks ORDER BY seq_first LIMIT 1'))?.ts ?? null;
  }

  async batchCount(): Promise<number> {
    return (await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM batches'))?.n ?? 0;
  }

  /**
   * Copies the WAL into the database and truncates it to zero bytes (wal_checkpoint(TRUNCATE)), after
   * the transactions queued so far. Returns false when a reader kept it from completing (busy); it is
   * tried again next time.
   */
  async checkpoint(): Promise<boolean> {
    await this.db.transaction(async () => undefined);
    const row = await this.db.get<{ busy: number }>('PRAGMA wal_checkpoint(TRUNCATE)');
    return row?.busy === 0;
  }

  async close(): Promise<void> {
    await this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)').catch(() => undefined);
    await this.db.close();
  }
}

/** Writes inside one spool transaction, with the counts as they will be if it commits. */
export class SpoolTx {
  readonly startUnsealed: number;
  /** Block rows added by insertBlocks and not written yet (8 parameters each). */
  private rows: SqlParam[] = [];
  private seqMoved = false;
  constructor(private readonly db: Sqlite, private readonly epoch: number, public nextSeq: number, public used: Usage, public unsealed: number) {
    this.startUnsealed = unsealed;
  }

  async recordDrops(bySource: Map<string, number>): Promise<void> {
    for (const [source, n] of bySource) await this.db.run(ADD_DROP, [source, n]);
  }

  /**
   * Adds blocks to the transaction. The rows of every caller in a group commit go to SQLite in one
   * multi-row INSERT (written before any other statement of the transaction reads the blocks, and
   * at its end), and the next seq once per transaction: ten devices polled every 10 ms are a
   * thousand appends a second, and a statement each cost more than their encoding.
   */
  insertBlocks(blocks: StoredBlock[], source: string, nowMs: number): void {
    if (blocks.length === 0) return;
    let readings = 0;
    let bytes = 0;
    for (const b of blocks) {
      this.rows.push(b.seqFirst, b.seqFirst + b.count - 1, this.epoch, b.count, b.baseTs, nowMs, source, b.bytes);
      readings += b.count;
      bytes += b.bytes.length;
    }
    const last = blocks[blocks.length - 1]!;
    this.nextSeq = last.seqFirst + last.count;
    this.seqMoved = true;
    this.used = { readings: this.used.readings + readings, bytes: this.used.bytes + bytes };
    this.unsealed += readings;
  }

  /** Writes the blocks added so far (at most 500 rows per statement). */
  private async writeRows(): Promise<void> {
    const cols = 8;
    while (this.rows.length > 0) {
      const part = this.rows.length <= 500 * cols ? this.rows : this.rows.slice(0, 500 * cols);
      this.rows = part === this.rows ? [] : this.rows.slice(part.length);
      await this.db.run(`INSERT INTO blocks (seq_first, seq_last, epoch, count, base_ts, appended_ms, source, bytes) VALUES ${placeholders(part.length / cols, cols)}`, part);
    }
  }

  /** The end of the transaction's work, before COMMIT: pending rows and the next seq. */
  async finish(): Promise<void> {
    await this.writeRows();
    if (this.seqMoved) await this.db.run("INSERT INTO meta (key, value) VALUES ('next_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [String(this.nextSeq)]);
    this.seqMoved = false;
  }

  /** Policy dropOldest: removes the oldest blocks until `over` readings and bytes are gone. */
  async dropOldest(over: Usage): Promise<Map<string, number>> {
    await this.writeRows();
    const rows = await this.db.all<Removed>('SELECT seq_first, count, length(bytes) AS b, source FROM blocks ORDER BY seq_first LIMIT ?', [Math.max(16, Math.ceil(over.readings / 100) + 16)]);
    let readings = 0;
    let bytes = 0;
    let cut = -1;
    for (const r of rows) {
      if (readings >= over.readings && bytes >= over.bytes) break;
      readings += r.count;
      bytes += r.b;
      cut = r.seq_first;
    }
    if (cut < 0) return new Map();
    await this.forgetUnsealed('b.seq_first <= ?', [cut]);
    const removed = await this.db.all<Removed>('DELETE FROM blocks WHERE seq_first <= ? RETURNING seq_first, count, length(bytes) AS b, source', [cut]);
    await this.db.run('DELETE FROM batches WHERE seq_last <= ?', [cut]);
    const more = await this.account(removed);
    if (readings < over.readings || bytes < over.bytes) for (const [k, v] of await this.dropOldest({ readings: over.readings - readings, bytes: over.bytes - bytes })) more.set(k, (more.get(k) ?? 0) + v);
    return more;
  }

  async dropOlderThan(appendedBeforeMs: number): Promise<Map<string, number>> {
    await this.writeRows();
    await this.forgetUnsealed('b.appended_ms < ?', [appendedBeforeMs]);
    const removed = await this.db.all<Removed>('DELETE FROM blocks WHERE appended_ms < ? RETURNING seq_first, count, length(bytes) AS b, source', [appendedBeforeMs]);
    if (removed.length > 0) await this.db.run('DELETE FROM batches WHERE seq_last < ?', [Math.max(...removed.map((r) => r.seq_first))]);
    return this.account(removed);
  }

  async deleteRange(batch: { seqFirst: number; seqLast: number; epoch: number }): Promise<number> {
    await this.writeRows();
    const removed = await this.db.all<Removed>('DELETE FROM blocks WHERE seq_first BETWEEN ? AND ? AND epoch = ? RETURNING seq_first, count, length(bytes) AS b, source', [batch.seqFirst, batch.seqLast, batch.epoch]);
    await this.db.run('DELETE FROM batches WHERE seq_first = ?', [batch.seqFirst]);
    let n = 0;
    for (const [, v] of await this.account(removed)) n += v;
    return n;
  }

  async quarantine(batch: { seqFirst: number; seqLast: number; epoch: number }, reasonCode: string, reason: string, atMs: number, bytes: Uint8Array | null): Promise<void> {
    await this.db.run('INSERT INTO quarantine (seq_first, epoch, count, reason_code, reason, at_ms, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [batch.seqFirst, batch.epoch, batch.seqLast - batch.seqFirst + 1, reasonCode, reason, atMs, bytes]);
  }

  /** Blocks about to be dropped that were not sealed yet leave the unsealed count. */
  private async forgetUnsealed(where: string, params: SqlParam[]): Promise<void> {
    const row = await this.db.get<{ n: number | null }>(`SELECT SUM(b.count) AS n FROM blocks b WHERE ${where} AND NOT ${COVERED}`, params);
    this.unsealed -= row?.n ?? 0;
  }

  private async account(removed: Removed[]): Promise<Map<string, number>> {
    const bySource = new Map<string, number>();
    for (const r of removed) {
      this.used = { readings: this.used.readings - r.count, bytes: this.used.bytes - r.b };
      bySource.set(r.source, (bySource.get(r.source) ?? 0) + r.count);
    }
    return bySource;
  }
}
