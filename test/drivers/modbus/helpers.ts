import { modbusTcpDeviceSchema, type ModbusTag, type ModbusTcpDevice, type ModbusTcpDeviceInput } from '../../../drivers/modbus/config.js';
import type { Point } from '../../../drivers/driver.js';

type TagInput = ModbusTcpDeviceInput['tags'][number];

/** A parsed device on 127.0.0.1:port with fast timeouts for tests. */
export function testDevice(port: number, tags: TagInput[], extra: Partial<ModbusTcpDeviceInput> = {}): ModbusTcpDevice {
  return modbusTcpDeviceSchema.parse({ type: 'modbus-tcp', name: 'dev', port, timeoutMs: 300, reconnectInitialMs: 20, reconnectMaxMs: 100, tags, ...extra });
}

export function pointsOf(device: ModbusTcpDevice): Point<ModbusTag>[] {
  return device.tags.map((t, i) => ({ tagId: i + 1, key: `${device.name}/${t.name}`, config: t }));
}

/** Readings keyed by tag name. */
export function byName<R extends { tagId: number }>(device: ModbusTcpDevice, readings: R[]): Record<string, R> {
  return Object.fromEntries(readings.map((r) => [device.tags[r.tagId - 1]!.name, r]));
}
