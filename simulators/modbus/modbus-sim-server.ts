import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { silentLogger, type Logger } from '../../core/logger.js';
import { encodeFrame, FrameError, MbapSplitter } from './mbap.js';
import { exception, handlePdu } from './pdu.js';
import { encodeRtuFrame, RtuSplitter } from './rtu.js';
import { applyByteFaults, NO_FAULTS, type SimFaults } from './sim-faults.js';
import type { SimProfile } from './profile.js';
import { createProfile } from './profiles/index.js';
import { UnitBanks } from './unit-banks.js';

export interface ModbusSimServerOptions {
  /** TCP port; 0 picks a free one (start() returns it). */
  port: number;
  host?: string;
  /** A profile name ("coal-mine") or a profile object (tests keep a handle on it). */
  profile: string | SimProfile;
  /** Seed of a profile given by name. */
  seed?: number;
  /** Time between value updates; the profile's default when omitted, 0 for none (tests call advance()). */
  tickMs?: number;
  maxConnections?: number;
  logger?: Logger;
  /** mbap = Modbus TCP (default); rtu = RTU frames over TCP, as a serial-to-Ethernet converter passes them. */
  framing?: 'mbap' | 'rtu';
}

export type { SimFaults } from './sim-faults.js';

export interface SerialOptions {
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  dataBits?: 7 | 8;
  stopBits?: 1 | 2;
}

/** What stop() needs of a serial port (destroy() alone would leave its fd open and the port locked). */
type SerialPortLike = Duplex & { isOpen: boolean; close(cb: () => void): void };

interface Request {
  tid: number;
  unitId: number;
  pdu: Buffer;
}

export interface SimStats {
  /** Requests answered, exceptions included. */
  requests: number;
  exceptions: number;
  /** Requests swallowed while silent. */
  ignored: number;
  frameErrors: number;
  connections: number;
  openConnections: number;
  tick: number;
}

/**
 * A fast Modbus server on node:net for tests, benchmarks and the demo: MBAP (Modbus TCP) or RTU
 * framing over TCP, and RTU on serial lines (serveSerial) sharing the same banks; framing done
 * here (partial and multiple frames per chunk), FC 1-6, 15, 16, several unit ids with their own
 * banks (an unknown unit id gets exception 11 over MBAP, as from a gateway, and silence over RTU),
 * values moved by a deterministic profile, faults injected on demand (sim-faults.ts).
 * stop() then start() again listens on the same port as before, with the banks kept.
 */
export class ModbusSimServer {
  readonly profile: SimProfile;
  readonly host: string;
  readonly framing: 'mbap' | 'rtu';
  faults: SimFaults = { ...NO_FAULTS };
  private readonly serials = new Set<SerialPortLike>();
  private readonly units = new Map<number, UnitBanks>();
  private readonly sockets = new Set<Socket>();
  private readonly log: Logger;
  private readonly tickMs: number;
  private readonly maxConnections: number;
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  private port: number;
  private tick = 0;
  private counters = { requests: 0, exceptions: 0, ignored: 0, frameErrors: 0, connections: 0 };

  constructor(opts: ModbusSimServerOptions) {
    this.profile = typeof opts.profile === 'string' ? createProfile(opts.profile, opts.seed === undefined ? {} : { seed: opts.seed }) : opts.profile;
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port;
    this.tickMs = opts.tickMs ?? this.profile.tickMs;
    this.maxConnections = opts.maxConnections ?? 64;
    this.framing = opts.framing ?? 'mbap';
    this.log = (opts.logger ?? silentLogger()).child({ component: 'modbus-sim', profile: this.profile.name });
    for (const spec of this.profile.units) this.units.set(spec.id, new UnitBanks(spec.id, spec.sizes));
    this.profile.init(this.units);
  }

