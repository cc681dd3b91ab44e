import { describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sqlite } from '../../core/sqlite.js';
import { startCloudChild } from '../helpers/cloud-child.js';
import { edgeSite, until } from '../helpers/edge-child.js';
import { counterRows, expectSpoolIntact, faultRig, lastServedCounter, sleep } from '../helpers/fault-rig.js';

const FILES = ['spool.db', 'spool.db-wal'];

/**
 * Simulated power cut with spool.synchronous NORMAL: the spool file goes back to an earlier state
 * (a snapshot taken while the agent was frozen, standing for commits lost with the page cache)
 * after batches of the lost part were already acknowledged and stored in the cloud. The restarted
 * agent hands out the same sequence numbers again, but under a new epoch: the ingest must store all
 * the new readings and take none of them for duplicates.
 */
describe('fault: power loss with synchronous NORMAL', () => {
  const rig = faultRig('jinyun-power-');
  const { tmp, sim } = rig;

  it('never makes the ingest discard new readings as duplicates', async () => {
    const simPort = await sim.start();
    rig.cloud = await startCloudChild(tmp.dir);
    const site = edgeSite(tmp.dir, { simPort, mqttPort: rig.cloud.mqttPort, password: rig.cloud.gateway.password, pollIntervalMs: 50 });
    writeFileSync(site.file, readFileSync(site.file, 'utf8').replace(/(  path: .*spool\.db)\n/, '$1\n  synchronous: NORMAL\n'));
    rig.edge = site.start();
    await rig.edge.waitFor('started');
    await sleep(1500);

    // The state the disk will be found in after the power cut.
    rig.edge.proc.kill('SIGSTOP');
    await sleep(100);
    for (const f of FILES) if (existsSync(join(tmp.dir, f))) copyFileSync(join(tmp.dir, f), join(tmp.dir, `${f}.snap`));
    rig.edge.proc.kill('SIGCONT');

    // What happens after it reaches the cloud and is acknowledged, then vanishes from the edge.
    await sleep(1500);
    rig.edge.proc.kill('SIGKILL');
    await rig.edge.exited;
    const db = await Sqlite.open(join(tmp.dir, 'cloud.db'), { readonly: true });
    const before = (await db.get<{ hi: number }>('SELECT MAX(seq) AS hi FROM readings WHERE epoch = 1'))!.hi;
    for (const f of FILES) {
      rmSync(join(tmp.dir, f), { force: true });
      if (existsSync(join(tmp.dir, `${f}.snap`))) copyFileSync(join(tmp.dir, `${f}.snap`), join(tmp.dir, f));
    }
    rmSync(join(tmp.dir, 'spool.db-shm'), { force: true });

    rig.edge = site.start();
    const started = await rig.edge.waitFor('started');
    expect(started.epoch).toBe(2);
    await sleep(1500);
    const served = await lastServedCounter(sim);
    await until('the last counter value in the cloud', async () => (await counterRows(db)).some((r) => r.value === served), 30_000, 200);
    await sleep(500);
    const second = (await counterRows(db)).filter((r) => r.epoch === 2);
    const lo = Math.min(...second.map((r) => r.value));
    await db.close();
    // The second run reused sequence numbers of acknowledged first-run readings ...
    expect(Math.min(...second.map((r) => r.seq))).toBeLessThanOrEqual(before);
    // ... and still every counter value it read is stored, exactly once.
    expect(second.map((r) => r.value)).toEqual(Array.from({ length: served - lo + 1 }, (_, i) => lo + i));
    await expectSpoolIntact(tmp.dir);
  }, 90_000);
});
