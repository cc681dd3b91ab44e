import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { stopChild, type Child } from '../../cli/process.js';
import { tempDir } from '../helpers/tmp.js';
import { startCloudChild, type CloudChild } from '../helpers/cloud-child.js';
import { edgeSite, getJson, until } from '../helpers/edge-child.js';

interface Latest { items: { key: string; value: unknown; unit: string; quality: { code: number; name: string } }[] }
interface Series { items: { value: unknown; seq: number; epoch: number; quality: { code: number } }[]; next: string | null }

/** A reading's whole way: simulator registers -> edge process -> broker -> ingest -> SQLite -> API. */
describe('end to end: Modbus simulator to the cloud API', () => {
  const tmp = tempDir('jinyun-e2e-');
  let sim: ModbusSimServer;
  let cloud: CloudChild;
  let edge: Child;
  let api: string;

  beforeAll(async () => {
    sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
    const simPort = await sim.start();
    cloud = await startCloudChild(tmp.dir);
    api = `http://127.0.0.1:${cloud.httpPort}/api/v1`;
    edge = edgeSite(tmp.dir, { simPort, mqttPort: cloud.mqttPort, password: cloud.gateway.password, pollIntervalMs: 100 }).start();
    await edge.waitFor('started');
  });

  afterAll(async () => {
    if (edge) await stopChild(edge);
    if (cloud) await cloud.stop();
    await sim?.stop();
    tmp.cleanup();
  });

  it('serves the exact register values, decoded in every word order, with Good quality', async () => {
    const latest = await until('all tags in /latest', async () => {
      const l = await getJson<Latest>(`${api}/latest?gateway=gw-1`);
      return l.items.length === 13 ? l : null;
    });
    const byKey = Object.fromEntries(latest.items.map((i) => [i.key, i]));
    expect(Object.fromEntries(Object.entries(byKey).filter(([k]) => k.includes('fixed')).map(([k, v]) => [k, v.value]))).toEqual({
      'gas-monitor/fixed-int16': -1234,
      'gas-monitor/fixed-uint16': 54321,
      'gas-monitor/fixed-float-abcd': 3.5,
      'gas-monitor/fixed-uint32-cdab': 123456789,
      'gas-monitor/fixed-int32': -2,
      'gas-monitor/fixed-float-cdab': 123.456,
      'gas-monitor/fixed-float-badc': 123.456,
      'gas-monitor/fixed-float-dcba': 123.456,
      'gas-monitor/fixed-input-scaled': 432.1,
      'gas-monitor/fixed-discrete': true,
      'gas-monitor/fixed-coil': false,
    });
    expect(new Set(latest.items.map((i) => i.quality.name))).toEqual(new Set(['Good']));
    expect(byKey['gas-monitor/fixed-input-scaled']!.unit).toBe('degC');
    const methane = byKey['gas-monitor/methane']!.value as number;
    expect(methane).toBeGreaterThan(0.1);
    expect(methane).toBeLessThan(1);
  });

  it('stores the sample counter as 1, 2, 3, ... with one sequence number per reading', async () => {
    const series = await until('20 counter readings', async () => {
      const s = await getJson<Series>(`${api}/series?gateway=gw-1&tag=gas-monitor/counter&limit=100000`);
      return s.items.length >= 20 ? s : null;
    });
    const values = series.items.map((i) => i.value as number);
    expect(values.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(series.items.map((i) => i.seq)).size).toBe(series.items.length);
  });

  it('lists the gateway online, its device and its catalog', async () => {
    const gws = await until('gateway online', async () => {
      const g = await getJson<{ items: { id: string; tenant: string; online: boolean }[] }>(`${api}/gateways`);
      return g.items.find((x) => x.online) ? g : null;
    });
    expect(gws.items.map((g) => [g.id, g.tenant, g.online])).toEqual([['gw-1', 'tenant-a', true]]);
    const devices = await getJson<{ items: { name: string; driver: string; endpoint: string }[] }>(`${api}/devices?gateway=gw-1`);
    expect(devices.items.map((d) => [d.name, d.driver])).toEqual([['gas-monitor', 'modbus-tcp']]);
    const tags = await getJson<{ items: { key: string; dataType: string }[] }>(`${api}/tags?gateway=gw-1`);
    expect(tags.items.find((t) => t.key === 'gas-monitor/fixed-float-cdab')?.dataType).toBe('float32');
    expect(tags.items.length).toBe(13);
  });
});
