import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Sqlite } from '../../core/sqlite.js';
import type { Child } from '../../cli/process.js';
import { startCloudChild } from '../helpers/cloud-child.js';
import { edgeSite, until } from '../helpers/edge-child.js';
import { freePort } from '../helpers/ports.js';
import { counterRows, epochKeys, expectDenseSequences, expectSpoolIntact, faultRig, lastServedCounter, missingCounterValues, sleep } from '../helpers/fault-rig.js';
import { prng } from '../helpers/prng.js';


type Fault = 'edge-kill' | 'cloud-kill' | 'both-kill' | 'device-dropout';
const FAULTS: Fault[] = ['edge-kill', 'cloud-kill', 'both-kill', 'device-dropout'];

/**
 * Chaos in the style of RELIABILITY.md C1, shortened for CI: for about 40 s, at random 1.5-4 s
 * intervals, the edge agent and/or the cloud bridge (broker + ingest + store) are killed with SIGKILL
 * and restarted after a random pause, or the Modbus device stops answering for a while, all while the
 * simulator's sample counter is polled every 50 ms. Afterwards: every value the device served is
 * stored exactly once except at most the one read-but-not-spooled poll per edge kill (I1, I2), every
 * epoch's sequence is unique and dense (I2, I4), no process died on its own, and the spool is intact.
 */
describe('fault: chaos (random kill -9 of edge and cloud, device dropouts)', () => {
  const rig = faultRig('jinyun-chaos-');
  const { tmp, sim } = rig;

  it('stores every served reading exactly once after a random fault schedule', async () => {
    const seed = Number(process.env.JINYUN_CHAOS_SEED ?? Date.now() % 1_000_000);
    const rand = prng(seed);
    const between = (lo: number, hi: number) => Math.round(lo + rand() * (hi - lo));
    const simPort = await sim.start();
    const ports = { mqttPort: await freePort(), httpPort: await freePort() };
    rig.cloud = await startCloudChild(tmp.dir, ports);
    const password = rig.cloud.gateway.password;
    const site = edgeSite(tmp.dir, { simPort, mqttPort: ports.mqttPort, password, pollIntervalMs: 50 });

    // A process that exits without being killed by the test is a failure, whatever the counts say.
    const killed = new Set<Child>();
    const unexpected: string[] = [];
    const watch = (child: Child, name: string) => {
      void child.exited.then((e) => { if (!killed.has(child)) unexpected.push(`${name} exited by itself (${JSON.stringify(e)}): ${child.stderr().slice(-500)}`); });
      return child;
    };
    const kill = async (child: Child) => {
      killed.add(child);
      child.proc.kill('SIGKILL');
      await child.exited;
    };
    const startEdge = async () => {
      rig.edge = watch(site.start(), 'edge');
      await rig.edge.waitFor('started', 30_000);
    };
    const startCloud = async () => {
      rig.cloud = await startCloudChild(tmp.dir, { ...ports, password });
      watch(rig.cloud.child, 'cloud');
    };
    watch(rig.cloud.child, 'cloud');
    await startEdge();

    const schedule: string[] = [];
    let edgeKills = 0;
    const endAt = Date.now() + 40_000;
    while (Date.now() < endAt) {
      await sleep(between(1500, 4000));
      const fault = FAULTS[Math.floor(rand() * FAULTS.length)]!;
      const pause = between(0, 2500);
      schedule.push(`${fault}:${pause}ms`);
      if (fault === 'edge-kill' || fault === 'both-kill') {
        await kill(rig.edge!);
        edgeKills++;
      }
      if (fault === 'cloud-kill' || fault === 'both-kill') await kill(rig.cloud.child);
      if (fault === 'device-dropout') sim.setFaults({ silent: true });
      await sleep(pause);
      if (fault === 'device-dropout') sim.setFaults({ silent: false });
      if (fault === 'cloud-kill' || fault === 'both-kill') await startCloud();
      if (fault === 'edge-kill' || fault === 'both-kill') await startEdge();
    }
    await sleep(1500);
    const served = await lastServedCounter(sim);
    console.info(`chaos seed ${seed} (JINYUN_CHAOS_SEED=${seed} replays it): ${schedule.join(' ')}`);

    const store = await Sqlite.open(join(tmp.dir, 'cloud.db'), { readonly: true });
    try {
      // Once faults stop, the backlog drains (I6); a real loss fails here after the timeout.
      await until('every served counter value in the cloud store', async () => missingCounterValues((await counterRows(store)).map((r) => r.value), served).length <= edgeKills, 60_000, 200);
      await sleep(1000);
      const values = (await counterRows(store)).map((r) => r.value);
      const missing = missingCounterValues(values, served);
      console.info(`chaos: ${schedule.length} faults (${edgeKills} edge kills), ${served} counter values served, ${values.length} stored, missing ${JSON.stringify(missing)}`);
      expect(values.length).toBe(new Set(values).size);
      expect(missing.length).toBeLessThanOrEqual(edgeKills);
      expect(Math.max(...values)).toBe(served);
      const keys = await epochKeys(store);
      expect(keys.map((k) => k.epoch)).toEqual(Array.from({ length: edgeKills + 1 }, (_, i) => i + 1));
      expectDenseSequences(keys);
      const conflicts = await store.get<{ n: number }>('SELECT COUNT(*) AS n FROM quarantine');
      expect(conflicts?.n ?? 0).toBe(0);
      await expectSpoolIntact(tmp.dir);
      expect(unexpected).toEqual([]);
    } finally {
      await store.close();
    }
  }, 180_000);
});
