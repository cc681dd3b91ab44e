import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MqttLink } from '../../edge/mqtt-link.js';
import { silentLogger } from '../../core/logger.js';
import { plainBroker } from '../helpers/plain-broker.js';

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * MqttLink.close() finishes even when a QoS 1 publish never gets its PUBACK (mqtt.js's end(false)
 * waits for every one; after a network cut it can keep one from the earlier connection forever, and
 * an agent's shutdown hung on it). A real aedes broker that holds back the PUBACKs of one topic.
 */
describe('MqttLink.close with a publish that is never PUBACKed', () => {
  let broker: Awaited<ReturnType<typeof plainBroker>>;
  let link: MqttLink;
  let published: string[];
  let disconnected: string[];

  beforeEach(async () => {
    broker = await plainBroker();
    published = [];
    disconnected = [];
    // Never answering the authorization of t/held means aedes never PUBACKs it.
    broker.broker.authorizePublish = (_client, packet, cb) => {
      if (packet.topic === 't/held') return;
      cb(null);
    };
    broker.broker.on('publish', (packet, client) => { if (client) published.push(`${packet.topic}:${(packet.payload as Buffer)[0]}`); });
    broker.broker.on('clientDisconnect', (client) => disconnected.push(client.id));
    link = new MqttLink({ url: `mqtt://127.0.0.1:${broker.port}`, clientId: 'gw', username: 'gw', keepaliveS: 30, connectTimeoutMs: 2000, reconnectInitialMs: 50, reconnectMaxMs: 200, will: { topic: 't/status', payload: new Uint8Array([0]) }, subscriptions: [], logger: silentLogger() });
    link.start();
    await until(() => link.connected);
  });

  afterEach(async () => {
    await broker.close();
  });

  it('publishes the last message, waits about 2 s for the missing PUBACK, then closes the connection', async () => {
    let settled = false;
    void link.publish('t/held', new Uint8Array([1]), { qos: 1 }).then(() => { settled = true; }, () => { settled = true; });
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    const t = performance.now();
    await link.close({ topic: 't/status', payload: new Uint8Array([2]) });
    const took = performance.now() - t;
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(4000);
    expect(link.connected).toBe(false);
    // The last message went out; the connection was dropped without DISCONNECT, so the broker also
    // published the will (the same offline status).
    await until(() => disconnected.includes('gw'));
    await until(() => published.length === 2);
    expect(published).toEqual(['t/status:2', 't/status:0']);
  });

  it('closes at once when every publish was PUBACKed', async () => {
    await link.publish('t/data', new Uint8Array([1]), { qos: 1 });
    const t = performance.now();
    await link.close({ topic: 't/status', payload: new Uint8Array([2]) });
    expect(performance.now() - t).toBeLessThan(1000);
    await until(() => disconnected.includes('gw'));
    // A clean DISCONNECT: no will.
    await new Promise((r) => setTimeout(r, 200));
    expect(published).toEqual(['t/data:1', 't/status:2']);
  });
});
