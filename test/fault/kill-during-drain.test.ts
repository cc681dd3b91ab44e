import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Sqlite } from '../../core/sqlite.js';
import { startCloudChild } from '../helpers/cloud-child.js';
import { edgeSite, until } from '../helpers/edge-child.js';
import { freePort } from '../helpers/ports.js';
import { counterRows, epochKeys, expectDenseSequences, expectSpoolIntact, faultRig, lastServedCounter, missingCounterValues, sleep } from '../helpers/fault-rig.js';

/** Ten more devices of 100 holding registers each, polled every 50 ms: ~20,000 readings/s. */
const LOAD = Array.from({ length: 10 }, (_, d) => [
  `  - type: modbus-tcp`, `    name: load-${d}`, `    port: \${SIM_PORT}`, `    unitId: 1`, `    pollIntervalMs: 50`, `    tags:`,
  ...Array.from({ length: 100 }, (_, a) => `      - { name: r${a}, table: holding, address: ${300 + a}, type: uint16 }`),
].join('\n')).join('\n');

/**
 * A backlog builds while the cloud bridge is down; when it returns the edge drains it, and is killed
 * with SIGKILL in the middle of the drain, then restarted. Nothing is lost (beyond the one poll that
 * was read but not yet spooled at the kill) and nothing is stored twice.
 */
describe('fault: kill -9 of the edge during a backlog drain', () => {
  const rig = faultRig('jinyun-drainkill-');
  const { tmp, sim } = rig;

  it('loses nothing and doubles nothing', async () => {
    const simPort = await sim.start();
    const ports = { mqttPort: await freePort(), httpPort: await freePort() };
    rig.cloud = await startCloudChild(tmp.dir, ports);
    const password = rig.cloud.gateway.password;
    const site = edgeSite(tmp.dir, { simPort, mqttPort: ports.mqttPort, password, pollIntervalMs: 50, extraYaml: LOAD.replaceAll('${SIM_PORT}', String(simPort)) });
    rig.edge = site.start();
    await rig.edge.waitFor('started');
    await sleep(1000);
    await rig.cloud.stop();
    await sleep(6000);
    rig.cloud = await startCloudChild(tmp.dir, { ...ports, password });
    const db = await Sqlite.open(join(tmp.dir, 'cloud.db'), { readonly: true });
    const count = async () => (await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM readings'))!.n;
    const start = await count();
    // Kill once the drain is under way, but well before it is over.
    await until('the drain to start', async () => (await count()) > start + 5000, 30_000, 20);
    rig.edge.proc.kill('SIGKILL');
    await rig.edge.exited;
    rig.edge = site.start();
    await rig.edge.waitFor('started');
    await sleep(1500);
    const served = await lastServedCounter(sim);
    // Live readings go first, so the last value arrives before the backlog has drained: wait for the
    // backlog too (a real loss fails here after the timeout).
    await until('every served counter value in the cloud', async () => missingCounterValues((await counterRows(db)).map((r) => r.value), served).length <= 1, 90_000, 200);
    await sleep(1000);
    const values = (await counterRows(db)).map((r) => r.value);
    const missing = missingCounterValues(values, served);
    const keys = await epochKeys(db);
    const total = keys.reduce((n, k) => n + k.n, 0);
    await db.close();
    console.info(`drain kill: ${total} readings stored, ${served} counter values served, missing ${JSON.stringify(missing)}`);
    expect(values.length).toBe(new Set(values).size);
    expect(missing.length).toBeLessThanOrEqual(1);
    expectDenseSequences(keys);
    // The spool recovered from the kill intact (read while the restarted agent uses it).
    await expectSpoolIntact(tmp.dir);
  }, 180_000);
});
