import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Backoff } from '../core/backoff.js';
import type { Logger } from '../core/logger.js';
import { NotConnectedError, errorMessage } from '../core/errors.js';

export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  rejectUnauthorized: boolean;
}

export interface MqttLinkOptions {
  url: string;
  clientId: string;
  username: string;
  password?: string;
  keepaliveS: number;
  connectTimeoutMs: number;
  reconnectInitialMs: number;
  /** Longest delay while the broker is unreachable or busy. */
  reconnectMaxMs: number;
  /** Longest delay after the broker refused the login (CONNACK 2, 4, 5): retrying faster helps nobody. */
  reconnectRefusedMaxMs?: number;
  tls?: TlsFiles;
  /** Registered as the MQTT last will (retained), e.g. the status message with online=false. */
  will: { topic: string; payload: Uint8Array };
  /** Topics subscribed at QoS 1 after every connect. */
  subscriptions: string[];
  logger: Logger;
}

/** CONNACK return codes that refuse the login itself: identifier rejected, bad user name or password, not authorized. */
const REFUSED_LOGIN: ReadonlySet<number> = new Set([2, 4, 5]);

export interface LinkEvents {
  up: [];
  down: [reason: string];
  message: [topic: string, payload: Buffer];
}

/**
 * One MQTT connection owned by the runtime: clean session, our own reconnect with exponential
 * backoff and full jitter (mqtt.js's fixed reconnectPeriod is switched off), last will registered,
 * subscriptions renewed on every connect. Durability does not live here: the spool is the outbox.
 */
export class MqttLink extends EventEmitter<LinkEvents> {
  private client: MqttClient | null = null;
  private readonly backoff: Backoff;
  /** The last connection attempt ended in a refused login (not an unreachable or busy broker). */
  private refused = false;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  private up = false;
  /** Rejecters of publishes waiting for their PUBACK; a dropped connection fails them at once. */
  private pending = new Set<(err: Error) => void>();
  readonly counters = { connects: 0, disconnects: 0, publishErrors: 0 };
  /** The last connection error (with a hint for TLS trouble), '' until one happens; kept for /healthz. */
  lastError = '';

  constructor(private readonly opts: MqttLinkOptions) {
    super();
    this.backoff = new Backoff({ initialMs: opts.reconnectInitialMs, maxMs: opts.reconnectMaxMs });
  }

  get connected(): boolean {
    return this.up;
  }

