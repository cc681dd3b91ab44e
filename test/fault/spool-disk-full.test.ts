import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { stopChild, type Child } from '../../cli/process.js';
import { Sqlite } from '../../core/sqlite.js';
import { tempDir } from '../helpers/tmp.js';
import { startCloudChild, type CloudChild } from '../helpers/cloud-child.js';
import { edgeSite, until } from '../helpers/edge-child.js';
import { freePort } from '../helpers/ports.js';
import { cpuSeconds, loadDevices, Scrape, setSpool, spoolFile, sum } from './edge-probe.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const QUOTA = 128 * 1024;

interface Healthz { status: string; reasons: { code: string }[] }

/**
 * A real `jinyun edge` process whose spool file reaches its hard quota (spool.maxFileBytes: SQLite
 * answers SQLITE_FULL exactly as on a full filesystem) while the cloud is unreachable. The agent
 * keeps polling, drops new readings (policy dropNewest) and counts them by device, reports the state,
 * does not spin the CPU; when the cloud returns, the ACKs free room inside the file and appends work
 * again, in the same process.
 */
describe('fault: spool disk full, then room again (real edge process)', () => {
  const tmp = tempDir('jinyun-diskfull-');
  const sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
  const password = randomBytes(18).toString('base64url');
  let edge: Child | undefined;
  let cloud: CloudChild | undefined;

  afterAll(async () => {
    if (edge) await stopChild(edge);
    if (cloud) await cloud.stop();
    await sim.stop();
    tmp.cleanup();
  });

  const healthz = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as Healthz;

  it('applies the policy, reports disk full without spinning, and recovers without a restart', async () => {
    const simPort = await sim.start();
    const mqttPort = await freePort();
    const site = edgeSite(tmp.dir, { simPort, mqttPort, password, pollIntervalMs: 50, extraYaml: loadDevices(simPort, 2) });
    setSpool(site.file, { maxFileBytes: QUOTA, policy: 'dropNewest' });
    edge = site.start();
    const pid = edge.proc.pid!;
    const httpPort = Number((await edge.waitFor('started', 30_000)).httpPort);
    const metrics = () => Scrape.of(httpPort);

    // 1. The quota is reached: disk full is a health state, and new readings are dropped and counted.
    await until('disk full', async () => (await metrics()).value('jinyun_edge_spool_disk_full') === 1, 60_000, 200);
    const h = await healthz(httpPort);
    expect(h.status).toBe('error');
    expect(h.reasons.map((r) => r.code)).toContain('spool_disk_full');

    // 2. It keeps polling without spinning: a retry loop would burn a whole core.
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    const before = await metrics();
    await sleep(3000);
    const during = await metrics();
    const cpuShare = (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000);
    console.info(`disk full: edge CPU ${(cpuShare * 100).toFixed(0)} % of one core while polling ~4,000 readings/s`);
    expect(cpuShare).toBeLessThan(0.6);
    expect(during.value('jinyun_edge_spool_disk_full')).toBe(1);
    const polled = (s: Scrape) => sum(s.byDevice('jinyun_edge_poll_readings_total'));
    expect(polled(during) - polled(before)).toBeGreaterThan(1000);
    const dropped = during.value('jinyun_edge_spool_dropped_readings_total');
    expect(dropped - before.value('jinyun_edge_spool_dropped_readings_total')).toBeGreaterThan(1000);
    expect(sum(during.byDevice('jinyun_edge_spool_dropped_readings_by_device_total'))).toBe(dropped);
    expect(during.value('jinyun_edge_spool_depth_readings')).toBe(during.value('jinyun_edge_spool_appended_readings_total'));
    const stuck = during.value('jinyun_edge_spool_appended_readings_total');

    // 3. Room returns (the cloud comes back and ACKs the backlog): the same process stores again.
    cloud = await startCloudChild(tmp.dir, { mqttPort, password });
    const after = await until('disk full cleared and appends stored again', async () => {
      const s = await metrics();
      return s.value('jinyun_edge_spool_disk_full') === 0 && s.value('jinyun_edge_spool_appended_readings_total') > stuck + 1000 ? s : null;
    }, 60_000, 200);
    expect(after.value('jinyun_edge_spool_acked_readings_total')).toBeGreaterThanOrEqual(stuck);
    expect(edge.proc.exitCode).toBeNull();
    expect(edge.proc.pid).toBe(pid);
    // Readings polled after the recovery reach the cloud.
    const served = sim.unit(1).getNumber('holding', 100, 'uint32');
    const db = await Sqlite.open(join(tmp.dir, 'cloud.db'), { readonly: true });
    await until('a counter value read after the recovery in the cloud', async () =>
      (await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM readings r JOIN series s ON s.id = r.series_id WHERE s.key = 'gas-monitor/counter' AND r.value > ?", [served]))!.n > 0, 30_000, 200);
    await db.close();
    await until('healthz without spool_disk_full', async () => !(await healthz(httpPort)).reasons.some((r) => r.code === 'spool_disk_full'), 10_000);

    await stopChild(edge, 'SIGTERM', 20_000);
    const file = await spoolFile(join(tmp.dir, 'spool.db'));
    expect(file.integrity).toBe('ok');
    expect(sum(file.drops)).toBeGreaterThanOrEqual(dropped);
  }, 150_000);
});
