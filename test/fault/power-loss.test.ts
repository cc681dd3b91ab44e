import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { stopChild, type Child } from '../../cli/process.js';
import { Sqlite } from '../../core/sqlite.js';
import { tempDir } from '../helpers/tmp.js';
import { startCloudChild, type CloudChild } from '../helpers/cloud-child.js';
import { edgeSite, until } from '../helpers/edge-child.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FILES = ['spool.db', 'spool.db-wal'];

/**
 * Simulated power cut with spool.synchronous NORMAL: the spool file goes back to an earlier state
 * (a snapshot taken while the agent was frozen, standing for commits lost with the page cache)
 * after batches of the lost part were already acknowledged and stored in the cloud. The restarted
 * agent hands out the same sequence numbers again, but under a new epoch: the ingest must store all
 * the new readings and take none of them for duplicates.
 */
describe('fault: power loss with synchronous NORMAL', () => {
  const tmp = tempDir('jinyun-power-');
  const sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
  let cloud: CloudChild | undefined;
  let edge: Child | undefined;

  afterAll(async () => {
    if (edge) await stopChild(edge);
    if (cloud) await cloud.stop();
    await sim.stop();
    tmp.cleanup();
  });

  it('never makes the ingest discard new readings as duplicates', async () => {
    const simPort = await sim.start();
    cloud = await startCloudChild(tmp.dir);
    const site = edgeSite(tmp.dir, { simPort, mqttPort: cloud.mqttPort, password: cloud.gateway.password, pollIntervalMs: 50 });
    writeFileSync(site.file, readFileSync(site.file, 'utf8').replace(/(  path: .*spool\.db)\n/, '$1\n  synchronous: NORMAL\n'));
    edge = site.start();
    await edge.waitFor('started');
    await sleep(1500);

    // The state the disk will be found in after the power cut.
    edge.proc.kill('SIGSTOP');
    await sleep(100);
    for (const f of FILES) if (existsSync(join(tmp.dir, f))) copyFileSync(join(tmp.dir, f), join(tmp.dir, `${f}.snap`));
    edge.proc.kill('SIGCONT');

    // What happens after it reaches the cloud and is acknowledged, then vanishes from the edge.
    await sleep(1500);
    edge.proc.kill('SIGKILL');
    await edge.exited;
    const db = await Sqlite.open(join(tmp.dir, 'cloud.db'), { readonly: true });
    const before = (await db.get<{ hi: number }>('SELECT MAX(seq) AS hi FROM readings WHERE epoch = 1'))!.hi;
    for (const f of FILES) {
      rmSync(join(tmp.dir, f), { force: true });
      if (existsSync(join(tmp.dir, `${f}.snap`))) copyFileSync(join(tmp.dir, `${f}.snap`), join(tmp.dir, f));
    }
    rmSync(join(tmp.dir, 'spool.db-shm'), { force: true });

    edge = site.start();
    const started = await edge.waitFor('started');
    expect(started.epoch).toBe(2);
    await sleep(1500);
    sim.setFaults({ silent: true });
    await sleep(200);
    const served = sim.unit(1).getNumber('holding', 100, 'uint32');
    const counter = async () => db.all<{ value: number; epoch: number; seq: number }>(`SELECT r.value, r.epoch, r.seq FROM readings r JOIN series s ON s.id = r.series_id WHERE s.key = 'gas-monitor/counter' AND r.quality = 0`);
    await until('the last counter value in the cloud', async () => (await counter()).some((r) => r.value === served), 30_000, 200);
    await sleep(500);
    const rows = await counter();
    const second = rows.filter((r) => r.epoch === 2);
    const lo = Math.min(...second.map((r) => r.value));
    await db.close();
    // The second run reused sequence numbers of acknowledged first-run readings ...
    expect(Math.min(...second.map((r) => r.seq))).toBeLessThanOrEqual(before);
    // ... and still every counter value it read is stored, exactly once.
    expect(second.map((r) => r.value).sort((a, b) => a - b)).toEqual(Array.from({ length: served - lo + 1 }, (_, i) => lo + i));
    const spool = await Sqlite.open(join(tmp.dir, 'spool.db'), { readonly: true });
    expect(await spool.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    await spool.close();
  }, 90_000);
});