  /** Listens and resolves with the actual port. */
  async start(): Promise<number> {
    if (this.server) return this.port;
    const server = createServer((socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err: err.message }, 'modbus simulator server error'));
    this.server = server;
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : this.port;
    if (this.tickMs > 0) {
      this.timer = setInterval(() => this.advance(1), this.tickMs);
      this.timer.unref();
    }
    this.log.info({ host: this.host, port: this.port, units: [...this.units.keys()] }, 'modbus simulator listening');
    return this.port;
  }

  /** Stops listening and drops every connection at once (clients see a reset). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const server = this.server;
    this.server = null;
    this.dropConnections();
    await Promise.all([...this.serials].map((p) => new Promise<void>((resolve) => (p.isOpen ? p.close(() => resolve()) : resolve()))));
    this.serials.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.log.info({ port: this.port, requests: this.counters.requests }, 'modbus simulator stopped');
  }

  get listening(): boolean {
    return this.server !== null;
  }

  /** Bank access for tests: read or force any register of a unit. */
  unit(id: number): UnitBanks {
    const u = this.units.get(id);
    if (!u) throw new RangeError(`unit ${id} is not simulated (units: ${[...this.units.keys()].join(', ')})`);
    return u;
  }

  /** Moves the profile on by n ticks (what the timer does every tickMs); returns the new tick. */
  advance(n = 1): number {
    this.tick += n;
    this.profile.update(this.tick);
    return this.tick;
  }

  setFaults(faults: Partial<SimFaults>): void {
    this.faults = { ...this.faults, ...faults };
  }

  clearFaults(): void {
    this.faults = { ...NO_FAULTS };
  }

  /** Also answers as an RTU slave on a serial port (e.g. one end of a socat pty pair), same units. */
  async serveSerial(path: string, opts: SerialOptions = {}): Promise<void> {
    const { SerialPort } = await import('serialport');
    const port = new SerialPort({ path, baudRate: opts.baudRate ?? 9600, parity: opts.parity ?? 'none', dataBits: opts.dataBits ?? 8, stopBits: opts.stopBits ?? 1, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    this.serials.add(port);
    port.on('close', () => this.serials.delete(port));
    this.attach(port, 'rtu');
    this.log.info({ path }, 'modbus simulator serving RTU on a serial line');
  }

  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  stats(): SimStats {
    return { ...this.counters, openConnections: this.sockets.size, tick: this.tick };
  }

  private onConnection(socket: Socket): void {
    if (this.sockets.size >= this.maxConnections) {
      socket.destroy();
      return;
    }
    this.counters.connections++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    this.attach(socket, this.framing);
  }

  private attach(stream: Duplex, framing: 'mbap' | 'rtu'): void {
    const split = framing === 'mbap' ? mbapRequests(new MbapSplitter()) : rtuRequests(new RtuSplitter());
    stream.on('data', (chunk: Buffer) => {
      let frames: Request[];
      try {
        frames = split(chunk);
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
        this.counters.frameErrors++;
        this.log.debug({ err: err.message }, 'malformed Modbus TCP frame; closing the connection');
        stream.destroy();
        return;
      }
      if (frames.length > 0) this.answer(stream, frames, framing);
    });
    stream.on('error', () => undefined); // resets from clients are normal
  }

  private answer(stream: Duplex, frames: Request[], framing: 'mbap' | 'rtu'): void {
    const f = this.faults;
    const out: Buffer[] = [];
    let drop = false;
    for (const r of frames) {
      // On an RTU line nobody answers for a unit id that is not there (only a TCP gateway says exception 11).
      if (f.silent || f.deadUnits.includes(r.unitId) || (framing === 'rtu' && !this.units.has(r.unitId))) {
        this.counters.ignored++;
        continue;
      }
      const x = f.exception;
      const res = x && (x.unitId === undefined || x.unitId === r.unitId) && (x.fc === undefined || x.fc === r.pdu[0]) ? exception(r.pdu[0] ?? 0, x.code) : handlePdu(this.units.get(r.unitId), r.pdu, this.profile.onRead);
      this.counters.requests++;
      if ((res[0] ?? 0) & 0x80) this.counters.exceptions++;
      const frame = framing === 'mbap' ? encodeFrame(f.wrongId ? (r.tid - 1) & 0xffff : r.tid, r.unitId, res) : encodeRtuFrame(f.wrongId ? (r.unitId + 1) & 0xff : r.unitId, res);
      const faulted = applyByteFaults(frame, f, framing);
      if (faulted.send) out.push(faulted.send);
      if (faulted.thenDrop) {
        drop = true;
        break;
      }
    }
    if (out.length === 0 && !drop) return;
    const buf = out.length === 1 ? out[0]! : Buffer.concat(out);
    const send = (): void => {
      if (stream.destroyed) return;
      if (drop) {
        stream.write(buf, () => stream.destroy());
        return;
      }
      if (!stream.write(buf)) {
        // A client that does not read its answers: stop reading its requests until it catches up.
        stream.pause();
        stream.once('drain', () => stream.resume());
      }
    };
    if (f.delayMs > 0) setTimeout(send, f.delayMs).unref();
    else send();
  }
}

function mbapRequests(splitter: MbapSplitter): (chunk: Buffer) => Request[] {
  return (chunk) => splitter.push(chunk).map((f) => ({ tid: f.transactionId, unitId: f.unitId, pdu: f.pdu }));
}

function rtuRequests(splitter: RtuSplitter): (chunk: Buffer) => Request[] {
  return (chunk) => splitter.push(chunk).map((f) => ({ tid: 0, unitId: f.unitId, pdu: f.pdu }));
}
