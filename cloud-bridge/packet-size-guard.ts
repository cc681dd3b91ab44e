import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export type GuardRefusal = 'packet_too_large' | 'connect_too_large' | 'malformed_header' | 'first_packet_not_connect';

const CONNECT = 1;

/**
 * Follows MQTT fixed headers on a raw byte stream without buffering packets: for each packet it
 * reads the type byte and the Remaining Length varint, then skips that many bytes. `feed` returns a
 * refusal as soon as a header announces a packet larger than maxPacketBytes, a varint runs past
 * four bytes, or the first packet is not CONNECT ([MQTT-3.1.0-1]). The CONNECT itself, the only
 * packet an unauthenticated peer may send, has its own smaller cap (`maxConnectBytes`), so what a
 * peer without credentials can make the broker buffer is bounded by maxConnections x maxConnectBytes.
 */
export class MqttHeaderScanner {
  private state: 'type' | 'length' | 'body' = 'type';
  private first = true;
  private inConnect = false;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private left = 0;

  constructor(private readonly maxPacketBytes: number, private readonly maxConnectBytes = maxPacketBytes) {}

  feed(chunk: Uint8Array): GuardRefusal | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'body') {
        const skip = Math.min(this.left, chunk.length - i);
        this.left -= skip;
        i += skip;
        if (this.left === 0) this.state = 'type';
        continue;
      }
      const byte = chunk[i++]!;
      if (this.state === 'type') {
        if (this.first && byte >> 4 !== CONNECT) return 'first_packet_not_connect';
        this.inConnect = this.first;
        this.first = false;
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (byte & 0x80) {
        if (this.lengthBytes >= 4) return 'malformed_header';
        continue;
      }
      if (1 + this.lengthBytes + this.length > this.maxPacketBytes) return 'packet_too_large';
      if (this.inConnect && 1 + this.lengthBytes + this.length > this.maxConnectBytes) return 'connect_too_large';
      this.left = this.length;
      this.state = this.left === 0 ? 'type' : 'body';
    }
    return null;
  }
}

/**
 * The socket as aedes sees it: bytes pass through the header scanner on the way in, and the
 * connection is destroyed (before anything is buffered) at the first refusal. Writes go straight to
 * the socket with its backpressure, so aedes' drainTimeout still works.
 */
export class GuardedSocket extends Duplex {
  private readonly scanner: MqttHeaderScanner;

  constructor(readonly socket: Socket, limits: { maxPacketBytes: number; maxConnectBytes: number }, private readonly onRefused: (reason: GuardRefusal) => void) {
    super({ allowHalfOpen: false });
    this.scanner = new MqttHeaderScanner(limits.maxPacketBytes, limits.maxConnectBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
    socket.on('drain', () => this.emit('socketDrain'));
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  private onData(chunk: Buffer): void {
    const refusal = this.scanner.feed(chunk);
    if (refusal) {
      this.socket.destroy();
      this.destroy();
      this.onRefused(refusal);
      return;
    }
    if (!this.push(chunk)) this.socket.pause();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.socket.destroyed) return cb(new Error('socket closed'));
    if (this.socket.write(chunk)) cb();
    else this.once('socketDrain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
