import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { stopChild, type Child } from '../../cli/process.js';
import { tempDir } from '../helpers/tmp.js';
import { edgeSite, until } from '../helpers/edge-child.js';
import { freePort } from '../helpers/ports.js';
import { loadDevices, Scrape, setSpool, spoolFile, sum } from './edge-probe.js';
import { MAX_APPENDING } from '../../edge/poller.js';

const CAP = 5000;
/** Tags per device, for the bound on readings polled but not yet through the spool (two polls per device at most). */
const TAGS = { 'gas-monitor': 13, 'load-0': 100, 'load-1': 100, 'load-2': 100 } as Record<string, number>;
const MAX_IN_FLIGHT = Object.values(TAGS).reduce((a, b) => a + b, 0);

interface Run { scrape: Scrape; healthz: { status: string; reasons: { code: string }[] }; file: Awaited<ReturnType<typeof spoolFile>> }

/**
 * A real `jinyun edge` process polling ~6,000 readings/s with its cloud unreachable, so the spool
 * reaches its reading cap under load. The metrics must add up exactly at every scrape, the drops
 * must be counted by device, and the file must show the policy applied exactly.
 */
describe('fault: spool cap reached under load (real edge process)', () => {
  const tmp = tempDir('jinyun-caps-');
  const sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
  const children: Child[] = [];
  let simPort: number | undefined;

  afterAll(async () => {
    await Promise.all(children.map((c) => stopChild(c)));
    await sim.stop();
    tmp.cleanup();
  });

  async function run(policy: 'dropOldest' | 'dropNewest' | 'block', enough: (s: Scrape) => boolean): Promise<Run> {
    simPort ??= await sim.start();
    const dir = join(tmp.dir, policy);
    mkdirSync(dir);
    const site = edgeSite(dir, { simPort, mqttPort: await freePort(), password: 'unused', pollIntervalMs: 50, extraYaml: loadDevices(simPort, 3) });
    setSpool(site.file, { maxReadings: CAP, policy });
    const edge = site.start();
    children.push(edge);
    const httpPort = Number((await edge.waitFor('started', 30_000)).httpPort);
    const scrape = await until(`the ${policy} scenario`, async () => {
      const s = await Scrape.of(httpPort);
      return enough(s) ? s : null;
    }, 60_000, 200);
    const healthz = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as Run['healthz'];
    await stopChild(edge, 'SIGTERM', 20_000);
    // A clean stop, not the SIGKILL fallback: the agent released its waiting pollers.
    expect((await edge.exited).signal).toBeNull();
    return { scrape, healthz, file: await spoolFile(join(dir, 'spool.db')) };
  }

  /** Readings polled but not yet answered by the spool: a bounded number of polls per device. */
  function expectInFlightBound(s: Scrape, answered: number): void {
    const polled = sum(s.byDevice('jinyun_edge_poll_readings_total'));
    expect(polled - answered).toBeGreaterThanOrEqual(0);
    // Per device at most MAX_APPENDING cycles being appended, and the next read, which waits for the oldest (poller.ts).
    expect(polled - answered).toBeLessThanOrEqual((MAX_APPENDING + 1) * MAX_IN_FLIGHT);
  }

  it('dropOldest: keeps the newest readings; appended = kept + dropped, exactly, with drops by device', async () => {
    const { scrape: s, healthz, file } = await run('dropOldest', (x) => x.value('jinyun_edge_spool_dropped_readings_total') > 4 * CAP);
    const appended = s.value('jinyun_edge_spool_appended_readings_total');
    const depth = s.value('jinyun_edge_spool_depth_readings');
    const dropped = s.value('jinyun_edge_spool_dropped_readings_total');
    const byDevice = s.byDevice('jinyun_edge_spool_dropped_readings_by_device_total');
    expect(s.value('jinyun_edge_spool_acked_readings_total')).toBe(0);
    expect(appended).toBe(depth + dropped);
    expect(depth).toBeLessThanOrEqual(CAP);
    expect(sum(byDevice)).toBe(dropped);
    for (const d of ['load-0', 'load-1', 'load-2', 'gas-monitor']) expect(byDevice.get(d)).toBeGreaterThan(0);
    expectInFlightBound(s, appended);
    expect(healthz.status).toBe('error');
    expect(healthz.reasons.map((r) => r.code)).toContain('spool_dropping');
    // The file, after a clean stop: every sequence number ever given is kept or counted as dropped,
    // and the kept ones are the newest, without a hole.
    expect(file.integrity).toBe('ok');
    expect(file.maxSeq).toBe(file.depth + sum(file.drops));
    expect(file.minSeq).toBe(file.maxSeq - file.depth + 1);
    expect(file.depth).toBeLessThanOrEqual(CAP);
    for (const [d, n] of byDevice) expect(file.drops.get(d)).toBeGreaterThanOrEqual(n);
  }, 90_000);

  it('dropNewest: keeps the oldest readings; new ones are refused and counted by device', async () => {
    const { scrape: s, file } = await run('dropNewest', (x) => x.value('jinyun_edge_spool_dropped_readings_total') > 4 * CAP);
    const appended = s.value('jinyun_edge_spool_appended_readings_total');
    const dropped = s.value('jinyun_edge_spool_dropped_readings_total');
    expect(s.value('jinyun_edge_spool_depth_readings')).toBe(appended);
    expect(appended).toBeLessThanOrEqual(CAP);
    expect(appended).toBeGreaterThan(CAP - MAX_IN_FLIGHT);
    expect(sum(s.byDevice('jinyun_edge_spool_dropped_readings_by_device_total'))).toBe(dropped);
    expectInFlightBound(s, appended + dropped);
    expect(file.integrity).toBe('ok');
    expect([file.minSeq, file.maxSeq]).toEqual([1, file.depth]);
    expect(file.depth).toBe(appended);
    expect(sum(file.drops)).toBeGreaterThanOrEqual(dropped);
  }, 90_000);

  it('block: polling waits at the cap; nothing is dropped', async () => {
    // Once the appended count stood still for 0.5 s every poller is waiting in the spool: from then
    // on, not one more poll cycle may run.
    let stable = { appended: -1, at: 0, cycles: null as number | null };
    const { scrape: s, file } = await run('block', (x) => {
      const appended = x.value('jinyun_edge_spool_appended_readings_total');
      const cycles = sum(x.byDevice('jinyun_edge_poll_cycles_total'));
      if (appended !== stable.appended) {
        stable = { appended, at: performance.now(), cycles: null };
        return false;
      }
      const held = performance.now() - stable.at;
      if (held >= 500) stable.cycles ??= cycles;
      return appended >= CAP - MAX_IN_FLIGHT && held >= 2500;
    });
    const appended = s.value('jinyun_edge_spool_appended_readings_total');
    expect(appended).toBe(stable.appended);
    expect(s.value('jinyun_edge_spool_dropped_readings_total')).toBe(0);
    expect(s.value('jinyun_edge_spool_depth_readings')).toBe(appended);
    expect(appended).toBeLessThanOrEqual(CAP);
    expect(sum(s.byDevice('jinyun_edge_poll_cycles_total'))).toBe(stable.cycles);
    expectInFlightBound(s, appended);
    expect([file.minSeq, file.maxSeq, file.depth, sum(file.drops)]).toEqual([1, appended, appended, 0]);
    expect(file.integrity).toBe('ok');
  }, 90_000);
});
