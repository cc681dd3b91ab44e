import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { encodeCatalog } from '../../proto/codec.js';
import type { CloudBridge } from '../../cloud-bridge/bridge.js';
import { tempDir } from '../helpers/tmp.js';
import { CATALOG, GW1, GW2, T0, batchBytes, connectGateway, startTestBridge, testConfig, until } from './helpers.js';

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

function socketClosed(s: Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
}

describe('broker authentication, ACL and hardening', () => {
  let tmp: ReturnType<typeof tempDir>;
  let bridge: CloudBridge;
  const url = () => `mqtt://127.0.0.1:${bridge.mqttPort}`;
  const refusals = () => bridge.metrics.broker!.refusals;
  const tryConnect = (o: { clientId: string; username?: string; password?: string }) =>
    mqtt.connectAsync(url(), { ...o, reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 3000 });

  beforeAll(async () => {
    tmp = tempDir('jinyun-broker-');
    bridge = await startTestBridge(await testConfig(tmp.dir, { mqtt: { maxPacketBytes: 64 * 1024 } }));
  });

  afterAll(async () => {
    await bridge?.close();
    tmp?.cleanup();
  });

  it('refuses a wrong password, an unknown gateway, a client id that is not the username, and wildcard ids', async () => {
    await expect(tryConnect({ clientId: GW1.id, username: GW1.id, password: 'wrong' })).rejects.toMatchObject({ code: 5 });
    await expect(tryConnect({ clientId: 'gw-9', username: 'gw-9', password: GW1.password })).rejects.toMatchObject({ code: 5 });
    await expect(tryConnect({ clientId: GW2.id, username: GW1.id, password: GW1.password })).rejects.toMatchObject({ code: 5 });
    await expect(tryConnect({ clientId: 'gw-1/#', username: 'gw-1/#', password: GW1.password })).rejects.toMatchObject({ code: 5 });
    await expect(tryConnect({ clientId: GW1.id })).rejects.toMatchObject({ code: 5 });
    expect(refusals()).toMatchObject({ auth_bad_password: 1, auth_unknown_gateway: 1, auth_client_id_mismatch: 1, auth_bad_client_id: 1, auth_no_credentials: 1 });
    const ok = await connectGateway(bridge.mqttPort, GW1);
    await ok.close();
  });

  it("closes a gateway that publishes on another gateway's (or tenant's) topic and ingests nothing", async () => {
    const received = bridge.metrics.ingest.batchesReceived;
    const spoofs = [`jinyun/v1/${GW2.tenant}/${GW2.id}/data`, `jinyun/v1/${GW2.tenant}/${GW1.id}/data`, '$SYS/broker/x', 'other/topic'];
    for (const topic of spoofs) {
      const gw = await connectGateway(bridge.mqttPort, GW1, { subscribeAck: false });
      const done = closed(gw.client);
      gw.client.publish(topic, Buffer.from(batchBytes([{ tagId: 1, ts: T0, value: 1, quality: 0 }], 1)), { qos: 1 });
      await done;
    }
    expect(refusals().publish_foreign_topic).toBe(3);
    expect(refusals().publish_sys).toBe(1);
    expect(bridge.metrics.ingest.batchesReceived).toBe(received);
    const gw = await connectGateway(bridge.mqttPort, GW1, { subscribeAck: false });
    const done = closed(gw.client);
    gw.client.publish(gw.topic('data'), Buffer.from('x'), { qos: 0, retain: true });
    await done;
    expect(refusals().publish_retain_not_allowed).toBe(1);
    expect(bridge.metrics.ingest.batchesReceived).toBe(received);
  });

  it("refuses subscriptions to anything but the gateway's own ack and cmd, and keeps the connection", async () => {
    const gw = await connectGateway(bridge.mqttPort, GW1, { subscribeAck: false });
    // mqtt.js rejects when any filter is refused; the SUBACK is on the error.
    const err = await gw.client.subscribeAsync([`jinyun/v1/${GW2.tenant}/${GW2.id}/ack`, 'jinyun/v1/#', gw.topic('data'), gw.topic('cmd')], { qos: 1 }).catch((e: unknown) => e);
    expect((err as { packet?: { granted?: number[] } }).packet?.granted).toEqual([128, 128, 128, 1]);
    expect(refusals().subscribe_denied).toBe(3);
    await gw.publish('catalog', encodeCatalog(CATALOG), true);
    expect(gw.client.connected).toBe(true);
    await gw.close();
  });

  it('closes a connection whose packet exceeds maxPacketBytes and keeps serving the others', async () => {
    const bystander = await connectGateway(bridge.mqttPort, GW2);
    await bystander.publish('catalog', encodeCatalog(CATALOG), true);
    const big = await connectGateway(bridge.mqttPort, GW1, { subscribeAck: false });
    const done = closed(big.client);
    big.client.publish(big.topic('data'), Buffer.alloc(200 * 1024, 1), { qos: 0 });
    await done;
    expect(refusals().packet_too_large).toBe(1);
    await bystander.publish('data', batchBytes([{ tagId: 1, ts: T0, value: 3, quality: 0 }], 1));
    expect((await bystander.nextAck((a) => a.seqFirst === 1)).result).toBe('ok');
    await bystander.close();
  });

  it('closes a raw connection announcing a huge packet, or not starting with CONNECT, before buffering it', async () => {
    const huge = await rawSocket(bridge.mqttPort);
    huge.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f])); // CONNECT with Remaining Length 268 MB
    await socketClosed(huge);
    const notConnect = await rawSocket(bridge.mqttPort);
    notConnect.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x01])); // PUBLISH first (mosquitto 01-bad-initial-packets)
    await socketClosed(notConnect);
    const badVarint = await rawSocket(bridge.mqttPort);
    badVarint.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x01]));
    await socketClosed(badVarint);
    expect(refusals()).toMatchObject({ packet_too_large: 2, first_packet_not_connect: 1, malformed_header: 1 });
    await until(() => bridge.metrics.broker!.connections === 0);
    const gw = await connectGateway(bridge.mqttPort, GW1);
    await gw.close();
  });

  it('closes a connection that sends no CONNECT within connectTimeoutMs', async () => {
    const idle = await rawSocket(bridge.mqttPort);
    const t0 = performance.now();
    await socketClosed(idle);
    expect(performance.now() - t0).toBeLessThan(4000);
  });
});
