import { stat } from 'node:fs/promises';
import { StorageError } from '../core/errors.js';
import { Sqlite } from '../core/sqlite.js';

export interface QuarantinedBatch {
  seqFirst: number;
  epoch: number;
  count: number;
  reasonCode: string;
  reason: string;
  atMs: number;
  /** Size of the kept batch bytes (0 when none were kept). */
  bytes: number;
}

/** What `jinyun spool stats` shows: the outbox as it lies on disk, read without changing it. */
export interface SpoolInspection {
  path: string;
  producerId: string | null;
  /** Epoch of the last start (the next start uses epoch + 1). */
  epoch: number | null;
  readings: ReadingsSummary;
  sealed: { batches: number; readings: number; oldestSealedMs: number | null; maxAttempts: number };
  quarantine: { batches: number; readings: number; latest: QuarantinedBatch[] };
  /** Readings dropped by the spool policy (caps, age, disk full) since the file was created, by device. */
  dropped: { readings: number; byDevice: Record<string, number> };
  fileBytes: number;
  walBytes: number;
}

export interface ReadingsSummary {
  count: number;
  oldestTs: number | null;
  newestTs: number | null;
  /** Highest sequence number ever handed out, 0 when none. */
  lastSeq: number;
}

/**
 * Reads an outbox file read-only (safe while the agent runs: SQLite WAL readers never block the
 * writer). Touches meta, batches and quarantine, plus readingsSummary below, the one place that
 * knows how readings are stored.
 */
export async function inspectSpool(path: string, opts: { quarantineItems?: number } = {}): Promise<SpoolInspection> {
  const [fileBytes, walBytes] = await Promise.all([path, `${path}-wal`].map((p) => stat(p).then((s) => s.size, () => -1)));
  if (fileBytes === undefined || fileBytes < 0) throw new StorageError('spool_missing', `no spool file at ${path}`);
  const db = await Sqlite.open(path, { readonly: true });
  try {
    await db.exec('PRAGMA busy_timeout=5000');
    const meta = new Map((await db.all<{ key: string; value: string }>('SELECT key, value FROM meta')).map((r) => [r.key, r.value]));
    const sealed = await db.get<{ n: number; r: number | null; oldest: number | null; attempts: number | null }>(
      'SELECT COUNT(*) AS n, SUM(count) AS r, MIN(sealed_ms) AS oldest, MAX(attempts) AS attempts FROM batches');
    const q = await db.get<{ n: number; r: number | null }>('SELECT COUNT(*) AS n, SUM(count) AS r FROM quarantine');
    const latest = await db.all<{ seq_first: number; epoch: number; count: number; reason_code: string; reason: string; at_ms: number; bytes: number | null }>(
      'SELECT seq_first, epoch, count, reason_code, reason, at_ms, length(bytes) AS bytes FROM quarantine ORDER BY at_ms DESC, seq_first DESC LIMIT ?', [opts.quarantineItems ?? 20]);
    const epoch = meta.get('epoch');
    const dropped = await droppedByDevice(db);
    return {
      path, producerId: meta.get('producer_id') ?? null, epoch: epoch === undefined ? null : Number(epoch),
      readings: await readingsSummary(db),
      sealed: { batches: sealed?.n ?? 0, readings: sealed?.r ?? 0, oldestSealedMs: sealed?.oldest ?? null, maxAttempts: sealed?.attempts ?? 0 },
      quarantine: {
        batches: q?.n ?? 0, readings: q?.r ?? 0,
        latest: latest.map((r) => ({ seqFirst: r.seq_first, epoch: r.epoch, count: r.count, reasonCode: r.reason_code, reason: r.reason, atMs: r.at_ms, bytes: r.bytes ?? 0 })),
      },
      dropped, fileBytes, walBytes: Math.max(0, walBytes ?? 0),
    };
  } catch (err) {
    if (err instanceof StorageError && /no such table/.test(err.message)) throw new StorageError('spool_invalid', `${path} is not a Jinyun spool: ${err.message}`, { cause: err });
    throw err;
  } finally {
    await db.close().catch(() => undefined);
  }
}

/**
 * Readings waiting in the outbox, their source-time range and the last sequence number handed out.
 * The only queries that depend on how readings are stored: v2 keeps them in `blocks` (one row per
 * append, time base = source time of its first reading, so newestTs is the start of the newest
 * block: within one poll of the newest reading); a v1 file not yet migrated has one `readings` row each.
 */
export async function readingsSummary(db: Sqlite): Promise<ReadingsSummary> {
  const tables = new Set((await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type='table'")).map((t) => t.name));
  const parts = [];
  if (tables.has('readings')) parts.push('SELECT COUNT(*) AS n, MIN(ts) AS oldest, MAX(ts) AS newest, MAX(seq) AS top FROM readings');
  if (tables.has('blocks')) parts.push('SELECT SUM(count) AS n, MIN(base_ts) AS oldest, MAX(base_ts) AS newest, MAX(seq_last) AS top FROM blocks');
  if (parts.length === 0) throw new StorageError('spool_invalid', 'no such table: readings or blocks');
  const r = await db.get<{ n: number | null; oldest: number | null; newest: number | null; top: number | null }>(
    `SELECT SUM(n) AS n, MIN(oldest) AS oldest, MAX(newest) AS newest, MAX(top) AS top FROM (${parts.join(' UNION ALL ')})`);
  const seq = await db.get<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name='readings'").catch(() => undefined);
  const next = await db.get<{ value: string }>("SELECT value FROM meta WHERE key='next_seq'");
  const lastSeq = Math.max(r?.top ?? 0, seq?.seq ?? 0, next ? Number(next.value) - 1 : 0);
  return { count: r?.n ?? 0, oldestTs: r?.oldest ?? null, newestTs: r?.newest ?? null, lastSeq };
}

/** The drops table (absent in files older than the caps): readings dropped by device, largest first. */
async function droppedByDevice(db: Sqlite): Promise<SpoolInspection['dropped']> {
  const has = await db.get("SELECT 1 AS x FROM sqlite_master WHERE type='table' AND name='drops'");
  if (!has) return { readings: 0, byDevice: {} };
  const rows = await db.all<{ source: string; readings: number }>('SELECT source, readings FROM drops WHERE readings > 0 ORDER BY readings DESC, source');
  return { readings: rows.reduce((n, r) => n + r.readings, 0), byDevice: Object.fromEntries(rows.map((r) => [r.source, r.readings])) };
}
