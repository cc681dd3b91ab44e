import type { QuarantineEntry } from './reading-store.js';

/** How much rejected input the cloud keeps, so that one gateway (or all of them) cannot fill its disk with poison. */
export interface QuarantineLimits {
  /** Entries kept per gateway (the oldest go first). */
  rowsPerGateway: number;
  /** Bytes of rejected messages kept per gateway. */
  bytesPerGateway: number;
  /** Bytes kept for every gateway together. */
  bytesTotal: number;
}

export const DEFAULT_QUARANTINE_LIMITS: QuarantineLimits = { rowsPerGateway: 10_000, bytesPerGateway: 64 * 1024 * 1024, bytesTotal: 1024 * 1024 * 1024 };

/** The three statements the bounds need, with `?` placeholders (the PostgreSQL store numbers them). */
export interface QuarantineSql {
  get<T>(sql: string, params: unknown[]): Promise<T | undefined>;
  all<T>(sql: string, params: unknown[]): Promise<T[]>;
  run(sql: string, params: unknown[]): Promise<unknown>;
}

/** What a gateway's quarantine holds now, and how many of its entries were ever deleted to stay within the bounds. */
export interface QuarantineUsage { rows: number; bytes: number; evicted: number }

const CHUNK = 200;

/**
 * Inserts a quarantine entry and trims, inside the caller's transaction: the gateway's oldest
 * entries while it holds more than rowsPerGateway entries or bytesPerGateway bytes, then the oldest
 * entries of any gateway while all together hold more than bytesTotal. The entry just inserted
 * always stays. Running totals per gateway (quarantine_usage) make the check one row read.
 */
export async function insertBoundedQuarantine(q: QuarantineSql, e: QuarantineEntry, l: QuarantineLimits): Promise<void> {
  const size = e.bytes.length;
  await q.run(
    'INSERT INTO quarantine (gateway, kind, received_ms, reason_code, reason, producer_id, epoch, seq_first, count, bytes, size) VALUES (?,?,?,?,?,?,?,?,?,?,?)',
    [e.gateway, e.kind, e.receivedMs, e.reasonCode, e.reason.slice(0, 1000), e.key?.producerId ?? null, e.key?.epoch ?? null, e.key?.seqFirst ?? null, e.key?.count ?? null, Buffer.from(e.bytes), size]);
  await q.run('INSERT INTO quarantine_usage (gateway, rows, bytes) VALUES (?, 1, ?) ON CONFLICT (gateway) DO UPDATE SET rows = quarantine_usage.rows + 1, bytes = quarantine_usage.bytes + excluded.bytes', [e.gateway, size]);
  const u = await quarantineUsage(q, e.gateway);
  if (u.rows > l.rowsPerGateway || u.bytes > l.bytesPerGateway) await trim(q, e.gateway, u, l);
  const total = Number((await q.get<{ b: number | null }>('SELECT SUM(bytes) AS b FROM quarantine_usage', []))?.b ?? 0);
  if (total > l.bytesTotal) await trim(q, null, { rows: Number.MAX_SAFE_INTEGER, bytes: total, evicted: 0 }, { rowsPerGateway: Number.MAX_SAFE_INTEGER, bytesPerGateway: l.bytesTotal, bytesTotal: l.bytesTotal });
}

export async function quarantineUsage(q: QuarantineSql, gateway: string): Promise<QuarantineUsage> {
  const u = await q.get<{ rows: number; bytes: number; evicted: number }>('SELECT rows, bytes, evicted FROM quarantine_usage WHERE gateway = ?', [gateway]);
  return { rows: Number(u?.rows ?? 0), bytes: Number(u?.bytes ?? 0), evicted: Number(u?.evicted ?? 0) };
}

/** Deletes the oldest entries (of one gateway, or of all when null) until within the bounds; the newest entry stays. */
async function trim(q: QuarantineSql, gateway: string | null, u: QuarantineUsage, l: QuarantineLimits): Promise<void> {
  let { rows, bytes } = u;
  const newest = Number((await q.get<{ id: number }>(`SELECT MAX(id) AS id FROM quarantine ${gateway === null ? '' : 'WHERE gateway = ?'}`, gateway === null ? [] : [gateway]))?.id ?? 0);
  let after = 0;
  while (rows > l.rowsPerGateway || bytes > l.bytesPerGateway) {
    const old = await q.all<{ id: number; gateway: string; size: number }>(
      `SELECT id, gateway, size FROM quarantine WHERE ${gateway === null ? '' : 'gateway = ? AND '}id > ? AND id < ? ORDER BY id LIMIT ${CHUNK}`,
      gateway === null ? [after, newest] : [gateway, after, newest]);
    if (old.length === 0) break;
    const freed = new Map<string, { rows: number; bytes: number }>();
    let last = after;
    for (const r of old) {
      if (rows <= l.rowsPerGateway && bytes <= l.bytesPerGateway) break;
      rows--;
      bytes -= Number(r.size);
      last = Number(r.id);
      const f = freed.get(r.gateway) ?? { rows: 0, bytes: 0 };
      f.rows++;
      f.bytes += Number(r.size);
      freed.set(r.gateway, f);
    }
    await q.run(`DELETE FROM quarantine WHERE ${gateway === null ? '' : 'gateway = ? AND '}id > ? AND id <= ?`, gateway === null ? [after, last] : [gateway, after, last]);
    for (const [gw, f] of freed) await q.run('UPDATE quarantine_usage SET rows = rows - ?, bytes = bytes - ?, evicted = evicted + ? WHERE gateway = ?', [f.rows, f.bytes, f.rows, gw]);
    after = last;
  }
}
