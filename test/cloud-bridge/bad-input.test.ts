import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { pb, encodeBatch, encodeCatalog } from '../../proto/codec.js';
import { cloudConfigSchema } from '../../cloud-bridge/config.js';
import type { CloudBridge } from '../../cloud-bridge/bridge.js';
import { tempDir } from '../helpers/tmp.js';
import { CATALOG, GW1, T0, batchBytes, connectGateway, sequence, startTestBridge, testConfig, until, type TestGateway } from './helpers.js';

const raw = (port: number): Promise<Socket> => new Promise((res, rej) => { const s = connect(port, '127.0.0.1', () => res(s)); s.on('error', () => undefined); s.once('error', rej); });
const closed = (s: Socket): Promise<void> => new Promise((r) => (s.destroyed ? r() : s.once('close', () => r())));
const connectPkt = (clientId: string, password: string) => mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 30, username: clientId, password: Buffer.from(password) });

/** Bad-input catalogue rows 1-11 and 24-30 against the broker and ingest: no crash, every one counted with its reason, nothing good lost. */
describe('bad-input catalogue against broker and ingest', () => {
  const tmp = tempDir('jinyun-bad-');
  let bridge: CloudBridge;
  let gw: TestGateway;
  let goodSeq = 1000;
  let goodSent = 0;
  const refusals = () => bridge.metrics.broker!.refusals;
  const ing = () => bridge.metrics.ingest;
  /** A good batch after each bad input: must be stored. */
  const good = async () => {
    const seq = goodSeq;
    goodSeq += 2;
    await gw.publish('data', batchBytes([{ tagId: 1, ts: T0 + seq, value: seq, quality: 0 }, { tagId: 2, ts: T0 + seq, value: true, quality: 0 }], seq));
    expect((await gw.nextAck((a) => a.seqFirst === seq)).result).toBe('ok');
    goodSent += 2;
  };

  beforeAll(async () => {
    const config = await testConfig(tmp.dir, { mqtt: { maxPacketBytes: 64 * 1024, drainTimeoutMs: 500 }, ingest: { gapTimeoutMs: 300 } });
    bridge = await startTestBridge(config);
    gw = await connectGateway(bridge.mqttPort, GW1);
    await gw.publish('catalog', encodeCatalog(CATALOG), true);
    await good();
  });
  afterAll(async () => {
    await gw?.close();
    await bridge?.close();
    tmp.cleanup();
  });

  it('rows 1-8: broker-level junk is refused, counted, and the process keeps serving', async () => {
    // 1. non-CONNECT first packet with a huge Remaining Length
    let s = await raw(bridge.mqttPort);
    s.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x74]));
    await closed(s);
    expect(refusals().first_packet_not_connect).toBe(1);
    // 2. malformed PUBLISH (QoS 3) after a good CONNECT
    const errs0 = bridge.metrics.broker!.clientErrors;
    s = await raw(bridge.mqttPort);
    s.write(connectPkt('gw-2', 'pw-two-secret'));
    await new Promise((r) => s.once('data', r)); // CONNACK
    s.write(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]));
    await closed(s);
    expect(bridge.metrics.broker!.clientErrors).toBeGreaterThan(errs0);
    // 3. NUL in client id; 4. wildcard client id
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${bridge.mqttPort}`, { clientId: 'gw\u00001', username: 'gw\u00001', password: 'x', reconnectPeriod: 0 })).rejects.toBeDefined();
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${bridge.mqttPort}`, { clientId: '#', username: '#', password: 'x', reconnectPeriod: 0 })).rejects.toMatchObject({ code: 5 });
    expect(refusals().auth_bad_client_id).toBe(2);
    // 5. a topic 200 levels deep, 6. $SYS and another tenant's prefix: the connection is closed, counted
    for (const topic of ['a/'.repeat(200) + 'x', '$SYS/broker/x', 'jinyun/v1/tenant-b/gw-2/data']) {
      const c = await connectGateway(bridge.mqttPort, GW1, { subscribeAck: false });
      const gone = new Promise((r) => c.client.once('close', () => r(undefined)));
      c.client.publish(topic, Buffer.from('x'), { qos: 1 });
      await gone;
    }
    expect((refusals().publish_foreign_topic ?? 0) + (refusals().publish_sys ?? 0)).toBeGreaterThanOrEqual(2);
    expect(refusals().publish_sys).toBe(1);
    // 7. oversized payload: closed before buffering
    const big = await connectGateway(bridge.mqttPort, GW1, { subscribeAck: false });
    const bigGone = new Promise((r) => big.client.once('close', () => r(undefined)));
    big.client.publish(big.topic('data'), Buffer.alloc(200 * 1024, 1), { qos: 0 });
    await bigGone;
    expect(refusals().packet_too_large).toBe(1);
    // 8. a subscriber that stops reading is cut off after drainTimeoutMs; the others are unaffected
    const slow = await connectGateway(bridge.mqttPort, { ...GW1, id: 'gw-2', tenant: 'tenant-b', password: 'pw-two-secret' });
    (slow.client.stream as unknown as { pause(): void }).pause();
    const slowGone = new Promise((r) => slow.client.once('close', () => r(undefined)));
    for (let i = 0; i < 400 && !slow.client.disconnected; i++) await bridge.bus.publish('jinyun/v1/tenant-b/gw-2/cmd', Buffer.alloc(60_000, i), { qos: 0, retain: false });
    await Promise.race([slowGone, until(() => bridge.metrics.broker!.disconnects > 0, 10_000)]);
    gw = await reconnectIfNeeded(gw);
    await good();
  }, 30_000);

  async function reconnectIfNeeded(g: TestGateway): Promise<TestGateway> {
    if (g.client.connected) return g;
    return connectGateway(bridge.mqttPort, GW1);
  }

  it('rows 9-11: malformed, extended and semantically empty protobuf', async () => {
    gw = await reconnectIfNeeded(gw);
    // 9. truncated varint / length past the end
    await gw.publish('data', Buffer.from([0x0a, 0xff, 0xff, 0xff]));
    await until(() => (ing().rejected.malformed ?? 0) >= 1);
    // 10. unknown field 99 on the envelope: accepted
    const ext = Buffer.concat([Buffer.from(batchBytes([{ tagId: 1, ts: T0 + 5, value: 5, quality: 0 }], 5000)), Buffer.from([0x98, 0x06, 0x01])]);
    await gw.publish('data', ext);
    expect((await gw.nextAck((a) => a.seqFirst === 5000)).result).toBe('ok');
    goodSent++;
    // 11. producer_id empty / count 0
    await gw.publish('data', pb.Batch.encode({ producerId: '', epoch: 1, seqFirst: 1, count: 1 }).finish());
    await gw.publish('data', pb.Batch.encode({ producerId: 'prod-1', epoch: 1, seqFirst: 6000, count: 0 }).finish());
    await until(() => (ing().rejected.invalid_batch ?? 0) >= 2);
    await good();
  });

  it('row 24: a config with wrong types or unknown keys is refused with a path', () => {
    const r = cloudConfigSchema.safeParse({ store: { type: 'sqlite', path: 'x' }, mqtt: { port: 'fast', bogus: 1 } });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['mqtt.port', 'mqtt']));
  });

  it('rows 25-29: replay, out of order with a gap, stepped-back clock, skewed clock, epoch regression', async () => {
    const r = (dt: number, v: number) => ({ tagId: 1, ts: T0 + dt, value: v, quality: 0 });
    // 25. same batch 3x: one ok, two duplicates; different content: alarm
    const b = batchBytes([r(7000, 1)], 7000);
    for (let i = 0; i < 3; i++) await gw.publish('data', b);
    await until(() => gw.acks.filter((a) => a.seqFirst === 7000).length === 3);
    expect(gw.acks.filter((a) => a.seqFirst === 7000).map((a) => a.result)).toEqual(['ok', 'duplicate', 'duplicate']);
    goodSent++;
    await gw.publish('data', batchBytes([r(7000, 2)], 7000));
    await until(() => ing().replayConflicts === 1);
    // 26. 7003 arrives before 7002 (reordered, no GAP); 7010 leaves 7004..7009 open: GAP after the timeout
    await gw.publish('data', batchBytes([r(7003, 3)], 7003));
    await gw.publish('data', batchBytes([r(7001, 1), r(7002, 2)], 7001));
    await gw.publish('data', batchBytes([r(7010, 10)], 7010));
    await gw.nextAck((a) => a.seqFirst === 7010);
    goodSent += 4;
    await until(() => ing().gapsReported >= 1, 3000);
    expect(ing().gapsReported).toBe(1);
    // 27. timestamps stepping back within a tag: stored, counted
    await gw.publish('data', batchBytes([r(9000, 1), r(8000, 2)], 7011));
    expect((await gw.nextAck((a) => a.seqFirst === 7011)).result).toBe('ok');
    goodSent += 2;
    expect(ing().nonMonotonicTimestamps).toBe(1);
    // 28. ts = 0 and now + 1 day: clock_skew, quarantined with the original bytes; a send time off by > 60 s: alarm
    await gw.publish('data', encodeBatch({ producerId: 'prod-1', epoch: 1, seqFirst: 7013, readings: sequence([{ tagId: 1, ts: 0, value: 1, quality: 0 }], 7013), historical: false }));
    await gw.publish('data', batchBytes([{ tagId: 1, ts: Date.now() + 86_400_000, value: 1, quality: 0 }], 7014));
    await until(() => (ing().rejected.clock_skew ?? 0) === 2);
    await gw.publish('data', encodeBatch({ producerId: 'prod-1', epoch: 1, seqFirst: 7015, readings: sequence([r(9001, 1)], 7015), historical: false }, { sentTimeMs: Date.now() - 3_600_000 }));
    expect((await gw.nextAck((a) => a.seqFirst === 7015)).result).toBe('ok');
    goodSent++;
    expect(ing().clockSkewAlarms).toBe(1);
    // 29. seqs stored under epoch 3 come back under epoch 2 (a restored spool): rejected, quarantined
    await gw.publish('data', batchBytes([r(9100, 1)], 7100, { epoch: 3 }));
    await gw.nextAck((a) => a.seqFirst === 7100 && a.epoch === 3);
    goodSent++;
    await gw.publish('data', batchBytes([r(9101, 1)], 7100, { epoch: 2 }));
    expect(await gw.nextAck((a) => a.seqFirst === 7100 && a.epoch === 2)).toMatchObject({ result: 'rejected', reasonCode: 'epoch_regression' });
    expect(ing().epochRegressions).toBe(1);
    await good();
  });

  it('row 30: a database error is not ACKed ok; the resend after recovery is stored once', async () => {
    const store = bridge.store;
    const real = store.writeBatch.bind(store);
    store.writeBatch = () => Promise.reject(new Error('SQLITE_FULL: database or disk is full'));
    const bytes = batchBytes([{ tagId: 1, ts: T0 + 9999, value: 9, quality: 0 }], 9999);
    await gw.publish('data', bytes);
    expect(await gw.nextAck((a) => a.seqFirst === 9999)).toMatchObject({ result: 'retry', reasonCode: 'store_error' });
    store.writeBatch = real;
    gw.acks.length = 0;
    await gw.publish('data', bytes);
    expect((await gw.nextAck((a) => a.seqFirst === 9999)).result).toBe('ok');
    goodSent++;
    expect(ing().storeErrors).toBe(1);
  });

  it('kept every good reading exactly once and quarantined every rejected batch', async () => {
    await good();
    const flow = (await bridge.store.query({ gateway: GW1.id, key: 'pump/flow', limit: 10_000 }))!.readings;
    const running = (await bridge.store.query({ gateway: GW1.id, key: 'pump/running', limit: 10_000 }))!.readings;
    expect(flow.length + running.length).toBe(goodSent);
    expect(new Set(flow.map((x) => `${x.epoch}/${x.seq}`)).size).toBe(flow.length);
    // malformed 1, invalid 2, replay 1, clock_skew 2, epoch regression 1
    expect(await bridge.store.quarantineCount(GW1.id)).toBe(7);
  });
});
