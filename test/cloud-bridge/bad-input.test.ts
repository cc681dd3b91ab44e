import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { cloudConfigSchema } from '../../cloud-bridge/config.js';
import type { CloudBridge } from '../../cloud-bridge/bridge.js';
import { tempDir } from '../helpers/tmp.js';
import { encodeCatalog } from '../../proto/codec.js';
import { CATALOG, GW1, GW2, T0, batchBytes, connectGateway, startTestBridge, testConfig, until } from './helpers.js';
import { describeIngestBadInput } from './ingest-bad-input.js';
import { sqliteRig } from './ingest-rigs.js';

const raw = (port: number): Promise<Socket> => new Promise((res, rej) => { const s = connect(port, '127.0.0.1', () => res(s)); s.on('error', () => undefined); s.once('error', rej); });
const closed = (s: Socket): Promise<void> => new Promise((r) => (s.destroyed ? r() : s.once('close', () => r())));
const connectPkt = (clientId: string, password: string) => mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 30, username: clientId, password: Buffer.from(password) });
/** A PUBLISH packet with the topic bytes as given (mqtt-packet would refuse to build the bad ones). */
const publishPkt = (topic: Buffer, qos: 0 | 1 = 0): Buffer => {
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, qos ? Buffer.from([0, 1]) : Buffer.alloc(0), Buffer.from('x')]);
  const len: number[] = [];
  for (let n = body.length; ; ) {
    const b = n % 128;
    n = Math.floor(n / 128);
    len.push(n > 0 ? b | 0x80 : b);
    if (n === 0) break;
  }
  return Buffer.concat([Buffer.from([0x30 | (qos << 1), ...len]), body]);
};

/** Bad-input catalogue rows 1-8 against the embedded broker: no crash, every refusal counted with its exact reason. */
describe('bad-input catalogue against the broker', () => {
  const tmp = tempDir('jinyun-bad-');
  let bridge: CloudBridge;
  const refusals = () => ({ ...bridge.metrics.broker!.refusals });
  /** Logs in on a raw socket as gw-2, sends bytes, waits until the broker closes the connection. */
  const afterLogin = async (bytes: Buffer) => {
    const s = await raw(bridge.mqttPort);
    s.write(connectPkt(GW2.id, GW2.password));
    await new Promise((r) => s.once('data', r)); // CONNACK
    s.write(bytes);
    await closed(s);
  };

  beforeAll(async () => {
    bridge = await startTestBridge(await testConfig(tmp.dir, { mqtt: { maxPacketBytes: 64 * 1024, drainTimeoutMs: 500 } }));
  });
  afterAll(async () => {
    await bridge?.close();
    tmp.cleanup();
  });

  it('rows 1-8 are refused and counted by reason, and a good gateway is served throughout', async () => {
    const gw = await connectGateway(bridge.mqttPort, GW1);
    await gw.publish('catalog', encodeCatalog(CATALOG), true);
    const good = async (seq: number) => {
      await gw.publish('data', batchBytes([{ tagId: 1, ts: T0 + seq, value: seq, quality: 0 }], seq));
      return (await gw.nextAck((a) => a.seqFirst === seq)).result;
    };
    // 1. non-CONNECT first packet with a huge Remaining Length: closed before anything is buffered
    let s = await raw(bridge.mqttPort);
    s.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x74]));
    await closed(s);
    // 2. malformed PUBLISH (QoS 3) and SUBSCRIBE with a bad flag after a good CONNECT
    await afterLogin(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]));
    await afterLogin(Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]));
    // 3. NUL and invalid UTF-8 in a topic; NUL in a client id
    await afterLogin(publishPkt(Buffer.from('jinyun/v1/tenant-b/gw-2/da\u0000ta')));
    await afterLogin(publishPkt(Buffer.from([0x6a, 0xc3, 0x28, 0x2f, 0x78])));
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${bridge.mqttPort}`, { clientId: 'gw\u00001', username: 'gw\u00001', password: 'x', reconnectPeriod: 0 })).rejects.toBeDefined();
    // 4. a wildcard client id; wildcards in a PUBLISH topic
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${bridge.mqttPort}`, { clientId: '#', username: '#', password: 'x', reconnectPeriod: 0 })).rejects.toMatchObject({ code: 5 });
    await afterLogin(publishPkt(Buffer.from('jinyun/v1/tenant-b/gw-2/#')));
    await afterLogin(publishPkt(Buffer.from('jinyun/v1/+/gw-2/data')));
    // 5. a topic 200 levels deep; 6. $SYS and another tenant's prefix
    for (const topic of ['a/'.repeat(200) + 'x', '$SYS/broker/x', 'jinyun/v1/tenant-a/gw-1/data']) await afterLogin(publishPkt(Buffer.from(topic)));
    // 7. an oversized payload: closed as soon as the header announces it
    await afterLogin(Buffer.from([0x30, 0x80, 0x80, 0x10, 0x00, 0x01, 0x61]));
    expect(await good(1)).toBe('ok');
    // 8. a subscriber that stops reading is cut off after drainTimeoutMs; the others are unaffected
    const slow = await connectGateway(bridge.mqttPort, { ...GW2, subscribeAck: undefined } as typeof GW2);
    await slow.client.subscribeAsync(slow.topic('cmd'), { qos: 0 });
    (slow.client.stream as unknown as { pause(): void }).pause();
    for (let i = 0; i < 400 && refusals().drain_timeout === undefined; i++) {
      await bridge.bus.publish('jinyun/v1/tenant-b/gw-2/cmd', Buffer.alloc(60_000, i), { qos: 0, retain: false });
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 100));
    }
    await until(() => refusals().drain_timeout !== undefined, 10_000);
    await slow.close();
    expect(await good(2)).toBe('ok');
    await gw.close();
    // aedes may report the drain timeout once per pending write of the cut-off client; one client was cut off.
    expect(refusals().drain_timeout).toBeGreaterThanOrEqual(1);
    await until(() => bridge.metrics.broker!.connections === 0);
    expect({ ...refusals(), drain_timeout: 1 }).toEqual({
      first_packet_not_connect: 1, malformed_packet: 2, publish_invalid_topic: 2, auth_bad_client_id: 2, publish_wildcard: 2, topic_too_deep: 1,
      publish_sys: 1, publish_foreign_topic: 1, packet_too_large: 1, drain_timeout: 1,
    });
    expect(bridge.metrics.ingest.readingsStored).toBe(2);
  }, 40_000);

  it('row 24: a config with wrong types or unknown keys is refused with a path', () => {
    const r = cloudConfigSchema.safeParse({ store: { type: 'sqlite', path: 'x' }, mqtt: { port: 'fast', bogus: 1 } });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['mqtt.port', 'mqtt']));
  });
});

describe('bad-input catalogue at the ingest: aedes + SQLite', () => {
  const tmp = tempDir('jinyun-bad-ingest-');
  afterAll(() => tmp.cleanup());
  describeIngestBadInput(() => sqliteRig(tmp.dir, { gapTimeoutMs: 300 }));
});
