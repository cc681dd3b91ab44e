import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Spool, SPOOL_DEFAULTS, type AppendResult, type SpoolOptions } from '../../edge/spool.js';
import { silentLogger } from '../../core/logger.js';
import { Sqlite } from '../../core/sqlite.js';
import type { Reading } from '../../core/reading.js';
import { decodeBatch, encodeBatchFromBlocks, encodeBlock } from '../../proto/codec.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);
/** One append of BLOCK readings is one block in the spool (maxBlockReadings below). */
const BLOCK = 50;
const SOURCES = ['fan', 'pump', 'gas'] as const;

function readings(n: number, from = 0): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ tagId: 1 + ((from + i) % 3), ts: T0 + (from + i) * 100, value: from + i, quality: 0 }));
}

/** Encoded size of the block these readings become in the spool: what counts against maxBytes. */
const blockBytes = (rs: Reading[]): number => encodeBlock(rs.map((r, i) => ({ ...r, seq: 1 + i }))).bytes.length;

/** Every 50-reading block of readings() has the same size (fixed-width doubles, same deltas). */
const B = blockBytes(readings(BLOCK));
/** Room for ten full blocks and half of an eleventh. */
const CAP = 10 * B + Math.floor(B / 2);

/**
 * The spool's byte cap (`spool.maxBytes`): the reading cap is left at its default (10 million), so
 * only the encoded bytes of the kept blocks decide. Each policy is applied exactly, and every drop is
 * counted by the device that produced it, in memory and in the file.
 */
