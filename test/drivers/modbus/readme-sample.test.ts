import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseConfigText } from '../../../core/config-file.js';
import { silentLogger } from '../../../core/logger.js';
import { Quality } from '../../../core/quality.js';
import { createDriver, deviceSchema } from '../../../drivers/index.js';
import { ModbusSimServer } from '../../../simulators/modbus/modbus-sim-server.js';
import { COAL_MINE_MAP, coalMineValues } from '../../../simulators/modbus/profiles/coal-mine.js';

const readme = readFileSync(new URL('../../../drivers/modbus/README.md', import.meta.url), 'utf8');
const sample = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
const schema = z.strictObject({ devices: z.array(deviceSchema) });

let sim: ModbusSimServer;
let port: number;

beforeAll(async () => {
  sim = new ModbusSimServer({ port: 0, profile: 'coal-mine', seed: 1, tickMs: 0 });
  port = await sim.start();
  sim.advance(1500); // pumps running
});
afterAll(() => sim.stop());

describe('drivers/modbus/README.md sample config', () => {
  it('is valid and reads every tag Good with the simulator values', async () => {
    expect(sample).toContain('devices:');
    const { devices } = parseConfigText('README.md', sample, schema, [], { env: { JINYUN_SIM_PORT: String(port) } });
    expect(devices.map((d) => d.name)).toEqual(['gas-monitor-1', 'main-fan', 'pump-station']);
    const expected = coalMineValues(1500, { seed: 1 });
    for (const device of devices) {
      if (device.type !== 'modbus-tcp') continue;
      const driver = await createDriver(device, { logger: silentLogger() });
      try {
        const points = device.tags.map((t, i) => ({ tagId: i, key: `${device.name}/${t.name}`, config: t }));
        const readings = await driver.read(points);
        for (const [i, t] of device.tags.entries()) {
          const r = readings[i]!;
          expect(r.quality, `${device.name}/${t.name}`).toBe(Quality.Good);
          if (t.name === 'sample-counter') {
            expect(r.value).toBe(1);
            continue;
          }
          const entry = COAL_MINE_MAP.find((e) => e.unit === device.unitId && e.table === t.table && e.address === t.address);
          expect(entry, `${device.name}/${t.name} is in the simulator map`).toBeDefined();
          expect(r.value, `${device.name}/${t.name}`).toBe(expected[entry!.key]);
        }
      } finally {
        await driver.close();
      }
    }
  });
});
