import type { Duplex } from 'node:stream';
import { Backoff, sleep } from '../../core/backoff.js';
import { NotConnectedError, TimeoutError, errorMessage } from '../../core/errors.js';
import { garbledError, type Expected, type Framing } from './framing.js';

/** Thrown without any I/O while the line waits before its next connect attempt. */
export class LineBackoffError extends NotConnectedError {
  constructor(message: string) {
    super(message);
  }
}

export interface LineOptions {
  /** Registry key, e.g. "tcp:127.0.0.1:502" or "serial:/dev/ttyUSB0". */
  key: string;
  framing: Framing;
  /** Opens the byte stream (socket or serial port); rejects on failure. */
  open: (timeoutMs: number) => Promise<Duplex>;
  /** Silence before each request (RTU t3.5), ms. */
  interFrameDelayMs: number;
  /** TCP: drop the connection after a timeout (half-open sockets never recover). Serial: flush only. */
  dropOnTimeout: boolean;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
}

export interface LineStats {
  requests: number;
  answers: number;
  timeouts: number;
  /** Valid frames that were not the awaited answer (late, wrong transaction or unit id). */
  discardedFrames: number;
  /** Bytes thrown away: garbled frames, partial frames after a timeout, stale bytes before a send. */
  discardedBytes: number;
  garbled: number;
  connects: number;
  connectFailures: number;
}

interface Pending extends Expected {
  resolve: (pdu: Buffer) => void;
  reject: (err: Error) => void;
}

/** Consecutive timeouts of a shared TCP line after which its connection is dropped anyway. */
const SHARED_TIMEOUTS_BEFORE_DROP = 3;

/**
 * One Modbus line: a TCP connection or a serial port, shared by every device (unit id) on it.
 * Exactly one request is in flight; the others queue in call order. Every request has a deadline;
 * answers are matched by transaction id (MBAP) or unit id + function code + CRC (RTU); anything
 * else is discarded, never parsed. Connect failures back off with jitter, line-wide.
 */
export class ModbusLine {
  readonly stats: LineStats = { requests: 0, answers: 0, timeouts: 0, discardedFrames: 0, discardedBytes: 0, garbled: 0, connects: 0, connectFailures: 0 };
  /** Devices using the line (the registry counts them); a TCP line used by one drops on every timeout. */
  users = 0;
  private stream: Duplex | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private tid = 0;
  private lastRxAt = 0;
  private nextConnectAt = 0;
  private consecutiveTimeouts = 0;
  private lastConnectError = '';
  private closed = false;
  /** Settles when the last stream dropped is fully closed: a serial port is locked until then. */
  private released: Promise<void> = Promise.resolve();
  private readonly backoff: Backoff;

  constructor(readonly opts: LineOptions) {
    this.backoff = new Backoff({ initialMs: opts.reconnectInitialMs, maxMs: opts.reconnectMaxMs });
  }

  get key(): string {
    return this.opts.key;
  }

  get isOpen(): boolean {
    return this.stream !== null && !this.stream.destroyed;
  }

  /** The last connect attempt failed and none has succeeded since. */
  get unreachable(): boolean {
    return this.lastConnectError !== '';
  }