describe('Spool byte cap (maxBytes)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  const open = (extra: Partial<SpoolOptions> = {}) =>
    Spool.open({ ...SPOOL_DEFAULTS, maxBlockReadings: BLOCK, maxBytes: CAP, path, synchronous: 'FULL', logger: silentLogger(), now: () => T0 + 1000, ...extra });

  /** Seals and decodes everything unsealed: the (seq, value) pairs still kept, in order. */
  async function kept(s: Spool): Promise<[number, unknown][]> {
    const out: [number, unknown][] = [];
    for (let b = await s.seal({ maxReadings: 10_000, maxBytes: 4 * 1024 * 1024, historicalAfterMs: 60_000 }); b; b = await s.seal({ maxReadings: 10_000, maxBytes: 4 * 1024 * 1024, historicalAfterMs: 60_000 })) {
      out.push(...decodeBatch(encodeBatchFromBlocks({ producerId: 'p', epoch: b.epoch, historical: b.historical }, b.blocks)).readings.map((r): [number, unknown] => [r.seq, r.value]));
    }
    return out;
  }

  /** Appends 14 blocks of 50 readings, block i from SOURCES[i % 3], one after the other or all at once (one group commit). */
  async function fourteenBlocks(s: Spool, how: 'sequential' | 'concurrent'): Promise<AppendResult[]> {
    const append = (i: number) => s.append(readings(BLOCK, i * BLOCK), SOURCES[i % 3]);
    if (how === 'concurrent') return Promise.all(Array.from({ length: 14 }, (_, i) => append(i)));
    const results: AppendResult[] = [];
    for (let i = 0; i < 14; i++) results.push(await append(i));
    return results;
  }

  beforeEach(() => {
    tmp = tempDir();
    path = join(tmp.dir, 'spool.db');
  });
  afterEach(() => tmp.cleanup());

  it('counts the encoded bytes of each block against the cap', async () => {
    expect(B).toBeGreaterThan(200);
    const s = await open();
    await s.append(readings(BLOCK), 'fan');
    expect((await s.stats()).bytes).toBe(B);
    await s.append(readings(20, BLOCK), 'fan');
    expect((await s.stats()).bytes).toBe(B + blockBytes(readings(20, BLOCK)));
    await s.close();
  });

  it.each(['sequential', 'concurrent'] as const)('dropOldest: the oldest blocks go until the new one fits; appended = kept + dropped, by device (%s appends)', async (how) => {
    const s = await open({ policy: 'dropOldest' });
    const results = await fourteenBlocks(s, how);
    // dropOldest always stores the new readings.
    expect(results).toEqual(Array.from({ length: 14 }, () => ({ stored: BLOCK, dropped: 0 })));
    const st = await s.stats();
    expect([st.depth, st.bytes, st.dropped, st.appended, st.acked]).toEqual([500, 10 * B, 200, 700, 0]);
    expect(st.appended).toBe(st.depth + st.dropped);
    // Blocks 0..3 went: fan (0 and 3), pump (1), gas (2).
    expect(st.droppedBySource).toEqual({ fan: 100, pump: 50, gas: 50 });
    expect(st.diskFull).toBe(false);
    // The newest 500 are kept, without a hole.
    expect(await kept(s)).toEqual(Array.from({ length: 500 }, (_, i) => [201 + i, 200 + i]));
    await s.close();

    // The drops were written with their transactions: the file says the same after a restart.
    const db = await Sqlite.open(path);
    expect(await db.all('SELECT source, readings FROM drops ORDER BY source')).toEqual([{ source: 'fan', readings: 100 }, { source: 'gas', readings: 50 }, { source: 'pump', readings: 50 }]);
    expect(await db.get('SELECT MIN(seq_first) AS lo, MAX(seq_last) AS hi, SUM(count) AS n, SUM(length(bytes)) AS bytes FROM blocks')).toEqual({ lo: 201, hi: 700, n: 500, bytes: 10 * B });
    await db.close();
    const again = await open();
    const st2 = await again.stats();
    expect([st2.depth, st2.bytes, st2.droppedBySource]).toEqual([500, 10 * B, { fan: 100, pump: 50, gas: 50 }]);
    await again.close();
  });

  it('dropOldest: a small block that fits in the room left drops nothing; the next one drops exactly one old block; a large append drops as many as it needs', async () => {
    const small = blockBytes(readings(20, 500));
    // The precondition of the exact counts below: one small block fits in the half block left, two do not.
    expect(small).toBeLessThanOrEqual(CAP - 10 * B);
    expect(2 * small).toBeGreaterThan(CAP - 10 * B);
    const s = await open({ policy: 'dropOldest' });
    for (let i = 0; i < 10; i++) await s.append(readings(BLOCK, i * BLOCK), 'fan');
    expect((await s.stats()).dropped).toBe(0);

    expect(await s.append(readings(20, 500), 'pump')).toEqual({ stored: 20, dropped: 0 });
    let st = await s.stats();
    expect([st.depth, st.bytes, st.dropped]).toEqual([520, 10 * B + small, 0]);

    expect(await s.append(readings(20, 520), 'pump')).toEqual({ stored: 20, dropped: 0 });
    st = await s.stats();
    expect([st.depth, st.bytes, st.dropped, st.droppedBySource]).toEqual([490, 9 * B + small + blockBytes(readings(20, 520)), 50, { fan: 50 }]);
    expect(st.bytes).toBeLessThanOrEqual(CAP);

    // 150 readings are three blocks: three more old blocks go (the bytes are over by more than two).
    await s.append(readings(150, 540), 'gas');
    st = await s.stats();
    expect([st.depth, st.dropped, st.droppedBySource]).toEqual([490, 200, { fan: 200 }]);
    expect(st.bytes).toBe(6 * B + small + blockBytes(readings(20, 520)) + 3 * B);
    expect(st.bytes).toBeLessThanOrEqual(CAP);
    expect(st.appended).toBe(st.depth + st.dropped);
    expect((await kept(s)).map(([seq]) => seq)).toEqual(Array.from({ length: 490 }, (_, i) => 201 + i));
    await s.close();
  });

  it.each(['sequential', 'concurrent'] as const)('dropNewest: blocks that do not fit are refused whole and counted by device; the backlog stays (%s appends)', async (how) => {
    const s = await open({ policy: 'dropNewest' });
    const results = await fourteenBlocks(s, how);
    expect(results).toEqual(Array.from({ length: 14 }, (_, i) => (i < 10 ? { stored: BLOCK, dropped: 0 } : { stored: 0, dropped: BLOCK })));
    const st = await s.stats();
    expect([st.depth, st.bytes, st.dropped, st.appended]).toEqual([500, 10 * B, 200, 500]);
    // What the callers handed in = kept + dropped.
    expect(results.reduce((n, r) => n + r.stored + r.dropped, 0)).toBe(14 * BLOCK);
    expect(st.depth + st.dropped).toBe(14 * BLOCK);
    // Blocks 10..13 were refused: pump (10, 13), gas (11), fan (12).
    expect(st.droppedBySource).toEqual({ pump: 100, gas: 50, fan: 50 });

    // A smaller block still fits in the room left; no sequence number was spent on the refused ones.
    expect(await s.append(readings(20, 700), 'fan')).toEqual({ stored: 20, dropped: 0 });
    expect(await kept(s)).toEqual([...Array.from({ length: 500 }, (_, i) => [1 + i, i]), ...Array.from({ length: 20 }, (_, i) => [501 + i, 700 + i])]);
    await s.close();
    const db = await Sqlite.open(path);
    expect(await db.all('SELECT source, readings FROM drops ORDER BY source')).toEqual([{ source: 'fan', readings: 50 }, { source: 'gas', readings: 50 }, { source: 'pump', readings: 100 }]);
    await db.close();
  });

  it('block: an append over the byte cap waits until an ACK frees room, then is stored; nothing is dropped', async () => {
    const s = await open({ policy: 'block' });
    for (let i = 0; i < 10; i++) await s.append(readings(BLOCK, i * BLOCK), 'fan');
    let result: AppendResult | null = null;
    const waiting = s.append(readings(BLOCK, 500), 'pump').then((r) => { result = r; return r; });
    await new Promise((r) => setTimeout(r, 200));
    expect(result).toBeNull();
    let st = await s.stats();
    expect([st.depth, st.bytes, st.dropped, st.appended]).toEqual([500, 10 * B, 0, 500]);

    // The ingest acknowledges the oldest block: the waiting append goes in at once.
    const first = (await s.seal({ maxReadings: BLOCK, maxBytes: 256 * 1024, historicalAfterMs: 60_000 }))!;
    expect([first.seqFirst, first.count]).toEqual([1, BLOCK]);
    const t = performance.now();
    await s.settleAcked(first);
    expect(await waiting).toEqual({ stored: BLOCK, dropped: 0 });
    // Woken by the settle, not by the one-second retry timer.
    expect(performance.now() - t).toBeLessThan(900);
    st = await s.stats();
    expect([st.depth, st.bytes, st.dropped, st.appended, st.acked]).toEqual([500, 10 * B, 0, 550, 50]);
    expect(st.appended).toBe(st.depth + st.acked);
    expect(st.droppedBySource).toEqual({});
    expect((await kept(s)).map(([seq]) => seq)).toEqual(Array.from({ length: 500 }, (_, i) => 51 + i));
    await s.close();
  });
});