  start(): void {
    const o = this.opts;
    const options: IClientOptions = {
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      clean: true,
      keepalive: o.keepaliveS,
      connectTimeout: o.connectTimeoutMs,
      reconnectPeriod: 0,
      queueQoSZero: false,
      protocolVersion: 4,
      will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1, retain: true },
    };
    if (o.tls) {
      options.rejectUnauthorized = o.tls.rejectUnauthorized;
      if (o.tls.caFile) options.ca = readFileSync(o.tls.caFile);
      if (o.tls.certFile) options.cert = readFileSync(o.tls.certFile);
      if (o.tls.keyFile) options.key = readFileSync(o.tls.keyFile);
    }
    const client = mqtt.connect(o.url, options);
    this.client = client;
    client.on('connect', () => void this.onConnect(client));
    client.on('close', () => this.onClose('connection closed'));
    client.on('error', (err) => {
      this.lastError = describeLinkError(err);
      this.refused = REFUSED_LOGIN.has((err as { code?: unknown }).code as number);
      o.logger.warn({ err: this.lastError, code: (err as { code?: unknown }).code }, 'mqtt error');
    });
    client.on('message', (topic, payload) => this.emit('message', topic, payload));
  }

  private async onConnect(client: MqttClient): Promise<void> {
    try {
      if (this.opts.subscriptions.length > 0) {
        const granted = await client.subscribeAsync(this.opts.subscriptions, { qos: 1 });
        const refused = granted.filter((g) => g.qos === 128);
        if (refused.length > 0) throw new Error(`subscription refused by the broker: ${refused.map((g) => g.topic).join(', ')}`);
      }
      this.up = true;
      this.refused = false;
      this.counters.connects++;
      this.opts.logger.info({ url: this.opts.url, clientId: this.opts.clientId }, 'mqtt connected');
      this.emit('up');
    } catch (err) {
      this.opts.logger.error({ err: errorMessage(err) }, 'mqtt session setup failed');
      client.end(true);
    }
  }

  private onClose(reason: string): void {
    const wasUp = this.up;
    this.up = false;
    for (const reject of this.pending) reject(new NotConnectedError(`mqtt link went down: ${reason}`));
    this.pending.clear();
    if (wasUp) {
      this.counters.disconnects++;
      this.opts.logger.warn({ reason }, 'mqtt disconnected');
      this.emit('down', reason);
    }
    if (this.closing || this.timer) return;
    // Hold the backoff down only for connections that lasted: a connect-then-kick loop keeps backing off.
    if (wasUp) this.backoff.reset();
    const delay = this.refused ? this.backoff.next(this.opts.reconnectRefusedMaxMs ?? 60_000) : this.backoff.next();
    this.opts.logger.debug({ delayMs: delay, attempt: this.backoff.attempts }, 'mqtt reconnect scheduled');
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closing) this.client?.reconnect();
    }, delay);
  }

  async publish(topic: string, payload: Uint8Array, opts: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    const client = this.client;
    if (!client || !this.up) throw new NotConnectedError('mqtt link is down');
    let reject: (err: Error) => void = () => undefined;
    const dropped = new Promise<never>((_, rej) => { reject = rej; });
    this.pending.add(reject);
    try {
      // mqtt.js may keep a QoS 1 publish across a reconnect and never settle it: never wait on it
      // past the connection it was sent on.
      await Promise.race([client.publishAsync(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: opts.qos, retain: opts.retain ?? false }), dropped]);
    } catch (err) {
      this.counters.publishErrors++;
      throw err;
    } finally {
      this.pending.delete(reject);
    }
  }

  /** Publishes the given retained message (e.g. status offline) if connected, then disconnects. */
  async close(last?: { topic: string; payload: Uint8Array }): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    if (!client) return;
    if (last && this.up) await this.publish(last.topic, last.payload, { qos: 1, retain: true }).catch(() => undefined);
    this.up = false;
    // end(false) waits for every QoS 1 publish still in flight to be PUBACKed, and mqtt.js can keep one
    // from an earlier connection whose PUBACK never comes (seen after a network cut): the close then
    // never finished. Nothing depends on those PUBACKs (the spool keeps every reading until the ingest's
    // ACK), so they get a moment, and then the connection is dropped without waiting.
    const stuck = await outgoingSettled(client, CLOSE_PUBACK_WAIT_MS);
    if (stuck > 0) this.opts.logger.warn({ publishes: stuck, connected: client.connected }, 'mqtt close: publishes still without a PUBACK; closing without waiting for them (the broker may publish the last will)');
    await client.endAsync(stuck > 0).catch(() => undefined);
  }
}

/** How long close() waits for the PUBACKs of publishes in flight. */
const CLOSE_PUBACK_WAIT_MS = 2000;

/** Waits until no QoS 1 publish awaits its PUBACK, or ms passed; returns how many still wait. */
async function outgoingSettled(client: MqttClient, ms: number): Promise<number> {
  const waiting = (): number => Object.keys(client.outgoing).length;
  const end = performance.now() + ms;
  while (waiting() > 0 && client.connected && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
  return waiting();
}

const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED']);

/** An operator-facing text for a connection error; TLS failures say which setting to look at. */
export function describeLinkError(err: Error): string {
  const code = String((err as { code?: unknown }).code ?? '');
  const msg = errorMessage(err);
  if (UNTRUSTED.has(code)) return `TLS: the broker certificate is not signed by a trusted CA (${code}: ${msg}); check uplink.tls.caFile`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: the broker certificate does not name this host (${msg}); the url host must match its subjectAltName`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `TLS: the broker certificate is not valid now (${code}); check it, and this gateway's clock`;
  if (/ALERT_CERTIFICATE_REQUIRED|ALERT_HANDSHAKE_FAILURE|ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA/.test(code)) {
    return `TLS: the broker refused the handshake (${code}); it may require a client certificate it trusts (uplink.tls.certFile and keyFile)`;
  }
  return code ? `${msg} (${code})` : msg;
}
