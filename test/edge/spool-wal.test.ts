import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { Spool, SPOOL_DEFAULTS, type SpoolOptions } from '../../edge/spool.js';
import { silentLogger } from '../../core/logger.js';
import { Sqlite } from '../../core/sqlite.js';
import type { Reading } from '../../core/reading.js';
import { tempDir } from '../helpers/tmp.js';

const limits = { maxReadings: 5000, maxBytes: 256 * 1024, historicalAfterMs: 60_000 };
const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);
const readings = (n: number, from: number): Reading[] => Array.from({ length: n }, (_, i) => ({ tagId: 1 + ((from + i) % 10), ts: T0 + (from + i) * 100, value: (from + i) % 977, quality: 0 }));

/** RELIABILITY.md S1: the WAL stays small (journal_size_limit, and checkpoint(TRUNCATE) after drains). */
describe('spool WAL size', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  const wal = () => statSync(`${path}-wal`).size;
  const open = (extra: Partial<SpoolOptions> = {}) => Spool.open({ ...SPOOL_DEFAULTS, path, synchronous: 'FULL', logger: silentLogger(), ...extra });

  beforeEach(() => {
    tmp = tempDir();
    path = join(tmp.dir, 'spool.db');
  });
  afterEach(() => tmp.cleanup());

  it('truncates the WAL to zero bytes once a backlog of 100,000+ readings has drained', async () => {
    const s = await open({ checkpointIntervalMs: 3_600_000 });
    const db = await Sqlite.open(path, { readonly: true });
    for (let i = 0; i < 120; i++) await s.append(readings(1000, i * 1000), 'dev');
    let settled = 0;
    for (let b = await s.seal(limits); b; b = await s.seal(limits)) {
      settled += await s.settleAcked(b);
      if (settled < 120_000) {
        expect((await s.stats()).checkpoints).toBe(0);
        expect(wal()).toBeGreaterThan(0);
      }
    }
    expect(settled).toBe(120_000);
    expect((await s.stats()).checkpoints).toBe(1);
    expect(wal()).toBe(0);
    // A small drain afterwards does not checkpoint again before the interval.
    await s.append(readings(10, 200_000), 'dev');
    await s.settleAcked((await s.seal(limits))!);
    expect((await s.stats()).checkpoints).toBe(1);
    expect(wal()).toBeGreaterThan(0);
    await s.close();
    expect(await db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    await db.close();
  });

  it('checkpoints after ACKs once the interval is up, however small the drain', async () => {
    const s = await open({ checkpointIntervalMs: 0 });
    for (let i = 0; i < 3; i++) {
      await s.append(readings(100, i * 100), 'dev');
      await s.settleAcked((await s.seal(limits))!);
      expect(wal()).toBe(0);
    }
    expect((await s.stats()).checkpoints).toBe(3);
    await s.close();
  });
});
