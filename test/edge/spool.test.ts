import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { Spool, SPOOL_DEFAULTS, type SpoolBatch, type SpoolOptions } from '../../edge/spool.js';
import { silentLogger } from '../../core/logger.js';
import { Sqlite } from '../../core/sqlite.js';
import type { Reading } from '../../core/reading.js';
import { Quality } from '../../core/quality.js';
import { decodeBatch, encodeBatchFromBlocks } from '../../proto/codec.js';
import { tempDir } from '../helpers/tmp.js';

const limits = { maxReadings: 100, maxBytes: 256 * 1024, historicalAfterMs: 60_000 };
const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);

function readings(n: number, from = 0): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ tagId: 1 + ((from + i) % 3), ts: T0 + (from + i) * 100, value: from + i, quality: 0 }));
}

/** What the ingest will see of a sealed batch. */
const content = (b: SpoolBatch) => decodeBatch(encodeBatchFromBlocks({ producerId: 'p', epoch: b.epoch, historical: b.historical }, b.blocks)).readings;

describe('Spool', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  const open = (extra: Partial<SpoolOptions> = {}) =>
    Spool.open({ ...SPOOL_DEFAULTS, maxBlockReadings: 50, path, synchronous: 'FULL', logger: silentLogger(), now: () => T0 + 1000, ...extra });

  beforeEach(() => {
    tmp = tempDir();
    path = join(tmp.dir, 'spool.db');
  });
  afterEach(() => tmp.cleanup());

  it('keeps its producer id and bumps the epoch at every open; the file is private', async () => {
    const a = await open();
    expect(a.epoch).toBe(1);
    await a.close();
    const b = await open();
    expect(b.producerId).toBe(a.producerId);
    expect(b.epoch).toBe(2);
    await b.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('assigns sequence numbers without holes across concurrent appends and seals whole blocks in order', async () => {
    const s = await open();
    await Promise.all([s.append(readings(30, 0)), s.append(readings(30, 30)), s.append(readings(45, 60))]);
    expect(s.unsealed()).toBe(105);
    const b1 = (await s.seal(limits))!;
    expect([b1.seqFirst, b1.seqLast, b1.count]).toEqual([1, 60, 60]);
    expect(content(b1).map((r) => [r.seq, r.value])).toEqual(Array.from({ length: 60 }, (_, i) => [i + 1, i]));
    const b2 = (await s.seal(limits))!;
    expect([b2.seqFirst, b2.seqLast]).toEqual([61, 105]);
    expect(s.unsealed()).toBe(0);
    expect(await s.seal(limits)).toBeNull();
    await s.close();
  });

  it('keeps sequence numbers contiguous when acknowledgements and appends interleave', async () => {
    const s = await open({ maxBlockReadings: 10 });
    const settles: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const appended = s.append(readings(10, i * 10));
      const b = await s.seal(limits);
      if (b) settles.push(s.settleAcked(b));
      await appended;
    }
    await Promise.all(settles);
    await s.append(readings(1, 400));
    const rest: number[] = [];
    for (let b = await s.seal(limits); b; b = await s.seal(limits)) rest.push(...content(b).map((r) => r.seq));
    const st = await s.stats();
    expect(st.appended).toBe(401);
    expect(st.acked + rest.length).toBe(401);
    expect(rest.at(-1)).toBe(401);
    expect(rest).toEqual(Array.from({ length: rest.length }, (_, i) => 402 - rest.length + i));
    await s.close();
  });

  it('round-trips every value kind, including NaN, bigint and Bad readings', async () => {
    const s = await open();
    const input: Reading[] = [
      { tagId: 1, ts: T0, value: Number.NaN, quality: 0 },
      { tagId: 2, ts: T0, value: -Infinity, quality: 0 },
      { tagId: 3, ts: T0, value: 18446744073709551615n, quality: 0 },
      { tagId: 4, ts: T0, value: true, quality: 0 },
      { tagId: 5, ts: T0 - 5000, value: 'RUN', quality: Quality.UncertainLastUsableValue },
      { tagId: 6, ts: T0, value: null, quality: Quality.BadTimeout },
    ];
    await s.append(input);
    expect(content((await s.seal(limits))!).map(({ seq: _s, ...r }) => r)).toEqual(input);
    await s.close();
  });

  it('deletes readings only when their batch is acknowledged, and resends sealed batches with the same boundaries after a restart', async () => {
    const s = await open();
    await s.append(readings(150));
    const b1 = (await s.seal(limits))!;
    const b2 = (await s.seal(limits))!;
    expect([b1.count, b2.count]).toEqual([100, 50]);
    expect(await s.settleAcked(b1)).toBe(100);
    expect((await s.stats()).depth).toBe(50);
    await s.close();

    const again = await open();
    expect(again.epoch).toBe(2);
    const pending = await again.sealed(new Set(), 10);
    expect(pending.map((b) => [b.seqFirst, b.seqLast, b.epoch])).toEqual([[b2.seqFirst, b2.seqLast, 1]]);
    expect(content(pending[0]!)).toEqual(content(b2));
    await again.append(readings(2, 500));
    const b3 = (await again.seal(limits))!;
    expect([b3.seqFirst, b3.seqLast, b3.epoch]).toEqual([151, 152, 2]);
    await again.close();
  });

  it('never mixes epochs in one batch', async () => {
    const s1 = await open();
    await s1.append(readings(10));
    await s1.close();
    const s2 = await open();
    await s2.append(readings(10, 10));
    const a = (await s2.seal(limits))!;
    const b = (await s2.seal(limits))!;
    expect([a.epoch, a.count, b.epoch, b.count]).toEqual([1, 10, 2, 10]);
    await s2.close();
  });

  it('dropOldest: at the reading cap the oldest go, counted exactly by device', async () => {
    const s = await open({ maxReadings: 1000 });
    for (let i = 0; i < 12; i++) await s.append(readings(100, i * 100), i % 2 === 0 ? 'fan' : 'pump');
    const st = await s.stats();
    expect([st.depth, st.dropped, st.appended]).toEqual([1000, 200, 1200]);
    expect(st.droppedBySource).toEqual({ fan: 100, pump: 100 });
    expect((await s.seal(limits))!.seqFirst).toBe(201);
    await s.close();
  });

  it('dropOldest fixes a sealed batch whose front was dropped, and the rest is still sent', async () => {
    const s = await open({ maxReadings: 1000, maxBlockReadings: 50 });
    await s.append(readings(100));
    const b = (await s.seal(limits))!;
    expect([b.seqFirst, b.count]).toEqual([1, 100]);
    await s.append(readings(950, 100));
    const [fixed] = await s.sealed(new Set(), 1);
    expect([fixed!.seqFirst, fixed!.seqLast, fixed!.count]).toEqual([51, 100, 50]);
    expect(content(fixed!).map((r) => r.value)).toEqual(Array.from({ length: 50 }, (_, i) => 50 + i));
    await s.close();
  });

  it('dropNewest: at the cap new readings are refused and counted, the backlog stays', async () => {
    const s = await open({ maxReadings: 1000, policy: 'dropNewest' });
    for (let i = 0; i < 12; i++) await s.append(readings(100, i * 100), 'gas');
    const st = await s.stats();
    expect([st.depth, st.dropped]).toEqual([1000, 200]);
    expect((await s.seal(limits))!.seqFirst).toBe(1);
    // No sequence numbers were spent on the refused readings.
    await s.settleAcked((await s.seal(limits))!);
    await s.append(readings(1), 'gas');
    const all = await s.sealed(new Set(), 100);
    expect(all.length).toBe(1);
    await s.close();
  });

  it('block: an append waits until an ACK makes room', async () => {
    const s = await open({ maxReadings: 1000, policy: 'block' });
    await s.append(readings(1000));
    let done = false;
    const waiting = s.append(readings(10, 1000)).then((r) => { done = true; return r; });
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    await s.settleAcked((await s.seal(limits))!);
    expect(await waiting).toEqual({ stored: 10, dropped: 0 });
    expect((await s.stats()).dropped).toBe(0);
    await s.close();
  });

  it('drops readings older than maxAgeMs', async () => {
    let now = T0;
    const s = await open({ maxAgeMs: 60_000, now: () => now });
    await s.append(readings(10), 'old');
    now += 61_000;
    await s.append(readings(5, 10), 'new');
    const st = await s.stats();
    expect([st.depth, st.dropped, st.droppedBySource.old]).toEqual([5, 10, 10]);
    await s.close();
  });

  it('treats a full file as disk full: applies the policy, keeps working, and recovers when room returns', async () => {
    const s = await open({ maxFileBytes: 256 * 1024, policy: 'dropNewest' });
    let dropped = 0;
    for (let i = 0; i < 400 && dropped === 0; i++) dropped += (await s.append(readings(200, i * 200))).dropped;
    const full = await s.stats();
    expect(full.diskFull).toBe(true);
    expect(full.dropped).toBe(200);
    // The ingest acknowledges the backlog: pages are freed inside the file and appends succeed again.
    for (let b = await s.seal(limits); b; b = await s.seal(limits)) await s.settleAcked(b);
    expect(await s.append(readings(50, 999_000))).toEqual({ stored: 50, dropped: 0 });
    expect((await s.stats()).diskFull).toBe(false);
    await s.close();
    const db = await Sqlite.open(path);
    expect(await db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    await db.close();
  });

  it('quarantines a rejected batch and never offers it again', async () => {
    const s = await open();
    await s.append(readings(5));
    const b = (await s.seal(limits))!;
    await s.settleRejected(b, 'malformed', 'test', new Uint8Array([1, 2, 3]));
    expect(await s.sealed(new Set(), 10)).toEqual([]);
    expect((await s.stats()).quarantined).toBe(5);
    await s.close();
    const db = await Sqlite.open(path);
    expect(await db.all('SELECT seq_first, count, reason_code FROM quarantine')).toEqual([{ seq_first: 1, count: 5, reason_code: 'malformed' }]);
    await db.close();
  });

  it('flags readings older than historicalAfterMs as historical', async () => {
    const s = await open({ now: () => T0 + 120_000 });
    await s.append(readings(3));
    expect((await s.seal(limits))!.historical).toBe(true);
    await s.append([{ tagId: 1, ts: T0 + 119_000, value: 1, quality: 0 }]);
    expect((await s.seal(limits))!.historical).toBe(false);
    await s.close();
  });

  it.each(['head', 'tail'] as const)('never seals live readings into one batch with backlog (%s): each side keeps its own flag', async (end) => {
    const s = await open({ now: () => T0 + 120_000 });
    // 30 backlog readings (source time 2 min ago) in three blocks, then 20 live ones (0.5 s ago) in two.
    for (let i = 0; i < 3; i++) await s.append(readings(10, i * 10));
    for (let i = 0; i < 2; i++) await s.append(Array.from({ length: 10 }, (_, j) => ({ tagId: 1, ts: T0 + 119_500, value: 100 + i * 10 + j, quality: 0 })));
    const first = (await s.seal(limits, end))!;
    const second = (await s.seal(limits, end))!;
    const byFlag = (b: SpoolBatch) => [b.seqFirst, b.seqLast, b.historical];
    if (end === 'head') expect([byFlag(first), byFlag(second)]).toEqual([[1, 30, true], [31, 50, false]]);
    else expect([byFlag(first), byFlag(second)]).toEqual([[31, 50, false], [1, 30, true]]);
    expect(await s.seal(limits, end)).toBeNull();
    await s.close();
  });
});
