import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Sqlite } from '../../core/sqlite.js';
import { startCloudChild } from '../helpers/cloud-child.js';
import { edgeSite, until } from '../helpers/edge-child.js';
import { freePort } from '../helpers/ports.js';
import { counterRows, epochKeys, expectDenseSequences, expectSpoolIntact, faultRig, lastServedCounter, missingCounterValues, sleep } from '../helpers/fault-rig.js';

/**
 * The delivery contract under faults, with real processes: the edge agent is killed with SIGKILL and
 * restarted, the cloud bridge (broker + ingest + store) is killed with SIGKILL and restarted on the
 * same ports, all while the simulator's sample counter is polled every 50 ms. Afterwards every counter
 * value the simulator served is stored exactly once, except at most the one poll per edge kill that
 * was read but not yet spooled when the process died; (epoch, seq) is unique and has no holes.
 */
describe('fault: kill -9 of the edge agent and of the cloud bridge mid-stream', () => {
  const rig = faultRig('jinyun-fault-');
  const { tmp, sim } = rig;

  it('stores every reading exactly once', async () => {
    const simPort = await sim.start();
    const ports = { mqttPort: await freePort(), httpPort: await freePort() };
    rig.cloud = await startCloudChild(tmp.dir, ports);
    const password = rig.cloud.gateway.password;
    const site = edgeSite(tmp.dir, { simPort, mqttPort: ports.mqttPort, password, pollIntervalMs: 50 });
    let edgeKills = 0;

    rig.edge = site.start();
    await rig.edge.waitFor('started');
    await sleep(1500);

    // 1. The edge dies without warning, in the middle of polling and forwarding, and comes back.
    rig.edge.proc.kill('SIGKILL');
    await rig.edge.exited;
    edgeKills++;
    await sleep(500);
    rig.edge = site.start();
    await rig.edge.waitFor('started');
    await sleep(1500);

    // 2. The broker and ingest die without warning; the edge keeps polling into its spool.
    rig.cloud.child.proc.kill('SIGKILL');
    await rig.cloud.child.exited;
    await sleep(1500);
    rig.cloud = await startCloudChild(tmp.dir, { ...ports, password });
    await sleep(1500);

    // 3. The device stops answering: the last counter value is final.
    const served = await lastServedCounter(sim);
    expect(served).toBeGreaterThan(60);

    const store = await Sqlite.open(join(tmp.dir, 'cloud.db'), { readonly: true });
    try {
      await until('every served counter value in the cloud store (but the one read at the edge kill)', async () => missingCounterValues((await counterRows(store)).map((r) => r.value), served).length <= edgeKills, 60_000, 200);
      // Let anything still in flight land, so duplicates would show.
      await sleep(1000);
      const values = (await counterRows(store)).map((r) => r.value);
      expect(values.length).toBe(new Set(values).size);
      const missing = missingCounterValues(values, served);
      console.info(`fault run: ${served} counter values served, ${values.length} stored, missing ${JSON.stringify(missing)}`);
      expect(missing.length).toBeLessThanOrEqual(edgeKills);
      expect(Math.max(...values)).toBe(served);

      const keys = await epochKeys(store);
      expect(keys.map((k) => k.epoch)).toEqual([1, 2]);
      expectDenseSequences(keys);
      // The second run continues the sequence where the first one's spool left it.
      expect(keys[1]!.lo).toBe(keys[0]!.hi + 1);
      const batches = await store.get<{ n: number }>('SELECT COUNT(*) AS n FROM batches');
      expect(batches!.n).toBeGreaterThan(3);
      await expectSpoolIntact(tmp.dir);
    } finally {
      await store.close();
    }
  }, 120_000);
});
