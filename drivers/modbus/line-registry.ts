import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { ConfigError, NotConnectedError, TimeoutError } from '../../core/errors.js';
import { defaultInterFrameDelayMs, type ModbusDevice, type ModbusRtuDevice } from './config.js';
import { mbapFraming, rtuFraming } from './framing.js';
import { ModbusLine, type LineOptions } from './line.js';

/** Opens a TCP connection with a deadline; Nagle off (one small request at a time). */
export function openTcp(host: string, port: number, timeoutMs: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TimeoutError(`connect to ${host}:${port}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new NotConnectedError(`connect to ${host}:${port}: ${err.message}`, { cause: err }));
    });
  });
}

export type SerialSettings = Pick<ModbusRtuDevice, 'path' | 'baudRate' | 'parity' | 'dataBits' | 'stopBits'>;

/** Opens a serial port (serialport, loaded only when a serial line is used). */
export async function openSerial(s: SerialSettings, timeoutMs: number): Promise<Duplex> {
  const { SerialPort } = await import('serialport');
  const port = new SerialPort({ path: s.path, baudRate: s.baudRate, parity: s.parity, dataBits: s.dataBits, stopBits: s.stopBits, autoOpen: false });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`open ${s.path}: no answer within ${timeoutMs} ms`)), timeoutMs);
    port.open((err) => {
      clearTimeout(timer);
      if (err) reject(new NotConnectedError(`open ${s.path}: ${err.message}`, { cause: err }));
      else resolve();
    });
  });
  // SerialPort has no _destroy: destroy() would leave the fd open and the port locked ("Cannot lock
  // port" on the next open, cf. node-modbus-serial #547). Close it for real.
  port._destroy = (err, callback) => {
    if (!port.isOpen) return callback(err);
    port.close(() => callback(err));
  };
  return port;
}

/** Registry key of the line a device is on: devices with the same key share one connection or port. */
export function lineKey(d: ModbusDevice): string {
  return d.type === 'modbus-rtu' ? `serial:${d.path}` : `${d.type === 'modbus-tcp' ? 'tcp' : 'rtu-tcp'}:${d.host}:${d.port}`;
}

/** What must be equal for two devices to share a line. */
function lineSettings(d: ModbusDevice): string {
  if (d.type === 'modbus-tcp') return d.type;
  const gap = `inter-frame ${Number(lineOptions(d).interFrameDelayMs.toFixed(2))} ms`;
  if (d.type === 'modbus-rtu') return `${d.baudRate} baud, ${d.dataBits}${d.parity[0]!.toUpperCase()}${d.stopBits}, ${gap}`;
  return `${d.type}, ${gap}`;
}

export function lineOptions(d: ModbusDevice): LineOptions {
  const common = { key: lineKey(d), reconnectInitialMs: d.reconnectInitialMs, reconnectMaxMs: d.reconnectMaxMs };
  switch (d.type) {
    case 'modbus-tcp':
      return { ...common, framing: mbapFraming, open: (t) => openTcp(d.host, d.port, t), interFrameDelayMs: 0, dropOnTimeout: true };
    case 'modbus-rtu-over-tcp':
      return { ...common, framing: rtuFraming, open: (t) => openTcp(d.host, d.port, t), interFrameDelayMs: d.interFrameDelayMs ?? 0, dropOnTimeout: true };
    case 'modbus-rtu':
      return { ...common, framing: rtuFraming, open: (t) => openSerial(d, t), interFrameDelayMs: d.interFrameDelayMs ?? defaultInterFrameDelayMs(d.baudRate), dropOnTimeout: false };
  }
}

export interface LineLease {
  line: ModbusLine;
  /** Gives the line back; the last user closes it and the promise settles once the port or socket is closed. Idempotent. */
  release(): Promise<void>;
}

/**
 * Lines by key, shared by the devices on them and closed when the last one lets go. A device
 * whose serial settings differ from the line's is a config error (one port, one baud rate).
 */
export class LineRegistry {
  private readonly lines = new Map<string, { line: ModbusLine; settings: string; device: string }>();
  /** Lines closed but whose port may still be held: a new line on the same key opens after them. */
  private readonly closing = new Map<string, Promise<void>>();

  acquire(d: ModbusDevice): LineLease {
    const key = lineKey(d);
    let entry = this.lines.get(key);
    if (entry && entry.settings !== lineSettings(d)) {
      throw new ConfigError(`device ${d.name}`, [{ path: ['type'], message: `${key} is already used by device ${entry.device} with ${entry.settings}; this device asks for ${lineSettings(d)}` }]);
    }
    if (!entry) {
      const opts = lineOptions(d);
      const open = opts.open;
      opts.open = async (timeoutMs) => {
        await this.closing.get(key);
        return open(timeoutMs);
      };
      entry = { line: new ModbusLine(opts), settings: lineSettings(d), device: d.name };
      this.lines.set(key, entry);
    }
    const { line } = entry;
    line.users++;
    let released = false;
    return {
      line,
      release: async () => {
        if (released) return;
        released = true;
        line.users--;
        if (line.users > 0) return;
        if (this.lines.get(key)?.line === line) this.lines.delete(key);
        const done = line.close();
        this.closing.set(key, done);
        await done;
        if (this.closing.get(key) === done) this.closing.delete(key);
      },
    };
  }

  get size(): number {
    return this.lines.size;
  }
}

/**
 * The process-wide registry the drivers use unless the context brings its own: devices of one
 * gateway that share a line must find each other, and createDriver(device, ctx) is called per device.
 */
export const sharedLines = new LineRegistry();
