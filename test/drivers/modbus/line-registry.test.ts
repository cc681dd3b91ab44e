import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../core/errors.js';
import { modbusDeviceSchemas, type ModbusDevice } from '../../../drivers/modbus/config.js';
import { LineRegistry, lineKey } from '../../../drivers/modbus/line-registry.js';

const rtu = (name: string, extra: Record<string, unknown> = {}): ModbusDevice =>
  modbusDeviceSchemas['modbus-rtu'].parse({ type: 'modbus-rtu', name, path: '/dev/ttyUSB7', tags: [{ name: 't', register: 40001, type: 'uint16' }], ...extra }) as ModbusDevice;
const tcp = (name: string, type: 'modbus-tcp' | 'modbus-rtu-over-tcp', extra: Record<string, unknown> = {}): ModbusDevice =>
  modbusDeviceSchemas[type].parse({ type, name, host: '10.0.0.9', port: 4001, tags: [{ name: 't', register: 40001, type: 'uint16' }], ...extra }) as ModbusDevice;

describe('LineRegistry', () => {
  it('shares one line per serial path or host:port, and frees it with the last device', async () => {
    const reg = new LineRegistry();
    const a = reg.acquire(rtu('a', { unitId: 1 }));
    const b = reg.acquire(rtu('b', { unitId: 2 }));
    const c = reg.acquire(tcp('c', 'modbus-tcp'));
    const d = reg.acquire(tcp('d', 'modbus-rtu-over-tcp'));
    expect(a.line).toBe(b.line);
    expect(reg.size).toBe(3);
    expect([a, c, d].map((l) => l.line.key)).toEqual(['serial:/dev/ttyUSB7', 'tcp:10.0.0.9:4001', 'rtu-tcp:10.0.0.9:4001']);
    expect(lineKey(rtu('x'))).toBe('serial:/dev/ttyUSB7');
    await a.release();
    await a.release(); // idempotent
    expect(reg.size).toBe(3);
    await Promise.all([b.release(), c.release(), d.release()]);
    expect(reg.size).toBe(0);
  });

  it('refuses a device whose serial settings or inter-frame delay differ from the line it would share', () => {
    const reg = new LineRegistry();
    reg.acquire(rtu('meter', { baudRate: 19200, parity: 'even' }));
    expect(() => reg.acquire(rtu('drive', { baudRate: 9600 }))).toThrow(ConfigError);
    expect(() => reg.acquire(rtu('drive', { baudRate: 9600 }))).toThrow('serial:/dev/ttyUSB7 is already used by device meter with 19200 baud, 8E1, inter-frame 2.01 ms; this device asks for 9600 baud, 8N1, inter-frame 4.01 ms');
    expect(() => reg.acquire(rtu('slow', { baudRate: 19200, parity: 'even', interFrameDelayMs: 10 }))).toThrow('inter-frame 2.01 ms; this device asks for 19200 baud, 8E1, inter-frame 10 ms');
    expect(() => reg.acquire(rtu('same', { baudRate: 19200, parity: 'even', unitId: 4 }))).not.toThrow();
    reg.acquire(tcp('conv', 'modbus-rtu-over-tcp'));
    expect(() => reg.acquire(tcp('conv2', 'modbus-rtu-over-tcp', { interFrameDelayMs: 5 }))).toThrow('rtu-tcp:10.0.0.9:4001 is already used by device conv with modbus-rtu-over-tcp, inter-frame 0 ms');
  });
});
