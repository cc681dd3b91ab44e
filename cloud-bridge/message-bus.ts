import type { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';

export type MessageHandler = (topic: string, payload: Buffer) => void;

/**
 * How the ingest talks to MQTT: the embedded aedes broker now, an external broker (mosquitto,
 * EMQX) through an MQTT client later. Handlers must not throw; they queue their own work.
 */
export interface MessageBus {
  subscribe(topicFilter: string, handler: MessageHandler): Promise<void>;
  publish(topic: string, payload: Uint8Array, opts: { qos: 0 | 1; retain: boolean }): Promise<void>;
  /** True while messages can flow (the embedded broker is open; the external broker is connected). */
  up(): boolean;
}

/** In-process subscriptions and publishes on the embedded broker (no network hop, no ACL: the broker itself). */
export class AedesBus implements MessageBus {
  constructor(private readonly aedes: Aedes) {}

  up(): boolean {
    return !this.aedes.closed;
  }

  subscribe(topicFilter: string, handler: MessageHandler): Promise<void> {
    return new Promise((resolve) => {
      this.aedes.subscribe(topicFilter, (packet, cb) => {
        try {
          const p = packet.payload;
          handler(packet.topic, typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p.buffer, p.byteOffset, p.byteLength));
        } finally {
          // Delivery is done once the handler queued the message; processing is the ingest's job.
          cb();
        }
      }, () => resolve());
    });
  }

  publish(topic: string, payload: Uint8Array, opts: { qos: 0 | 1; retain: boolean }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.aedes.publish(
        { cmd: 'publish', topic, payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), qos: opts.qos, retain: opts.retain, dup: false },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }
}

/**
 * The ingest as a client of an external broker (mosquitto, EMQX, HiveMQ): MQTT 5, clean start, and
 * the data topics through a shared subscription `$share/{group}/...`, so several workers split the
 * load; the broker's ACL admits the gateways. Handlers run in arrival order of this client.
 */
export class MqttBus implements MessageBus {
  private readonly handlers: { filter: string; handler: MessageHandler }[] = [];

  private constructor(private readonly client: MqttClient, private readonly shareGroup: string) {
    client.on('message', (topic, payload) => {
      for (const h of this.handlers) if (topicMatches(h.filter, topic)) h.handler(topic, payload);
    });
  }

  static async connect(opts: { url: string; clientId: string; username?: string; password?: string; ca?: Buffer; shareGroup: string }): Promise<MqttBus> {
    const client = await mqtt.connectAsync(opts.url, {
      clientId: opts.clientId, username: opts.username, password: opts.password, ca: opts.ca, protocolVersion: 5, clean: true,
      reconnectPeriod: 1000, connectTimeout: 10_000, rejectUnauthorized: true,
    });
    return new MqttBus(client, opts.shareGroup);
  }

  async subscribe(topicFilter: string, handler: MessageHandler): Promise<void> {
    this.handlers.push({ filter: topicFilter, handler });
    const granted = await this.client.subscribeAsync(`$share/${this.shareGroup}/${topicFilter}`, { qos: 1 });
    if ((granted[0]?.qos ?? 128) >= 128) throw new Error(`the broker refused the subscription to ${topicFilter} (check the ingest's ACL)`);
  }

  up(): boolean {
    return this.client.connected;
  }

  async publish(topic: string, payload: Uint8Array, opts: { qos: 0 | 1; retain: boolean }): Promise<void> {
    await this.client.publishAsync(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: opts.qos, retain: opts.retain });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

/** MQTT topic filter match (+ one level, # the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