  /** Sends one request PDU to unitId and resolves with the response PDU (an exception PDU included). */
  request(unitId: number, pdu: Buffer, timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
    const run = this.tail.then(() => this.exchange(unitId, pdu, timeoutMs, signal));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Opens now if closed, ignoring the backoff. Rejects with NotConnectedError. */
  async connect(timeoutMs: number): Promise<void> {
    const run = this.tail.then(() => this.ensureOpen(timeoutMs, true));
    this.tail = run.catch(() => undefined);
    await run;
  }

  /** Fails the request in flight and resolves once the port or socket is really closed. */
  close(): Promise<void> {
    this.closed = true;
    this.drop(new NotConnectedError('line closed'));
    return this.released;
  }

  private async exchange(unitId: number, pdu: Buffer, timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
    signal?.throwIfAborted();
    const stream = await this.ensureOpen(timeoutMs, false);
    if (this.opts.interFrameDelayMs > 0) {
      const wait = this.lastRxAt + this.opts.interFrameDelayMs - performance.now();
      if (wait > 0) await sleep(wait, signal);
    }
    if (this.opts.framing.flushBeforeSend && this.buf.length > 0) this.discard(this.buf.length);
    this.tid = (this.tid + 1) & 0xffff;
    const e: Expected = { unitId, fc: pdu[0] ?? 0, tid: this.tid };
    this.stats.requests++;
    return new Promise<Buffer>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending = null;
      };
      const timer = setTimeout(() => {
        finish();
        this.timedOut();
        reject(new TimeoutError(`unit ${unitId} FC${e.fc}: no answer within ${timeoutMs} ms on ${this.key}`));
      }, timeoutMs);
      const onAbort = (): void => {
        finish();
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending = {
        ...e,
        resolve: (p) => { finish(); this.consecutiveTimeouts = 0; this.stats.answers++; resolve(p); },
        reject: (err) => { finish(); reject(err); },
      };
      stream.write(this.opts.framing.encode(e, pdu));
    });
  }

  private async ensureOpen(timeoutMs: number, ignoreBackoff: boolean): Promise<Duplex> {
    if (this.closed) throw new NotConnectedError(`${this.key}: line closed`);
    if (this.stream && !this.stream.destroyed) return this.stream;
    if (!ignoreBackoff && performance.now() < this.nextConnectAt) throw new LineBackoffError(`${this.key}: waiting before reconnecting (${this.lastConnectError || 'connection lost'})`);
    let stream: Duplex;
    try {
      await this.released; // reopening a serial port before its close completes fails with "Cannot lock port"
      stream = await this.opts.open(timeoutMs);
    } catch (err) {
      this.stats.connectFailures++;
      this.lastConnectError = errorMessage(err);
      this.nextConnectAt = performance.now() + this.backoff.next();
      throw err instanceof NotConnectedError || err instanceof TimeoutError ? err : new NotConnectedError(`${this.key}: ${this.lastConnectError}`, { cause: err });
    }
    if (this.closed) {
      stream.destroy();
      throw new NotConnectedError(`${this.key}: line closed`);
    }
    this.stats.connects++;
    this.lastConnectError = '';
    this.backoff.reset();
    this.buf = Buffer.alloc(0);
    this.attach(stream);
    return stream;
  }

  private attach(stream: Duplex): void {
    this.stream = stream;
    stream.on('data', (chunk: Buffer) => {
      if (this.stream !== stream) return;
      this.lastRxAt = performance.now();
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.consume();
    });
    const lost = (err?: Error): void => {
      if (this.stream !== stream) return;
      this.drop(new NotConnectedError(`${this.key}: ${err ? `connection error: ${err.message}` : 'connection closed by the peer'}`, { cause: err }));
    };
    stream.on('error', lost);
    stream.on('close', () => lost());
  }

  /** Takes whole frames off the buffer: the awaited answer, or foreign frames to drop. */
  private consume(): void {
    for (;;) {
      const s = this.opts.framing.scan(this.buf, this.pending);
      if (s.kind === 'wait') return;
      if (s.kind === 'frame') {
        this.buf = this.buf.subarray(s.length);
        this.pending?.resolve(s.pdu);
        continue;
      }
      if (s.kind === 'foreign') {
        this.stats.discardedFrames++;
        this.discard(s.length);
        continue;
      }
      this.stats.garbled++;
      this.discard(this.buf.length);
      this.pending?.reject(garbledError(`${this.key}: ${s.message}`));
      if (!s.resync) this.drop(new NotConnectedError(`${this.key}: stream out of sync (${s.message})`), true);
      return;
    }
  }

  private discard(bytes: number): void {
    this.stats.discardedBytes += bytes;
    this.buf = bytes >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(bytes);
  }

  private timedOut(): void {
    this.stats.timeouts++;
    this.consecutiveTimeouts++;
    // A partial frame left in the buffer would be read as the start of the next answer: flush it.
    const partial = this.buf.length > 0;
    if (partial) this.discard(this.buf.length);
    const tcp = this.opts.dropOnTimeout;
    if (tcp && (this.users <= 1 || (partial && this.opts.framing.name === 'mbap') || this.consecutiveTimeouts >= SHARED_TIMEOUTS_BEFORE_DROP)) {
      this.drop(new NotConnectedError(`${this.key}: connection dropped after a timeout`), true);
    }
  }

  /** Destroys the stream and fails the request in flight; `backoff` delays the next connect. */
  private drop(err: Error, backoff = false): void {
    const stream = this.stream;
    this.stream = null;
    this.buf = Buffer.alloc(0);
    this.consecutiveTimeouts = 0;
    if (backoff) this.nextConnectAt = performance.now() + this.backoff.next();
    this.pending?.reject(err);
    if (stream) {
      this.released = closedOf(stream);
      stream.destroy();
    }
  }
}

/** Resolves when the stream has emitted 'close' (at most 2 s: a stuck close must not block a reconnect forever). */
function closedOf(stream: Duplex): Promise<void> {
  if ((stream as Duplex & { closed?: boolean }).closed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    timer.unref();
    stream.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
