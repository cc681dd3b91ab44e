import type { Value } from '../core/reading.js';
import { encodeBlock } from '../proto/codec.js';
import type { Sqlite } from '../core/sqlite.js';
import type { DataMigration } from './spool-schema.js';

/** How a value was kept in the v1 `readings` table's kind/value columns. */
function decodeV1Value(kind: number, value: unknown): Value {
  switch (kind) {
    case 0: return value as number;
    case 1: return value === 1;
    case 2: return value as string;
    case 3: return BigInt(value as string);
    case 5: return Number.NaN;
    default: return null;
  }
}

interface V1Row { seq: number; epoch: number; tag_id: number; ts: number; quality: number; kind: number; value: unknown }

/**
 * v1 -> v2: readings still waiting in a v1 spool are moved into blocks (runs of one epoch with
 * contiguous seq), keeping their epoch and sequence numbers, so nothing is lost by upgrading.
 */
export const moveReadingsToBlocks: DataMigration = async (db: Sqlite) => {
  const rows = await db.all<V1Row>('SELECT seq, epoch, tag_id, ts, quality, kind, value FROM readings ORDER BY seq');
  const next = await db.get<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name='readings'");
  let run: V1Row[] = [];
  const flush = async (): Promise<void> => {
    if (run.length === 0) return;
    const b = encodeBlock(run.map((r) => ({ seq: r.seq, tagId: r.tag_id, ts: r.ts, quality: r.quality >>> 0, value: decodeV1Value(r.kind, r.value) })));
    await db.run('INSERT INTO blocks (seq_first, seq_last, epoch, count, base_ts, appended_ms, source, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [b.seqFirst, b.seqFirst + b.count - 1, run[0]!.epoch, b.count, b.baseTs, Date.now(), '', b.bytes]);
    run = [];
  };
  for (const r of rows) {
    const prev = run[run.length - 1];
    if (prev && (r.epoch !== prev.epoch || r.seq !== prev.seq + 1 || run.length >= 5000 || Math.abs(r.ts - run[0]!.ts) > 2 ** 31 - 1)) await flush();
    run.push(r);
  }
  await flush();
  await db.run("INSERT INTO meta (key, value) VALUES ('next_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [String((next?.seq ?? 0) + 1)]);
  // Old seals may cut through a block: forget them; the ingest stores only what it does not have yet.
  await db.exec('DELETE FROM batches; DROP TABLE readings');
};
