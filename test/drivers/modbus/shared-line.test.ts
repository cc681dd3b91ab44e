import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/logger.js';
import { Quality, qualityName } from '../../../core/quality.js';
import { Poller } from '../../../edge/poller.js';
import { TransportRig, pointsOf, type TransportKind } from './transport-rig.js';

const INTERVAL_MS = 200;
const TIMEOUT_MS = 300;
const RUN_MS = 4000;

describe.each(['modbus-rtu', 'modbus-rtu-over-tcp', 'modbus-tcp'] as TransportKind[])('a dead unit on a shared %s line', (kind) => {
  let rig: TransportRig;
  beforeAll(async () => {
    rig = await TransportRig.start(kind);
  }, 20_000);
  afterAll(() => rig.stop());

  it('does not stop the healthy units from being polled on time (real pollers, one request at a time on the line)', async () => {
    rig.sim.setFaults({ deadUnits: [2] });
    const common = { pollIntervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS, reconnectInitialMs: 1000, reconnectMaxMs: 4000 };
    const devices = [
      rig.device([{ name: 'zone1', table: 'holding', address: 0, type: 'float32' }, { name: 'burner', table: 'coil', address: 0, type: 'bool' }], { ...common, name: 'furnace', unitId: 1 }),
      rig.device([{ name: 'current', table: 'holding', address: 0, type: 'float32', wordOrder: 'CDAB' }, { name: 'alarm', table: 'discrete', address: 0, type: 'bool' }], { ...common, name: 'mill', unitId: 2 }),
      rig.device([{ name: 'wh', table: 'input', address: 2, type: 'uint64' }, { name: 'kw', table: 'input', address: 10, type: 'float32' }], { ...common, name: 'meter', unitId: 3 }),
    ];
    const seen = new Map<string, { at: number; qualities: number[] }[]>(devices.map((d) => [d.name, []]));
    const pollers = devices.map((d) => {
      const driver = rig.driver(d);
      return new Poller(driver, pointsOf(d), {
        intervalMs: INTERVAL_MS,
        logger: silentLogger(),
        sink: async (rs) => {
          seen.get(d.name)!.push({ at: performance.now(), qualities: rs.map((r) => r.quality) });
        },
      });
    });
    const ignoredBefore = rig.sim.stats().ignored;
    const t0 = performance.now();
    pollers.forEach((p) => p.start());
    await new Promise((r) => setTimeout(r, RUN_MS));
    await Promise.all(pollers.map((p) => p.stop()));
    const ran = performance.now() - t0;
    expect(rig.lines.size).toBe(1); // all three on one line

    const slots = ran / INTERVAL_MS;
    for (const name of ['furnace', 'meter']) {
      const polls = seen.get(name)!;
      expect(polls.every((p) => p.qualities.every((q) => q === Quality.Good)), `${name}: every poll Good`).toBe(true);
      // on time: most slots polled, and never late by more than the dead unit's own timeout (plus slack for a loaded machine)
      expect(polls.length, `${name}: polls in ${Math.round(ran)} ms`).toBeGreaterThanOrEqual(Math.floor(slots * 0.6));
      const gaps = polls.slice(1).map((p, i) => p.at - polls[i]!.at);
      expect(Math.max(...gaps), `${name}: longest gap between polls`).toBeLessThan(INTERVAL_MS + TIMEOUT_MS + 700);
    }
    // the dead unit is asked again only after a backoff (>= 500 ms), not every 200 ms
    const deadAsked = rig.sim.stats().ignored - ignoredBefore;
    expect(deadAsked).toBeGreaterThanOrEqual(1);
    expect(deadAsked).toBeLessThanOrEqual(Math.ceil(ran / 500) + 1);
    const mill = seen.get('mill')!;
    expect(new Set(mill.flatMap((p) => p.qualities.map(qualityName)))).toEqual(new Set(['BadTimeout', 'BadNotConnected']));
    expect(pollers[1]!.counters.cycles).toBeGreaterThanOrEqual(Math.floor(slots * 0.6)); // its own schedule kept too
  }, 30_000);
});
