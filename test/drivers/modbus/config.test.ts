import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { modbusTcpDeviceSchema, modbusTagSchema } from '../../../drivers/modbus/config.js';
import { createDriver, describeEndpoint, deviceSchema, tagInfo } from '../../../drivers/index.js';
import { ModbusTcpDriver } from '../../../drivers/modbus/modbus-driver.js';
import { parseConfigText } from '../../../core/config-file.js';
import { ConfigError } from '../../../core/errors.js';
import { silentLogger } from '../../../core/logger.js';

const tag = { name: 'ch4', table: 'holding', address: 0, type: 'float32' } as const;
const device = { type: 'modbus-tcp', name: 'gas-1', tags: [tag] } as const;

function issues(schema: z.ZodType, value: unknown): { path: string; message: string }[] {
  const r = schema.safeParse(value);
  if (r.success) return [];
  return r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('modbusTcpDeviceSchema', () => {
  it('fills the defaults', () => {
    const d = modbusTcpDeviceSchema.parse(device);
    expect(d).toEqual({
      type: 'modbus-tcp', name: 'gas-1', host: '127.0.0.1', port: 502, unitId: 1, timeoutMs: 1000, pollIntervalMs: 1000,
      maxBlockRegisters: 125, maxGapRegisters: 10, wordOrder: 'ABCD', reconnectInitialMs: 1000, reconnectMaxMs: 30_000,
      tags: [{ name: 'ch4', table: 'holding', address: 0, type: 'float32', scale: 1, offset: 0, unit: '', description: '' }],
    });
  });

  it('rejects unknown keys, bad names and out-of-range numbers', () => {
    expect(issues(modbusTcpDeviceSchema, { ...device, timeout: 5 })[0]?.message).toMatch(/timeout/);
    expect(issues(modbusTcpDeviceSchema, { ...device, name: '-bad name' })[0]).toMatchObject({ path: 'name', message: expect.stringMatching(/letters, digits/) });
    expect(issues(modbusTcpDeviceSchema, { ...device, port: 70000 })[0]?.path).toBe('port');
    expect(issues(modbusTcpDeviceSchema, { ...device, unitId: 256 })[0]?.path).toBe('unitId');
    expect(issues(modbusTcpDeviceSchema, { ...device, timeoutMs: 10 })[0]?.path).toBe('timeoutMs');
    expect(issues(modbusTcpDeviceSchema, { ...device, maxBlockRegisters: 126 })[0]?.path).toBe('maxBlockRegisters');
    expect(issues(modbusTcpDeviceSchema, { ...device, wordOrder: 'little' })[0]?.path).toBe('wordOrder');
    expect(issues(modbusTcpDeviceSchema, { ...device, tags: [] })[0]?.message).toBe('a device needs at least one tag');
    expect(issues(modbusTcpDeviceSchema, { ...device, reconnectInitialMs: 5000, reconnectMaxMs: 1000 })[0]?.path).toBe('reconnectMaxMs');
  });

  it('says what is expected for a bool on a register and a number on a coil', () => {
    expect(issues(modbusTagSchema, { ...tag, type: 'bool' })).toEqual([
      { path: 'type', message: 'type "bool" on a holding register needs "bit" (0-15); or use a numeric type' },
    ]);
    expect(issues(modbusTagSchema, { name: 'run', table: 'coil', address: 0, type: 'uint16' })).toEqual([{ path: 'type', message: 'a coil tag must have type "bool" (got "uint16")' }]);
    expect(issues(modbusTagSchema, { name: 'run', table: 'coil', address: 0, type: 'bool', scale: 2 })[0]?.path).toBe('scale');
  });

  it('checks addresses, scale and block size for 32-bit tags', () => {
    expect(issues(modbusTagSchema, { ...tag, address: 65535 })[0]).toMatchObject({ path: 'address', message: expect.stringMatching(/at most 65534/) });
    expect(issues(modbusTagSchema, { ...tag, address: -1 })[0]?.path).toBe('address');
    expect(issues(modbusTagSchema, { ...tag, address: 1.5 })[0]?.path).toBe('address');
    expect(issues(modbusTagSchema, { ...tag, scale: 0 })[0]).toMatchObject({ path: 'scale', message: 'scale must not be 0' });
    expect(issues(modbusTagSchema, { ...tag, table: 'register' })[0]?.path).toBe('table');
    expect(issues(modbusTcpDeviceSchema, { ...device, maxBlockRegisters: 1 })[0]).toMatchObject({ path: 'tags.0.type', message: expect.stringMatching(/maxBlockRegisters must be at least 2/) });
  });

  it('describes every field (the editor JSON Schema is generated from it)', () => {
    const json = z.toJSONSchema(deviceSchema, { io: 'input' }) as { oneOf: { properties: Record<string, { description?: string; items?: { properties: Record<string, { description?: string }> } }> }[] };
    const props = json.oneOf[0]!.properties;
    for (const [k, v] of Object.entries(props)) expect(v.description, k).toBeTruthy();
    for (const [k, v] of Object.entries(props.tags!.items!.properties)) expect(v.description, `tags.${k}`).toBeTruthy();
  });

  it('reports a YAML error with its line through the shared config loader', () => {
    const yaml = ['type: modbus-tcp', 'name: gas-1', 'tags:', '  - name: ch4', '    table: holding', '    address: 0', '    type: bool', ''].join('\n');
    try {
      parseConfigText('edge.yaml', yaml, deviceSchema);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]).toMatchObject({ path: ['tags', 0, 'type'], line: 7 });
    }
  });
});

describe('drivers/index', () => {
  const parsed = deviceSchema.parse({ ...device, port: 5020, tags: [{ ...tag, unit: '%CH4', description: 'methane' }, { name: 'run', table: 'coil', address: 3, type: 'bool' }] });

  it('selects the driver by type', async () => {
    expect(issues(deviceSchema, { ...device, type: 'profibus' })[0]?.path).toBe('type');
    expect(await createDriver(parsed, { logger: silentLogger() })).toBeInstanceOf(ModbusTcpDriver);
  });

  it('describes the endpoint and the tags', () => {
    expect(describeEndpoint(parsed)).toBe('127.0.0.1:5020 unit 1');
    expect(tagInfo(parsed)).toEqual([
      { name: 'ch4', unit: '%CH4', dataType: 'float32', description: 'methane' },
      { name: 'run', unit: '', dataType: 'bool', description: '' },
    ]);
  });

  it('validates again on construction', () => {
    if (parsed.type !== 'modbus-tcp') throw new Error('expected a modbus-tcp device');
    expect(() => new ModbusTcpDriver({ ...parsed, port: 0 }, { logger: silentLogger() })).toThrow(ConfigError);
  });
});
