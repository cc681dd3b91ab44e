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
  const tmp = tempDir('jinyun-drainkill-');
  const sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
  let cloud: CloudChild | undefined;
  let edge: Child | undefined;

  afterAll(async () => {
    if (edge) await stopChild(edge);
    if (cloud) await cloud.stop();
    await sim.stop();
    tmp.cleanup();
  });

  it('loses nothing and doubles nothing', async () => {
    const simPort = await sim.start();
    const ports = { mqttPort: await freePort(), httpPort: await freePort() };
    cloud = await startCloudChild(tmp.dir, ports);
    const password = cloud.gateway.password;
    const site = edgeSite(tmp.dir, { simPort, mqttPort: ports.mqttPort, password, pollIntervalMs: 50, extraYaml: LOAD.replaceAll('${SIM_PORT}', String(simPort)) });
    edge = site.start();
    await edge.waitFor('started');
    await sleep(1000);
    await cloud.stop();
    await sleep(6000);
    cloud = await startCloudChild(tmp.dir, { ...ports, password });
    const db = await Sqlite.open(join(tmp.dir, 'cloud.db'), { readonly: true });
    const count = async () => (await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM readings'))!.n;
    const start = await count();
    // Kill once the drain is under way, but well before it is over.
    await until('the drain to start', async () => (await count()) > start + 5000, 30_000, 20);
    edge.proc.kill('SIGKILL');
    await edge.exited;
    edge = site.start();
    await edge.waitFor('started');
    await sleep(1500);
    sim.setFaults({ silent: true });
    await sleep(200);
    const served = sim.unit(1).getNumber('holding', 100, 'uint32');
    const counter = async () => db.all<{ value: number }>(`SELECT r.value FROM readings r JOIN series s ON s.id = r.series_id WHERE s.key = 'gas-monitor/counter' AND r.quality = 0`);
    await until('the last counter value in the cloud', async () => (await counter()).some((r) => r.value === served), 60_000, 200);
    await sleep(1000);
    const values = (await counter()).map((r) => r.value);
    const missing = Array.from({ length: served }, (_, i) => i + 1).filter((v) => !values.includes(v));
    const keys = await db.all<{ epoch: number; n: number; d: number; lo: number; hi: number }>('SELECT epoch, COUNT(*) AS n, COUNT(DISTINCT seq) AS d, MIN(seq) AS lo, MAX(seq) AS hi FROM readings GROUP BY epoch');
    const total = keys.reduce((n, k) => n + k.n, 0);
    await db.close();
    console.info(`drain kill: ${total} readings stored, ${served} counter values served, missing ${JSON.stringify(missing)}`);
    expect(values.length).toBe(new Set(values).size);
    expect(missing.length).toBeLessThanOrEqual(1);
    for (const k of keys) {
      expect(k.d).toBe(k.n);
      expect(k.hi - k.lo + 1).toBe(k.n);
    }
    // The spool recovered from the kill intact (read while the restarted agent uses it).
    const spool = await Sqlite.open(join(tmp.dir, 'spool.db'), { readonly: true });
    expect(await spool.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    await spool.close();
  }, 120_000);
});
