import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseConfigText } from '../../../core/config-file.js';
import { silentLogger } from '../../../core/logger.js';
import { Quality } from '../../../core/quality.js';
import type { Reading } from '../../../core/reading.js';
import { createDriver, deviceSchema, type DeviceConfig } from '../../../drivers/index.js';
import { LineRegistry } from '../../../drivers/modbus/line-registry.js';
import { ModbusDriver } from '../../../drivers/modbus/modbus-driver.js';
import { ModbusSimServer } from '../../../simulators/modbus/modbus-sim-server.js';
import { COAL_MINE_MAP, coalMineValues } from '../../../simulators/modbus/profiles/coal-mine.js';
import { steelPlantValues } from '../../../simulators/modbus/profiles/steel-plant.js';
import { ptyPair, type PtyPair } from './pty-pair.js';

const readme = readFileSync(new URL('../../../drivers/modbus/README.md', import.meta.url), 'utf8');
const sample = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
const schema = z.strictObject({ devices: z.array(deviceSchema) });
const STEEL_TICK = 4321;

let coal: ModbusSimServer;
let steel: ModbusSimServer;
let pty: PtyPair;
let env: Record<string, string>;

beforeAll(async () => {
  coal = new ModbusSimServer({ port: 0, profile: 'coal-mine', seed: 1, tickMs: 0 });
  const coalPort = await coal.start();
  coal.advance(1500); // pumps running
  pty = await ptyPair();
  steel = new ModbusSimServer({ port: 0, profile: 'steel-plant', tickMs: 0, framing: 'rtu' });
  const converterPort = await steel.start();
  await steel.serveSerial(pty.b, { baudRate: 19200, parity: 'even' });
  steel.advance(STEEL_TICK);
  env = { JINYUN_SIM_PORT: String(coalPort), JINYUN_SERIAL_PATH: pty.a, JINYUN_CONVERTER_PORT: String(converterPort) };
}, 20_000);
afterAll(async () => {
  await coal.stop();
  await steel.stop();
  await pty.close();
});

async function readAll(device: DeviceConfig): Promise<Reading[]> {
  const driver = device.type === 'opcua' ? await createDriver(device, { logger: silentLogger() }) : new ModbusDriver(device, { logger: silentLogger(), lines: new LineRegistry() });
  try {
    return await driver.read(device.tags.map((t, i) => ({ tagId: i, key: `${device.name}/${t.name}`, config: t })));
  } finally {
    await driver.close();
  }
}

describe('drivers/modbus/README.md sample config', () => {
  it('is valid, and every tag of every transport reads Good with the simulator values', async () => {
    expect(sample).toContain('devices:');
    const { devices } = parseConfigText('README.md', sample, schema, [], { env });
    expect(devices.map((d) => [d.name, d.type])).toEqual([
      ['gas-monitor-1', 'modbus-tcp'],
      ['main-fan', 'modbus-tcp'],
      ['power-meter', 'modbus-rtu'],
      ['furnace', 'modbus-rtu-over-tcp'],
    ]);
    const coalExpected = coalMineValues(1500, { seed: 1 });
    const s = steelPlantValues(STEEL_TICK);
    const steelExpected: Record<string, unknown> = {
      'power-meter/energy-kwh': s.energyKWh, 'power-meter/energy-wh': s.energyWh, 'power-meter/reactive-varh': s.reactiveVarh,
      'power-meter/power': s.powerKW, 'power-meter/energy-kwh-f64': s.energyKWhF64,
      'furnace/zone1': s.zone1C, 'furnace/zone2': s.zone2C, 'furnace/cooling-water': s.coolingC, 'furnace/flame-ok': true,
      'furnace/burner-enable': true, 'furnace/nameplate': 'FURNACE-7',
    };
    for (const device of devices) {
      if (device.type === 'opcua') continue;
      const readings = await readAll(device);
      for (const [i, t] of device.tags.entries()) {
        const key = `${device.name}/${t.name}`;
        const r = readings[i]!;
        expect(r.quality, key).toBe(Quality.Good);
        if (device.type !== 'modbus-tcp') {
          expect(r.value, key).toBe(steelExpected[key]);
          continue;
        }
        if (t.name === 'sample-counter') {
          expect(r.value).toBe(1);
          continue;
        }
        const entry = COAL_MINE_MAP.find((e) => e.unit === device.unitId && e.table === t.table && e.address === t.address);
        expect(entry, `${key} is in the simulator map`).toBeDefined();
        expect(r.value, key).toBe(coalExpected[entry!.key]);
      }
    }
    expect(Object.keys(steelExpected)).toHaveLength(devices.filter((d) => d.type !== 'modbus-tcp').reduce((n, d) => n + d.tags.length, 0));
  });

  it('shows the requests per poll the README states', async () => {
    const { devices } = parseConfigText('README.md', sample, schema, [], { env });
    const { planReads } = await import('../../../drivers/modbus/planner.js');
    const counts = devices.map((d) => (d.type === 'opcua' ? 0 : planReads(d.tags, (t) => t, d).map((q) => `FC${q.fc} ${q.start}+${q.count}`)));
    expect(counts[0]).toEqual(['FC1 0+1', 'FC2 0+1', 'FC3 0+5', 'FC3 100+2', 'FC4 0+1']);
    expect(counts[2]).toEqual(['FC4 0+16']);
    expect(counts[3]).toEqual(['FC1 0+1', 'FC3 0+6', 'FC3 1080+5']);
  });
});
