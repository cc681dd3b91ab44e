import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { encodeCatalog } from '../../proto/codec.js';
import type { CloudBridge } from '../../cloud-bridge/bridge.js';
import { hashPassword } from '../../cloud-bridge/credentials.js';
import { INTEGRITY_RULE } from '../../cloud-bridge/alarms/engine.js';
import { tempDir } from '../helpers/tmp.js';
import { buildApi } from '../../cloud-bridge/api.js';
import { cloudConfigSchema } from '../../cloud-bridge/config.js';
import { silentLogger } from '../../core/logger.js';
import { CATALOG, GW1, GW2, T0, batchBytes, connectGateway, startTestBridge, testConfig, until, type TestGateway } from './helpers.js';

const READER = { id: 'tok-reader-a', secret: 'reader-secret-of-tenant-a-0001' };

/**
 * Alarms reach other systems over MQTT: a tenant's API token logs in to the embedded broker as a
 * reader (client id = username = token id) and may subscribe to its tenant's alarm topics only.
 * The alarm is the built-in integrity alarm a replay with other content raises.
 */
describe('alarm readers on the embedded broker, and the integrity alarm', () => {
  let tmp: ReturnType<typeof tempDir>;
  let bridge: CloudBridge;
  let a: TestGateway;
  let b: TestGateway;
  let reader: MqttClient;
  const got: { topic: string; alarm: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    tmp = tempDir('jinyun-alarm-reader-');
    bridge = await startTestBridge(await testConfig(tmp.dir));
    await bridge.store.applyRegistry({ op: 'addToken', id: READER.id, tenant: GW1.tenant, scope: 'tenant', tokenHash: await hashPassword(READER.secret), atMs: Date.now() });
    await bridge.registry.poll();
    a = await connectGateway(bridge.mqttPort, GW1);
    b = await connectGateway(bridge.mqttPort, GW2);
    await a.publish('catalog', encodeCatalog(CATALOG), true);
    await b.publish('catalog', encodeCatalog(CATALOG), true);
    reader = await mqtt.connectAsync(`mqtt://127.0.0.1:${bridge.mqttPort}`, { clientId: READER.id, username: READER.id, password: READER.secret, reconnectPeriod: 0, protocolVersion: 4 });
    reader.on('message', (topic, payload) => got.push({ topic, alarm: (JSON.parse(payload.toString('utf8')) as { alarm?: Record<string, unknown> }).alarm ?? JSON.parse(payload.toString('utf8')) as Record<string, unknown> }));
  }, 60_000);

  afterAll(async () => {
    await reader?.endAsync(true).catch(() => undefined);
    await a?.close();
    await b?.close();
    await bridge?.close();
    tmp?.cleanup();
  });

  it('a reader may subscribe to its tenant\'s alarm topics only, and is no gateway', async () => {
    const granted = await reader.subscribeAsync(`jinyun/v1/${GW1.tenant}/+/alarm`, { qos: 1 });
    expect(granted.map((g) => [g.topic, g.qos])).toEqual([[`jinyun/v1/${GW1.tenant}/+/alarm`, 1]]);
    // Refused filters get SUBACK 0x80 (mqtt.js rejects with "Unspecified error"); the connection stays.
    for (const f of [`jinyun/v1/${GW2.tenant}/+/alarm`, `jinyun/v1/${GW1.tenant}/${GW1.id}/data`, 'jinyun/#']) await expect(reader.subscribeAsync(f, { qos: 1 })).rejects.toThrow(/Unspecified error/);
    expect(reader.connected).toBe(true);
    expect(bridge.metrics.broker?.refusals.subscribe_denied).toBe(3);
    // A reader never shows up as an online gateway.
    expect((await bridge.store.gateways({})).map((g) => [g.id, g.online])).toEqual([[GW1.id, true], [GW2.id, true]]);
  });

  it('a replay with other content raises one integrity alarm: stored, published to the tenant\'s readers only, cleared by acknowledging', async () => {
    for (const gw of [a, b]) {
      await gw.publish('data', batchBytes([{ tagId: 1, ts: T0 + 20_000, value: 5, quality: 0 }], 200));
      expect((await gw.nextAck((x) => x.seqFirst === 200)).result).toBe('ok');
      gw.acks.length = 0;
      await gw.publish('data', batchBytes([{ tagId: 1, ts: T0 + 20_000, value: 6, quality: 0 }], 200));
      expect(await gw.nextAck((x) => x.seqFirst === 200)).toMatchObject({ result: 'rejected', reasonCode: 'replay_conflict' });
    }
    await bridge.alarms.settled();
    const active = await bridge.store.alarms({ active: true, limit: 100 });
    expect(active.map((x) => [x.tenant, x.gateway, x.rule, x.type, x.source, x.severity, x.value]).sort()).toEqual([
      [GW1.tenant, GW1.id, INTEGRITY_RULE, 'replay_conflict', 'prod-1:e1:200-200', 'alarm', 1],
      [GW2.tenant, GW2.id, INTEGRITY_RULE, 'replay_conflict', 'prod-1:e1:200-200', 'alarm', 1],
    ]);
    const mine = active.find((x) => x.gateway === GW1.id)!;
    expect(mine.message).toMatch(/^seqs 200-200 of producer prod-1 \(epoch 1\) sent again with other content: quarantined, not stored/);

    await until(() => got.length >= 1);
    await new Promise((r) => setTimeout(r, 300)); // anything for tenant B would have arrived by now
    expect(got.map((g) => [g.topic, g.alarm.type, g.alarm.gateway])).toEqual([[`jinyun/v1/${GW1.tenant}/${GW1.id}/alarm`, 'replay_conflict', GW1.id]]);

    await bridge.alarms.ack(mine.id, 'maintenance-1', GW1.tenant);
    await bridge.alarms.settled();
    expect((await bridge.store.alarms({ active: true, limit: 100 })).map((x) => x.gateway)).toEqual([GW2.id]);
  });

  it('a reader that publishes is disconnected and counted', async () => {
    const closed = new Promise<void>((r) => reader.once('close', () => r()));
    reader.publish(`jinyun/v1/${GW1.tenant}/${GW1.id}/data`, Buffer.from('x'), { qos: 1 });
    await closed;
    expect(bridge.metrics.broker?.refusals.publish_foreign_topic).toBe(1);
  });

  it('a wrong token secret is refused like a wrong gateway password', async () => {
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${bridge.mqttPort}`, { clientId: READER.id, username: READER.id, password: 'wrong-secret-0000000000', reconnectPeriod: 0, protocolVersion: 4 })).rejects.toThrow(/Not authorized/i);
    expect(bridge.metrics.broker?.refusals.auth_bad_password).toBe(1);
  });
  it('revoking the token disconnects its reader at once, refuses it at the broker and the API', async () => {
    // An API with token auth over the same store and registry (the test bridge's API listens on loopback without auth).
    const tokenApi = buildApi(bridge.store, { http: cloudConfigSchema.parse({ store: { type: 'sqlite', path: 'x' }, http: { auth: 'token' } }).http }, { logger: silentLogger(), registry: bridge.registry });
    const status = async () => (await tokenApi.inject({ method: 'GET', url: '/api/v1/alarms', headers: { authorization: `Bearer ${READER.id}.${READER.secret}` } })).statusCode;
    expect(await status()).toBe(200);
    const r = await mqtt.connectAsync(`mqtt://127.0.0.1:${bridge.mqttPort}`, { clientId: READER.id, username: READER.id, password: READER.secret, reconnectPeriod: 0, protocolVersion: 4 });
    const closed = new Promise<void>((res) => r.once('close', () => res()));
    await bridge.store.applyRegistry({ op: 'revokeToken', id: READER.id, atMs: Date.now() });
    await bridge.registry.poll();
    await closed;
    expect(bridge.metrics.broker?.refusals.revoked_disconnect).toBe(1);
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${bridge.mqttPort}`, { clientId: READER.id, username: READER.id, password: READER.secret, reconnectPeriod: 0, protocolVersion: 4 })).rejects.toThrow(/Not authorized/i);
    expect(bridge.metrics.broker?.refusals.auth_revoked).toBe(1);
    expect(await status()).toBe(401);
    await tokenApi.close();
    await expect(bridge.store.applyRegistry({ op: 'revokeToken', id: READER.id, atMs: Date.now() })).rejects.toThrow(`token "${READER.id}" is already revoked`);
  });

});
