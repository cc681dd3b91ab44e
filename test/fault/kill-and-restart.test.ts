import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { stopChild, type Child } from '../../cli/process.js';
import { Sqlite } from '../../core/sqlite.js';
import { tempDir } from '../helpers/tmp.js';
import { startCloudChild, type CloudChild } from '../helpers/cloud-child.js';
import { edgeSite, until } from '../helpers/edge-child.js';
import { freePort } from '../helpers/ports.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The delivery contract under faults, with real processes: the edge agent is killed with SIGKILL and
 * restarted, the cloud bridge (broker + ingest + store) is killed with SIGKILL and restarted on the
 * same ports, all while the simulator's sample counter is polled every 50 ms. Afterwards every counter
 * value the simulator served is stored exactly once, except at most the one poll per edge kill that
 * was read but not yet spooled when the process died; (epoch, seq) is unique and has no holes.
 */
describe('fault: kill -9 of the edge agent and of the cloud bridge mid-stream', () => {
  const tmp = tempDir('jinyun-fault-');
  const sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
  let cloud: CloudChild | undefined;
  let edge: Child | undefined;

  afterAll(async () => {
    if (edge) await stopChild(edge);
    if (cloud) await cloud.stop();
    await sim.stop();
    tmp.cleanup();
  });

  it('stores every reading exactly once', async () => {
    const simPort = await sim.start();
    const ports = { mqttPort: await freePort(), httpPort: await freePort() };
    cloud = await startCloudChild(tmp.dir, ports);
    const password = cloud.gateway.password;
    const site = edgeSite(tmp.dir, { simPort, mqttPort: ports.mqttPort, password, pollIntervalMs: 50 });
    const db = join(tmp.dir, 'cloud.db');
    let edgeKills = 0;

    edge = site.start();
    await edge.waitFor('started');
    await sleep(1500);

    // 1. The edge dies without warning, in the middle of polling and forwarding, and comes back.
    edge.proc.kill('SIGKILL');
    await edge.exited;
    edgeKills++;
    await sleep(500);
    edge = site.start();
    await edge.waitFor('started');
    await sleep(1500);

    // 2. The broker and ingest die without warning; the edge keeps polling into its spool.
    cloud.child.proc.kill('SIGKILL');
    await cloud.child.exited;
    await sleep(1500);
    cloud = await startCloudChild(tmp.dir, { ...ports, password });
    await sleep(1500);

    // 3. The device stops answering: the last counter value is final.
    sim.setFaults({ silent: true });
    await sleep(200);
    const served = sim.unit(1).getNumber('holding', 100, 'uint32');
    expect(served).toBeGreaterThan(60);

    const store = await Sqlite.open(db, { readonly: true });
    try {
      const counterRows = async () => store.all<{ value: number; epoch: number; seq: number }>(
        `SELECT r.value, r.epoch, r.seq FROM readings r JOIN series s ON s.id = r.series_id
         WHERE s.key = 'gas-monitor/counter' AND r.quality = 0 ORDER BY r.value`);
      await until('the last served counter value in the cloud store', async () => (await counterRows()).some((r) => r.value === served), 30_000, 200);
      // Let anything still in flight land, so duplicates would show.
      await sleep(1000);
      const rows = await counterRows();
      const values = rows.map((r) => r.value);
      const distinct = new Set(values);
      expect(values.length).toBe(distinct.size);
      const missing = Array.from({ length: served }, (_, i) => i + 1).filter((v) => !distinct.has(v));
      console.info(`fault run: ${served} counter values served, ${values.length} stored, missing ${JSON.stringify(missing)}`);
      expect(missing.length).toBeLessThanOrEqual(edgeKills);
      expect(Math.max(...values)).toBe(served);

      const keys = await store.all<{ epoch: number; n: number; lo: number; hi: number; distinct_seq: number }>(
        'SELECT epoch, COUNT(*) AS n, MIN(seq) AS lo, MAX(seq) AS hi, COUNT(DISTINCT seq) AS distinct_seq FROM readings GROUP BY epoch ORDER BY epoch');
      expect(keys.map((k) => k.epoch)).toEqual([1, 2]);
      for (const k of keys) {
        expect(k.distinct_seq).toBe(k.n);
        expect(k.hi - k.lo + 1).toBe(k.n);
      }
      // The second run continues the sequence where the first one's spool left it.
      expect(keys[1]!.lo).toBe(keys[0]!.hi + 1);
      const batches = await store.get<{ n: number }>('SELECT COUNT(*) AS n FROM batches');
      expect(batches!.n).toBeGreaterThan(3);
      const spool = await Sqlite.open(join(tmp.dir, 'spool.db'), { readonly: true });
      expect(await spool.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      await spool.close();
    } finally {
      await store.close();
    }
  }, 90_000);
});
