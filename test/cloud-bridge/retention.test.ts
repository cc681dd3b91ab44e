import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Reading } from '../../core/reading.js';
import { decodeBatch } from '../../proto/codec.js';
import { startCloudBridge, startRetention, type CloudBridge } from '../../cloud-bridge/bridge.js';
import { SqliteStore } from '../../cloud-bridge/store/sqlite-store.js';
import type { CloudStore } from '../../cloud-bridge/store/reading-store.js';
import { tempDir } from '../helpers/tmp.js';
import { CATALOG, T0, batchBytes, testConfig, until } from './helpers.js';

const DAY = 86_400_000;

/** A pino logger whose JSON lines are kept for the test to read. */
function capturingLogger(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, cb) { out.push(...chunk.toString('utf8').split('\n').filter((l) => l !== '')); cb(); } });
  return { logger: pino({ level: 'info' }, stream), lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const flow = (from: number, n: number): Reading[] => Array.from({ length: n }, (_, i) => ({ tagId: 1, ts: from + i * 1000, value: i, quality: 0 }));

async function seed(store: CloudStore, old: Reading[], recent: Reading[]): Promise<void> {
  await store.upsertCatalog('gw-1', CATALOG);
  for (const [readings, seq] of [[old, 1], [recent, 1 + old.length]] as const) {
    const bytes = batchBytes(readings, seq);
    expect(await store.writeBatch('gw-1', decodeBatch(bytes), { receivedMs: T0, bytes })).toMatchObject({ result: 'ok', stored: readings.length });
  }
}

const count = async (store: CloudStore, fromMs: number, toMs: number) => (await store.query({ gateway: 'gw-1', key: 'pump/flow', fromMs, toMs, limit: 10_000 }))!.readings.length;

describe('raw-data retention in the cloud bridge', () => {
  let tmp: ReturnType<typeof tempDir>;
  let bridge: CloudBridge | undefined;
  beforeEach(() => {
    tmp = tempDir('jinyun-retention-');
  });
  afterEach(async () => {
    await bridge?.close();
    bridge = undefined;
    tmp.cleanup();
  });

  it('prunes every intervalMs, counts runs and deleted readings in /api/v1/metrics, logs each run and the AQ 6201 warning', async () => {
    const config = await testConfig(tmp.dir);
    config.retention = { rawDays: 30, intervalMs: 1000 };
    const cap = capturingLogger();
    bridge = await startCloudBridge(config, { logger: cap.logger });
    await seed(bridge.store, flow(T0 - 60 * DAY, 120), flow(T0, 10));
    const m = bridge.metrics.retention;
    await until(() => m.readingsDeleted === 120 && m.runs >= 3, 8000);
    expect(m).toMatchObject({ readingsDeleted: 120, failures: 0 });
    expect(await count(bridge.store, T0 - 61 * DAY, T0 - 59 * DAY)).toBe(0);
    expect(await count(bridge.store, T0, T0 + DAY)).toBe(10);

    const res = await fetch(`http://127.0.0.1:${bridge.httpPort}/api/v1/metrics`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { retention: { runs: number; readingsDeleted: number; failures: number } };
    expect(body.retention.readingsDeleted).toBe(120);
    expect(body.retention.failures).toBe(0);
    expect(body.retention.runs).toBeGreaterThanOrEqual(3);

    const lines = cap.lines();
    expect(lines.filter((l) => l.level === 40 && l.component === 'cloud').map((l) => l.msg)).toContain(
      'retention.rawDays is 30: raw readings older than 30 days are deleted, less than the 3 months (92 days) AQ 6201 asks for coal-mine safety data');
    const runs = lines.filter((l) => l.msg === 'retention run');
    expect(runs.length).toBe(m.runs);
    expect(runs.reduce((n, l) => n + (l.deleted as number), 0)).toBe(120);
    for (const l of runs) {
      expect(l).toMatchObject({ component: 'retention', rawDays: 30 });
      expect(l.cutoff).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(Date.now() - 30 * DAY - Date.parse(l.cutoff as string)).toBeGreaterThanOrEqual(0);
      expect(Date.now() - 30 * DAY - Date.parse(l.cutoff as string)).toBeLessThan(10_000);
      expect(typeof l.durationMs).toBe('number');
    }

    // Stopped on close: no run after it.
    await bridge.close();
    bridge = undefined;
    const after = m.runs;
    await new Promise((r) => setTimeout(r, 1500));
    expect(m.runs).toBe(after);
  });

  it('deletes nothing and never runs without rawDays; a failing run is logged and counted, not thrown', async () => {
    const store = await SqliteStore.open({ path: join(tmp.dir, 'cloud.db') }, { logger: pino({ level: 'silent' }) });
    await seed(store, flow(T0 - 400 * DAY, 50), flow(T0, 5));
    const off = startRetention(store, { intervalMs: 1000 }, { logger: pino({ level: 'silent' }), now: Date.now });
    await new Promise((r) => setTimeout(r, 1300));
    await off.stop();
    expect(off.metrics).toEqual({ runs: 0, readingsDeleted: 0, failures: 0 });
    expect(await count(store, T0 - 401 * DAY, T0 + DAY)).toBe(55);
    await store.close();

    const cap = capturingLogger();
    const failing = startRetention(store, { rawDays: 100, intervalMs: 1000 }, { logger: cap.logger, now: Date.now });
    await until(() => failing.metrics.failures >= 1, 3000);
    await failing.stop();
    expect(failing.metrics).toMatchObject({ runs: 0, readingsDeleted: 0 });
    const errors = cap.lines().filter((l) => l.msg === 'retention run failed');
    expect(errors.length).toBe(failing.metrics.failures);
    expect(errors[0]).toMatchObject({ level: 50, component: 'retention' });
    expect(typeof errors[0]!.err).toBe('string');
  });
});
