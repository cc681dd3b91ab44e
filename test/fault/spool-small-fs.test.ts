import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { stopChild, type Child } from '../../cli/process.js';
import { tempDir } from '../helpers/tmp.js';
import { edgeSite, until } from '../helpers/edge-child.js';
import { freePort } from '../helpers/ports.js';
import { loadDevices, Scrape, setSpool, spoolFile } from './edge-probe.js';

const FS_BYTES = 4 * 1024 * 1024;
const FILLER_BYTES = 2 * 1024 * 1024 + 512 * 1024;
const root = process.getuid?.() === 0;
if (!root) console.warn('SKIPPED: spool on a small filesystem: mounting a tmpfs needs root');

interface Healthz { status: string; reasons: { code: string }[] }

/**
 * The spool on a real 4 MiB filesystem (a tmpfs mounted for the test) that fills up: SQLite gets
 * ENOSPC from the kernel for the WAL and the database, exactly as on a full SD card. The agent
 * reports disk full and applies its policy; when the operator frees space (a file on the same
 * filesystem is deleted) it stores again, in the same process, and the file is intact.
 */
describe.skipIf(!root)('fault: spool on a small filesystem that fills up, then space is freed (real edge process)', () => {
  const tmp = tempDir('jinyun-smallfs-');
  const mnt = join(tmp.dir, 'mnt');
  const sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
  let mounted = false;
  let edge: Child | undefined;

  afterAll(async () => {
    if (edge) await stopChild(edge);
    await sim.stop();
    if (mounted) execFileSync('umount', [mnt]);
    tmp.cleanup();
  });

  it('reports disk full, applies the policy, and recovers when space is freed, without a restart', async () => {
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${FS_BYTES},mode=0700`, 'tmpfs', mnt]);
    mounted = true;
    const filler = join(mnt, 'other-application.log');
    writeFileSync(filler, Buffer.alloc(FILLER_BYTES, 1));
    const simPort = await sim.start();
    const site = edgeSite(tmp.dir, { simPort, mqttPort: await freePort(), password: 'unused', pollIntervalMs: 50, extraYaml: loadDevices(simPort, 2) });
    setSpool(site.file, { policy: 'dropNewest' });
    const spoolPath = join(mnt, 'spool.db');
    writeFileSync(site.file, readFileSync(site.file, 'utf8').replace(join(tmp.dir, 'spool.db'), spoolPath));
    edge = site.start();
    const pid = edge.proc.pid!;
    const httpPort = Number((await edge.waitFor('started', 30_000)).httpPort);
    const metrics = () => Scrape.of(httpPort);
    const healthz = async () => (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as Healthz;

    const full = await until('the filesystem to fill', async () => {
      const s = await metrics();
      return s.value('jinyun_edge_spool_disk_full') === 1 ? s : null;
    }, 60_000, 200);
    expect((await healthz()).reasons.map((r) => r.code)).toEqual(expect.arrayContaining(['spool_disk_full', 'disk_full']));
    await until('new readings dropped and counted', async () => (await metrics()).value('jinyun_edge_spool_dropped_readings_total') > full.value('jinyun_edge_spool_dropped_readings_total') + 1000, 30_000, 200);
    const stuck = (await metrics()).value('jinyun_edge_spool_appended_readings_total');

    // The operator frees space on the same filesystem.
    rmSync(filler);
    const after = await until('appends stored again', async () => {
      const s = await metrics();
      return s.value('jinyun_edge_spool_disk_full') === 0 && s.value('jinyun_edge_spool_appended_readings_total') > stuck + 1000 ? s : null;
    }, 60_000, 200);
    expect(edge.proc.exitCode).toBeNull();
    expect(edge.proc.pid).toBe(pid);
    expect(after.value('jinyun_edge_spool_depth_readings')).toBe(after.value('jinyun_edge_spool_appended_readings_total'));

    await stopChild(edge, 'SIGTERM', 20_000);
    const file = await spoolFile(spoolPath);
    expect(file.integrity).toBe('ok');
    // dropNewest kept the oldest readings: sequence numbers from 1, without a hole.
    expect([file.minSeq, file.maxSeq]).toEqual([1, file.depth]);
    expect(file.depth).toBeGreaterThan(stuck);
  }, 150_000);
});
