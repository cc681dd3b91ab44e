import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/logger.js';
import { Quality, isGood, severity } from '../../../core/quality.js';
import { OpcuaDriver } from '../../../drivers/opcua/opcua-driver.js';
import { OpcuaSubscribingDriver } from '../../../drivers/opcua/opcua-subscriber.js';
import { Collector, device, points, startSim, type SimFixture } from './helpers.js';

let f: SimFixture;
beforeAll(async () => { f = await startSim(); }, 30_000);
afterAll(async () => { await f?.close(); });

const tags = (f: SimFixture) => [
  { name: 'counter', nodeId: f.sim.nodeId('Sim.Counter') },
  { name: 'fan-speed', nodeId: f.sim.nodeId('Mine.MainFan1.Speed'), deadband: { type: 'absolute' as const, value: 0.5 } },
  { name: 'airflow', nodeId: f.sim.nodeId('Mine.MainFan1.Airflow'), deadband: { type: 'percent' as const, value: 1 } },
  { name: 'running', nodeId: f.sim.nodeId('Mine.MainFan1.Running') },
  { name: 'total', nodeId: f.sim.nodeId('Sim.Total') },
  { name: 'text', nodeId: f.sim.nodeId('Sim.Text') },
  { name: 'spectrum', nodeId: f.sim.nodeId('Sim.Spectrum'), queueSize: 1 },
  { name: 'missing', nodeId: 'ns=2;s=No.Such.Node' },
  { name: 'level', nodeId: f.sim.nodeId('Sim.Level'), samplingIntervalMs: 100 },
];

describe('OPC UA subscribe mode against the simulator', () => {
  it('delivers typed values with source timestamps; a bad NodeId is Bad and the rest run; Bad status is never a value', async () => {
    const d = device(f, { tags: tags(f) });
    const drv = new OpcuaSubscribingDriver(d, { logger: silentLogger() });
    const c = new Collector();
    try {
      await drv.subscribe(points(d), c.push);
      await c.until(() => [1, 2, 3, 4, 5, 6, 7, 9].every((id) => c.of(id).some((r) => isGood(r.quality))) && c.of(1).length >= 5, 10_000, 'values of every good tag');
      expect(c.of(8)).toEqual([expect.objectContaining({ value: null, quality: Quality.BadNodeIdUnknown })]);
      expect(typeof c.of(1).at(-1)!.value).toBe('number');
      expect(typeof c.of(4).at(-1)!.value).toBe('boolean');
      expect(c.of(5).at(-1)!.value).toBeTypeOf('bigint');
      expect(c.of(5).at(-1)!.value as bigint).toBeGreaterThan(2n ** 53n);
      expect(c.of(6).at(-1)!.value).toMatch(/^shift-\d$/);
      expect(JSON.parse(c.of(7).at(-1)!.value as string)).toHaveLength(3);
      const ts = c.of(1).at(-1)!.ts;
      expect(Math.abs(Date.now() - ts)).toBeLessThan(5000);
      expect(drv.health().state).toBe('degraded');
      expect(drv.counters.badItems).toBe(1);

      f.sim.setStatus('Sim.Level', Quality.BadSensorFailure);
      await c.until(() => c.of(9).some((r) => r.quality === Quality.BadSensorFailure), 5000, 'BadSensorFailure');
      expect(c.of(9).filter((r) => severity(r.quality) === 'bad').every((r) => r.value === null)).toBe(true);
      f.sim.setStatus('Sim.Level', Quality.UncertainLastUsableValue);
      await c.until(() => c.of(9).some((r) => r.quality === Quality.UncertainLastUsableValue), 5000, 'Uncertain');
      const u = c.of(9).find((r) => r.quality === Quality.UncertainLastUsableValue)!;
      expect(typeof u.value).toBe('number');
      f.sim.setStatus('Sim.Level', null);
      await c.until(() => isGood(c.of(9).at(-1)!.quality), 5000, 'Good again');
    } finally {
      await drv.close();
    }
  }, 40_000);

  it('the server applies per-tag queue size and deadbands (absolute and percent)', async () => {
    // Publishing every 1 s; the counter changes every 100 ms.
    const d = device(f, {
      publishingIntervalMs: 1000, keepAliveCount: 3, lifetimeCount: 30,
      tags: [
        { name: 'all', nodeId: f.sim.nodeId('Sim.Counter'), samplingIntervalMs: 0, queueSize: 100 },
        { name: 'last-only', nodeId: f.sim.nodeId('Sim.Counter'), samplingIntervalMs: 0, queueSize: 1 },
        { name: 'abs-deadband', nodeId: f.sim.nodeId('Sim.Counter'), samplingIntervalMs: 0, queueSize: 100, deadband: { type: 'absolute', value: 1_000_000 } },
        { name: 'pct-deadband', nodeId: f.sim.nodeId('Mine.MainFan1.Speed'), samplingIntervalMs: 0, queueSize: 100, deadband: { type: 'percent', value: 90 } },
      ],
    });
    const drv = new OpcuaSubscribingDriver(d, { logger: silentLogger() });
    const c = new Collector();
    try {
      await drv.subscribe(points(d), c.push);
      await c.until(() => c.of(1).length >= 40, 15_000, 'four publishes of the counter');
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await drv.close();
    }
    const all = c.of(1).map((r) => r.value as number);
    expect(all.slice(1).every((v, i) => v === all[i]! + 1)).toBe(true);
    // queueSize 1: the newest value of each publish only, so far fewer readings and gaps between them.
    expect(c.of(2).length).toBeLessThan(c.of(1).length / 3);
    // Deadbands far beyond the movement: the initial value only.
    expect(c.of(3)).toHaveLength(1);
    expect(c.of(4)).toHaveLength(1);
  }, 30_000);

  it('poll mode reads every tag; the bad NodeId is BadNodeIdUnknown', async () => {
    const d = device(f, { mode: 'poll', tags: tags(f) });
    const drv = new OpcuaDriver(d, { logger: silentLogger() });
    try {
      const r = await drv.read(points(d));
      expect(r).toHaveLength(9);
      expect(r[7]).toMatchObject({ value: null, quality: Quality.BadNodeIdUnknown });
      expect(r.filter((x) => isGood(x.quality))).toHaveLength(8);
      expect(drv.health().state).toBe('degraded');
    } finally {
      await drv.close();
    }
  }, 20_000);
});
