import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/logger.js';
import { Quality } from '../../core/quality.js';
import { modbusDeviceSchemas, type ModbusDevice } from '../../drivers/modbus/config.js';
import { LineRegistry } from '../../drivers/modbus/line-registry.js';
import { ModbusDriver } from '../../drivers/modbus/modbus-driver.js';
import { runModbusSim } from '../../simulators/modbus/cli.js';
import type { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { steelPlantValues } from '../../simulators/modbus/profiles/steel-plant.js';
import { ptyPair } from '../drivers/modbus/pty-pair.js';

async function readMeter(input: Record<string, unknown>): Promise<unknown[]> {
  const device = modbusDeviceSchemas[input.type as ModbusDevice['type']].parse({
    name: 'meter', unitId: 3, timeoutMs: 1000, ...input,
    tags: [{ name: 'wh', table: 'input', address: 2, type: 'uint64' }, { name: 'kwh', table: 'input', address: 0, type: 'uint32', wordOrder: 'CDAB' }],
  }) as ModbusDevice;
  const driver = new ModbusDriver(device, { logger: silentLogger(), lines: new LineRegistry() });
  try {
    const rs = await driver.read(device.tags.map((config, i) => ({ tagId: i, key: `meter/${config.name}`, config })));
    expect(rs.every((r) => r.quality === Quality.Good)).toBe(true);
    return rs.map((r) => r.value);
  } finally {
    await driver.close();
  }
}

describe('jinyun sim modbus --rtu-over-tcp --serial', () => {
  it('answers RTU frames on the TCP port and on a serial line (socat pty pair), same registers, and says so in its listening line', async () => {
    const pty = await ptyPair();
    const lines: string[] = [];
    const ac = new AbortController();
    let server: ModbusSimServer | undefined;
    const done = runModbusSim(['--profile', 'steel-plant', '--port', '0', '--tick-ms', '0', '--rtu-over-tcp', '--serial', pty.b, '--baud', '19200', '--parity', 'even'], {
      stdout: { write: (l: string) => lines.push(l) },
      logger: silentLogger(),
      signal: ac.signal,
      onStarted: (s) => (server = s),
    });
    try {
      while (!server) await new Promise((r) => setTimeout(r, 5));
      const line = JSON.parse(lines[0]!) as Record<string, unknown>;
      expect(line).toEqual({ event: 'listening', protocol: 'modbus-rtu-over-tcp', host: '127.0.0.1', port: expect.any(Number), profile: 'steel-plant', serial: pty.b, baudRate: 19200, parity: 'even' });
      const v = steelPlantValues(0);
      expect(await readMeter({ type: 'modbus-rtu-over-tcp', port: line.port })).toEqual([v.energyWh, v.energyKWh]);
      expect(await readMeter({ type: 'modbus-rtu', path: pty.a, baudRate: 19200, parity: 'even' })).toEqual([v.energyWh, v.energyKWh]);
      expect(server.stats().requests).toBe(2);
    } finally {
      ac.abort();
      await done;
      await pty.close();
    }
  });

  it('rejects a bad parity', async () => {
    await expect(runModbusSim(['--parity', 'mark'], { logger: silentLogger() })).rejects.toThrow(/--parity must be none, even or odd \(got "mark"\)/);
  });
});
