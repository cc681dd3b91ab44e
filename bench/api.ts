import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { silentLogger } from '../core/logger.js';
import { Sqlite } from '../core/sqlite.js';
import { SqliteStore } from '../cloud-bridge/store/sqlite-store.js';
import { PgStore } from '../cloud-bridge/store/pg-store.js';
import { monthPartition } from '../cloud-bridge/store/pg-schema.js';
import { cloudConfigSchema } from '../cloud-bridge/config.js';
import { startCloudBridge } from '../cloud-bridge/bridge.js';
import type { BenchGroup, Figure } from './harness.js';

const DAY = 86_400_000;
const POINTS = 30 * 86_400; // 30 days at 1 Hz
const T0 = Math.floor((Date.now() - 31 * DAY) / DAY) * DAY;
const CATALOG = { producerId: 'bench', version: 1, tags: [{ id: 1, key: 'gas/methane', device: 'gas', unit: '%CH4', dataType: 'float32', description: '' }], devices: [] };
/** 43-minute buckets: about 1 000 points over 30 days, and a whole number of minutes (the rollups serve it). */
const Q = { gateway: 'gw-bench', key: 'gas/methane', fromMs: T0, toMs: T0 + POINTS * 1000, bucketMs: 43 * 60_000 };

async function median(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  return t.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

async function sqliteTrend(report: (f: Figure) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'jinyun-bench-api-'));
  try {
    const store = await SqliteStore.open({ path: join(dir, 'cloud.db') }, { logger: silentLogger() });
    await store.registerGateways([{ id: 'gw-bench', tenant: 't' }]);
    await store.upsertCatalog('gw-bench', CATALOG);
    const db = await Sqlite.open(join(dir, 'cloud.db'));
    await db.exec(`PRAGMA busy_timeout = 5000; INSERT INTO readings (series_id, ts, kind, value, value_text, quality, epoch, seq, historical)
      WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ${POINTS - 1})
      SELECT (SELECT id FROM series), ${T0} + i * 1000, 0, 0.4 + (i % 600) / 1000.0, NULL, 0, 1, i, 0 FROM c; ANALYZE`);
    let buckets = 0;
    const build = await median(1, async () => { buckets = (await store.aggregate(Q))!.buckets.length; });
    const ms = await median(5, () => store.aggregate(Q));
    // Ceiling: one bare aggregate pass over the same rows on a plain connection.
    const ceiling = await median(5, () => db.get('SELECT COUNT(*), AVG(value) FROM readings WHERE series_id = 1 AND ts >= ? AND ts < ?', [Q.fromMs, Q.toMs]));
    report({ name: 'api.trend_30d_sqlite_ms', value: ms, unit: `ms (${POINTS} points → ${buckets} buckets; aim < 100)` });
    report({ name: 'api.trend_30d_sqlite_vs_bare_scan', value: ms / ceiling, unit: `ratio (bare COUNT/AVG scan ${ceiling.toFixed(0)} ms)` });
    report({ name: 'api.trend_30d_sqlite_first_query_ms', value: build, unit: 'ms (first query after the bulk load: builds the 43 200 minute rollups once)' });
    await db.close();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pgTrend(report: (f: Figure) => void): Promise<void> {
  const url = process.env.JINYUN_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `bench_api_${process.pid}`;
  const store = await PgStore.open({ url, schema }, { logger: silentLogger() });
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await store.registerGateways([{ id: 'gw-bench', tenant: 't' }]);
    await store.upsertCatalog('gw-bench', CATALOG);
    for (let ts = T0; ts < Q.toMs + 31 * DAY; ts += 28 * DAY) {
      const p = monthPartition(ts);
      await c.query(`CREATE TABLE IF NOT EXISTS ${schema}.${p.name} PARTITION OF ${schema}.readings FOR VALUES FROM (${p.fromMs}) TO (${p.toMs})`);
    }
    await c.query(`INSERT INTO ${schema}.readings (series_id, ts, kind, value, quality, epoch, seq, historical)
      SELECT (SELECT id FROM ${schema}.series), ${T0}::bigint + i::bigint * 1000, 0, 0.4 + (i % 600) / 1000.0, 0, 1, i, false FROM generate_series(0, ${POINTS - 1}) i`);
    await c.query(`ANALYZE ${schema}.readings`);
    let buckets = 0;
    const build = await median(1, async () => { buckets = (await store.aggregate(Q))!.buckets.length; });
    const ms = await median(5, () => store.aggregate(Q));
    const ceiling = await median(5, () => c.query(`SELECT COUNT(*), AVG(value) FROM ${schema}.readings WHERE series_id = 1 AND ts >= $1 AND ts < $2`, [Q.fromMs, Q.toMs]));
    report({ name: 'api.trend_30d_pg_ms', value: ms, unit: `ms (${POINTS} points → ${buckets} buckets; aim < 100)` });
    report({ name: 'api.trend_30d_pg_vs_bare_scan', value: ms / ceiling, unit: `ratio (bare COUNT/AVG scan ${ceiling.toFixed(0)} ms)` });
    report({ name: 'api.trend_30d_pg_first_query_ms', value: build, unit: 'ms (first query after the bulk load: builds the 43 200 minute rollups once)' });
  } finally {
    await c.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await c.end();
    await store.close();
  }
}

/** The dashboard in headless Chromium against a bridge holding 200 devices: navigation to 200 device rows rendered. */
async function firstRender(report: (f: Figure) => void): Promise<void> {
  const chromium = process.env.JINYUN_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    process.stdout.write(`dashboard.first_render_200_devices_ms skipped: no Chromium at ${chromium} (apt-get install chromium)\n`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'jinyun-bench-dash-'));
  const config = cloudConfigSchema.parse({ mqtt: { port: 0 }, http: { port: 0 }, store: { type: 'sqlite', path: join(dir, 'cloud.db') }, log: { level: 'silent' } });
  const bridge = await startCloudBridge(config, { logger: silentLogger() });
  const { chromium: launcher } = await import('playwright-core');
  const browser = await launcher.launch({ executablePath: chromium, args: ['--no-sandbox'] });
  try {
    await bridge.store.registerGateways([{ id: 'gw-bench', tenant: 't' }]);
    const devices = Array.from({ length: 200 }, (_, i) => ({ name: `dev-${String(i).padStart(3, '0')}`, driver: 'modbus-tcp', endpoint: `10.0.${i >> 8}.${i & 255}:502` }));
    await bridge.store.upsertCatalog('gw-bench', { producerId: 'bench', version: 1, tags: devices.map((d, i) => ({ id: i + 1, key: `${d.name}/value`, device: d.name, unit: '', dataType: 'float32', description: '' })), devices });
    const page = await browser.newPage();
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      await page.goto(`http://127.0.0.1:${bridge.httpPort}/dashboard/`);
      // Playwright's selector engine, not a string evaluated in the page (the dashboard's CSP forbids eval).
      await page.locator('#devices tbody tr').nth(199).waitFor();
      times.push(performance.now() - s);
    }
    report({ name: 'dashboard.first_render_200_devices_ms', value: times.sort((a, b) => a - b)[2]!, unit: 'ms (navigation to 200 device rows, median of 5; aim < 1000)' });
  } finally {
    await browser.close();
    await bridge.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const apiGroup: BenchGroup = {
  name: 'api',
  description: '30-day 1 Hz trend bucketed to 1000 points in SQLite and PostgreSQL; dashboard first render with 200 devices',
  async run(report) {
    await sqliteTrend(report);
    await pgTrend(report);
    await firstRender(report);
  },
};
