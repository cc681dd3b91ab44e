import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Spool, SPOOL_DEFAULTS } from '../../edge/spool.js';
import { startUplink, type Uplink } from '../../edge/uplink.js';
import { edgeConfigSchema } from '../../edge/config.js';
import { silentLogger } from '../../core/logger.js';
import { Sqlite } from '../../core/sqlite.js';
import type { Reading } from '../../core/reading.js';
import { tempDir } from '../helpers/tmp.js';
import { startCloudChild, type CloudChild } from '../helpers/cloud-child.js';
import { freePort } from '../helpers/ports.js';

const RATE = 5000;
const OUTAGE_S = Number(process.env.JINYUN_OUTAGE_S ?? 180);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Reliability test O1 at the stress load: 5,000 readings/s keep arriving while the cloud bridge
 * (broker + ingest) is down for OUTAGE_S seconds (180 s, three minutes, by default; JINYUN_OUTAGE_S changes it).
 * When it returns, the backlog drains while live data keeps flowing: the newest stored reading is
 * never more than 5 s old once delivery has resumed, and at the end every reading is stored once.
 */
describe(`fault: ${OUTAGE_S} s cloud outage at ${RATE} readings/s`, () => {
  const tmp = tempDir('jinyun-outage-');
  let cloud: CloudChild | undefined;
  let uplink: Uplink | undefined;
  let spool: Spool | undefined;

  afterAll(async () => {
    await uplink?.close();
    await spool?.close();
    await cloud?.stop();
    tmp.cleanup();
  });

  it('drains with zero loss and zero duplicates while live data stays under 5 s old', async () => {
    const ports = { mqttPort: await freePort(), httpPort: await freePort() };
    cloud = await startCloudChild(tmp.dir, ports);
    const password = cloud.gateway.password;
    spool = await Spool.open({ ...SPOOL_DEFAULTS, path: join(tmp.dir, 'spool.db'), synchronous: 'FULL', logger: silentLogger() });
    const ids = await spool.tagIds(Array.from({ length: 50 }, (_, i) => `line/t${i}`));
    const marker = ids.get('line/t0')!;
    uplink = startUplink({
      gateway: { id: cloud.gateway.id, tenant: cloud.gateway.tenant }, spool, logger: silentLogger(),
      uplink: edgeConfigSchema.shape.uplink.parse({ url: `mqtt://127.0.0.1:${ports.mqttPort}`, password, ackTimeoutMs: 5000, reconnectInitialMs: 100, reconnectMaxMs: 500, batch: { maxDelayMs: 200 } }),
      catalog: { producerId: spool.producerId, version: 1, devices: [], tags: [...ids].map(([key, id]) => ({ id, key, device: 'line', unit: '', dataType: 'float64', description: '' })) },
    });

    // The source: every 100 ms, 500 readings (50 tags x 10 samples); tag t0 carries its append time.
    let appended = 0;
    let running = true;
    const source = (async () => {
      const t0 = performance.now();
      for (let tick = 0; running; tick++) {
        const now = Date.now();
        const chunk: Reading[] = [];
        for (let k = 0; k < 10; k++) for (const id of ids.values()) chunk.push({ tagId: id, ts: now + k, value: id === marker ? now : appended + chunk.length, quality: 0 });
        await spool!.append(chunk, 'line');
        appended += chunk.length;
        uplink!.forwarder.notifyAppended();
        const next = t0 + (tick + 1) * (1000 * chunk.length) / RATE;
        await sleep(Math.max(0, next - performance.now()));
      }
    })();

    await sleep(3000);
    await cloud.stop();
    await sleep(OUTAGE_S * 1000);
    const backlog = (await spool.stats()).depth;
    expect(backlog).toBeGreaterThan(RATE * OUTAGE_S * 0.9);
    cloud = await startCloudChild(tmp.dir, { ...ports, password });
    const back = performance.now();

    // During the drain: how old is the newest reading the cloud has?
    const db = await Sqlite.open(join(tmp.dir, 'cloud.db'), { readonly: true });
    const newest = async () => (await db.get<{ v: number | null }>(`SELECT MAX(r.value) AS v FROM readings r JOIN series s ON s.id = r.series_id WHERE s.key = 'line/t0'`))?.v ?? 0;
    const before = await newest();
    let worst = 0;
    let resumedAt = 0;
    while ((await spool.stats()).depth > RATE) {
      const v = await newest();
      if (v > before && resumedAt === 0) resumedAt = performance.now();
      if (resumedAt > 0) worst = Math.max(worst, Date.now() - v);
      if (performance.now() - back > 120_000) throw new Error('backlog did not drain within 120 s');
      await sleep(250);
    }
    const drainS = (performance.now() - back) / 1000;
    running = false;
    await source;
    while ((await spool.stats()).depth > 0) await sleep(100);

    const rows = await db.get<{ n: number; keys: number }>('SELECT COUNT(*) AS n, COUNT(DISTINCT seq) AS keys FROM readings');
    await db.close();
    console.info(`outage ${OUTAGE_S} s: backlog ${backlog} readings drained in ${drainS.toFixed(1)} s; newest reading at most ${worst} ms old during the drain; ${appended} appended, ${rows!.n} stored`);
    expect(rows!.n).toBe(appended);
    expect(rows!.keys).toBe(appended);
    expect(worst).toBeLessThan(5000);
  }, (OUTAGE_S + 240) * 1000);
});
