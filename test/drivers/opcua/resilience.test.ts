import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/logger.js';
import { Quality, isGood } from '../../../core/quality.js';
import type { Reading } from '../../../core/reading.js';
import { OpcuaSubscribingDriver, WATCHDOG_KEEPALIVE_PERIODS } from '../../../drivers/opcua/opcua-subscriber.js';
import { Collector, device, points, startSim, type SimFixture } from './helpers.js';

let f: SimFixture;
beforeAll(async () => { f = await startSim(); }, 30_000);
afterAll(async () => { await f?.close(); });

const tags = (f: SimFixture) => [
  // Sim.Counter goes +1 per simulator tick and is reported on every change (sampling 0, queue 100): any gap is a lost reading.
  { name: 'counter', nodeId: f.sim.nodeId('Sim.Counter'), samplingIntervalMs: 0, queueSize: 100 },
  { name: 'fan-speed', nodeId: f.sim.nodeId('Mine.MainFan1.Speed') },
  { name: 'ch4', nodeId: f.sim.nodeId('Mine.Gas.T1_Face.CH4') },
  { name: 'belt-running', nodeId: f.sim.nodeId('Mine.Belt1.Running') },
  { name: 'trips', nodeId: f.sim.nodeId('Mine.Hoist.Trips') },
  { name: 'missing', nodeId: 'ns=2;s=No.Such.Node' },
];
const GOOD_IDS = [1, 2, 3, 4, 5];

/** Counter values in arrival order, and the places where one is not the previous + 1. */
function gaps(readings: Reading[]): { from: number; to: number }[] {
  const v = readings.filter((r) => r.tagId === 1 && isGood(r.quality)).map((r) => r.value as number);
  const out: { from: number; to: number }[] = [];
  for (let i = 1; i < v.length; i++) if (v[i] !== v[i - 1]! + 1) out.push({ from: v[i - 1]!, to: v[i]! });
  return out;
}

describe('OPC UA resilience against the simulator', () => {
  it('server restart mid-stream: every monitored item is restored well within 30 s, the bad NodeId stays Bad, no counter value is missing outside the outage', async () => {
    // Reconnect settings are the defaults (1 s doubling to 10 s): what an installed edge does.
    const d = device(f, { tags: tags(f), reconnectInitialMs: 1000, reconnectMaxMs: 10_000 });
    const drv = new OpcuaSubscribingDriver(d, { logger: silentLogger() });
    const c = new Collector();
    try {
      await drv.subscribe(points(d), c.push);
      await c.until(() => c.of(1).filter((r) => isGood(r.quality)).length >= 20 && GOOD_IDS.every((id) => c.of(id).some((r) => isGood(r.quality))), 15_000, 'values of every good tag');
      expect(c.of(6)).toEqual([expect.objectContaining({ value: null, quality: Quality.BadNodeIdUnknown })]);

      const stopAt = c.readings.length;
      const restarting = f.sim.restart(3000);
      await c.until(() => c.readings.slice(stopAt).some((r) => r.quality === Quality.BadNoCommunication), 10_000, 'the outage marked');
      const lastBefore = f.sim.tickCount;
      await restarting;
      const upAt = performance.now();
      const firstAfter = f.sim.tickCount;
      const lossIdx = c.readings.findIndex((r, i) => i >= stopAt && r.quality === Quality.BadNoCommunication);
      const after = () => c.readings.slice(lossIdx);
      await c.until(() => GOOD_IDS.every((id) => after().some((r) => r.tagId === id && isGood(r.quality))), 30_000, 'every item restored');
      const restoreMs = performance.now() - upAt;
      expect(restoreMs).toBeLessThan(30_000);
      await c.until(() => c.of(1).filter((r) => isGood(r.quality)).length >= 60, 15_000, 'more counter values');

      // One BadNoCommunication per tag at the loss (the unknown NodeId too), then BadNodeIdUnknown again on re-create.
      const outage = c.readings.filter((r) => r.quality === Quality.BadNoCommunication);
      expect(outage.map((r) => r.tagId).sort()).toEqual([1, 2, 3, 4, 5, 6]);
      expect(outage.every((r) => r.value === null)).toBe(true);
      expect(c.of(6).map((r) => r.quality)).toEqual([Quality.BadNodeIdUnknown, Quality.BadNoCommunication, Quality.BadNodeIdUnknown]);
      expect(drv.counters.restores).toBe(1);
      expect(drv.health().state).toBe('degraded'); // connected, with one refused item

      // The counter does not advance while the server is down; the only gap is the ticks between the
      // server coming back and the subscription being re-created (the client could not ask for them).
      const g = gaps(c.readings);
      expect(g.length).toBeLessThanOrEqual(1);
      if (g.length === 1) {
        expect(g[0]!.from).toBeGreaterThanOrEqual(lastBefore - 1);
        expect(g[0]!.to).toBeGreaterThanOrEqual(firstAfter);
        expect(g[0]!.to - g[0]!.from - 1).toBeLessThanOrEqual(Math.ceil(restoreMs / 100) + 20);
      }
      // Bad readings never carry a value.
      expect(c.readings.filter((r) => r.quality >>> 30 >= 2).every((r) => r.value === null)).toBe(true);
    } finally {
      await drv.close();
    }
  }, 60_000);

  it('watchdog: a server that stops publishing ("connected but no data") is detected within three keep-alive periods and recovered', async () => {
    // publishing 200 ms x keep-alive 5 = 1 s keep-alive period; the watchdog limit is 3 s.
    const d = device(f, { tags: tags(f).slice(0, 3), publishingIntervalMs: 200, keepAliveCount: 5, lifetimeCount: 30 });
    const drv = new OpcuaSubscribingDriver(d, { logger: silentLogger() });
    const c = new Collector();
    try {
      await drv.subscribe(points(d), c.push);
      await c.until(() => c.of(1).filter((r) => isGood(r.quality)).length >= 5, 15_000, 'first values');
      expect(f.sim.stopPublishing()).toBe(1);
      const frozenAt = performance.now();
      const mark = c.readings.length;
      await c.until(() => c.readings.slice(mark).some((r) => r.quality === Quality.BadNoCommunication), 15_000, 'the watchdog');
      const detectMs = performance.now() - frozenAt;
      const limitMs = WATCHDOG_KEEPALIVE_PERIODS * 1000;
      expect(drv.counters.watchdogTrips).toBe(1);
      expect(drv.health().errorsByKind.watchdog).toBe(1);
      const trip = /watchdog: no publish response for (\d+) ms \(3 keep-alive periods = 3000 ms\)/.exec(drv.health().lastError ?? '');
      expect(trip).not.toBeNull();
      // The watchdog looks every quarter keep-alive period (250 ms): it trips within that of the 3-period limit (+250 ms timer slack).
      const silentAtTrip = Number(trip![1]);
      expect(silentAtTrip).toBeGreaterThan(limitMs);
      expect(silentAtTrip).toBeLessThanOrEqual(limitMs + 250 + 250);
      // Seen from the test, silence starts at the last publish response: up to one publishing interval before the
      // freeze, or up to about a second after it (answers to publish requests the server had already queued).
      expect(detectMs).toBeGreaterThan(limitMs - 400);
      expect(detectMs).toBeLessThan(limitMs + 2000);
      const badAt = c.readings.length;
      await c.until(() => [1, 2, 3].every((id) => c.readings.slice(badAt).some((r) => r.tagId === id && isGood(r.quality))), 15_000, 'recovery');
      expect(drv.counters.subscribes).toBe(2);
      expect(f.sim.sessions()).toHaveLength(1);
    } finally {
      await drv.close();
    }
  }, 45_000);
});
