import { silentLogger } from '../../../core/logger.js';
import { Quality } from '../../../core/quality.js';
import type { Reading } from '../../../core/reading.js';
import type { Point } from '../../../drivers/driver.js';
import { modbusDeviceSchemas, type ModbusDevice, type ModbusTag } from '../../../drivers/modbus/config.js';
import { LineRegistry } from '../../../drivers/modbus/line-registry.js';
import { ModbusDriver } from '../../../drivers/modbus/modbus-driver.js';
import { ModbusSimServer } from '../../../simulators/modbus/modbus-sim-server.js';
import type { SimProfile } from '../../../simulators/modbus/profile.js';
import { ptyPair, type PtyPair } from './pty-pair.js';

export type TransportKind = 'modbus-tcp' | 'modbus-rtu' | 'modbus-rtu-over-tcp';
export const TRANSPORTS: readonly TransportKind[] = ['modbus-tcp', 'modbus-rtu', 'modbus-rtu-over-tcp'];

type TagInput = Record<string, unknown>;

/**
 * One simulator reached through one transport: Modbus TCP, RTU on a socat pseudo-terminal pair
 * (a real serial line: the driver opens one end, the simulator the other), or RTU frames over TCP.
 * Drivers made by a rig share its own line registry, so devices with different unit ids share one
 * connection or port, as on site.
 */
export class TransportRig {
  readonly lines = new LineRegistry();
  private readonly drivers: ModbusDriver[] = [];

  private constructor(readonly kind: TransportKind, readonly sim: ModbusSimServer, private readonly where: Record<string, unknown>, private readonly pty: PtyPair | null) {}

  static async start(kind: TransportKind, profile: string | SimProfile = 'steel-plant'): Promise<TransportRig> {
    if (kind === 'modbus-rtu') {
      const pty = await ptyPair();
      const sim = new ModbusSimServer({ port: 0, profile, tickMs: 0 });
      await sim.serveSerial(pty.b, { baudRate: 115200 });
      return new TransportRig(kind, sim, { path: pty.a, baudRate: 115200 }, pty);
    }
    const sim = new ModbusSimServer({ port: 0, profile, tickMs: 0, framing: kind === 'modbus-tcp' ? 'mbap' : 'rtu' });
    const port = await sim.start();
    return new TransportRig(kind, sim, { host: '127.0.0.1', port }, null);
  }

  /** A parsed device of this transport with test-friendly timeouts; extra overrides anything. */
  device(tags: TagInput[], extra: Record<string, unknown> = {}): ModbusDevice {
    const input = { type: this.kind, name: 'dev', ...this.where, timeoutMs: 500, reconnectInitialMs: 20, reconnectMaxMs: 100, tags, ...extra };
    return modbusDeviceSchemas[this.kind].parse(input) as ModbusDevice;
  }

  driver(device: ModbusDevice, now?: () => number): ModbusDriver {
    const d = new ModbusDriver(device, { logger: silentLogger(), lines: this.lines, ...(now ? { now } : {}) });
    this.drivers.push(d);
    return d;
  }

  /** RTU on a pty only: both ends vanish (a USB serial adapter unplugged). */
  async unplug(): Promise<void> {
    if (!this.pty) throw new Error('unplug: not a serial rig');
    await this.pty.unplug();
  }

  /** RTU on a pty only: the pair is back on the same paths and the simulator serves it again. */
  async plugIn(): Promise<void> {
    if (!this.pty) throw new Error('plugIn: not a serial rig');
    await this.pty.plugIn();
    await this.sim.serveSerial(this.pty.b, { baudRate: 115200 });
  }

  async closeDrivers(): Promise<void> {
    await Promise.all(this.drivers.splice(0).map((d) => d.close()));
  }

  async stop(): Promise<void> {
    await this.closeDrivers();
    await this.sim.stop();
    await this.pty?.close();
  }
}

export function pointsOf(device: ModbusDevice): Point<ModbusTag>[] {
  return device.tags.map((t, i) => ({ tagId: i + 1, key: `${device.name}/${t.name}`, config: t }));
}

/** Readings keyed by tag name. */
export function byName(device: ModbusDevice, readings: Reading[]): Record<string, Reading> {
  return Object.fromEntries(readings.map((r) => [device.tags[r.tagId - 1]!.name, r]));
}

/** Reads until every point is Good (or the deadline passes); returns the Good readings or null. */
export async function untilGood(driver: ModbusDriver, points: Point<ModbusTag>[], withinMs = 10_000): Promise<Reading[] | null> {
  const end = performance.now() + withinMs;
  while (performance.now() < end) {
    const rs = await driver.read(points);
    if (rs.every((r) => r.quality === Quality.Good)) return rs;
    await new Promise((r) => setTimeout(r, 20));
  }
  return null;
}
