import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Spool, SPOOL_DEFAULTS } from '../../edge/spool.js';
import { MqttLink } from '../../edge/mqtt-link.js';
import { Forwarder } from '../../edge/forwarder.js';
import { silentLogger } from '../../core/logger.js';
import { decodeBatch, encodeAck, type AckData, type DecodedBatch } from '../../proto/codec.js';
import { tempDir } from '../helpers/tmp.js';
import { plainBroker } from '../helpers/plain-broker.js';
import type { Reading } from '../../core/reading.js';

const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);
const readings = (n: number, from = 0): Reading[] => Array.from({ length: n }, (_, i) => ({ tagId: 1, ts: T0 + (from + i) * 10, value: from + i, quality: 0 }));

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The forwarder against a real aedes broker and a scripted ingest that answers each batch as told.
 * Proves that PUBACK alone never deletes, that an ACK does, and how timeouts, RETRY and REJECTED behave.
 */
describe('Forwarder over a real broker', () => {
  let tmp: ReturnType<typeof tempDir>;
  let broker: Awaited<ReturnType<typeof plainBroker>>;
  let spool: Spool;
  let link: MqttLink;
  let fwd: Forwarder;
  let received: DecodedBatch[];
  let answer: (b: DecodedBatch, n: number) => AckData['result'] | null;

  beforeEach(async () => {
    tmp = tempDir();
    broker = await plainBroker();
    received = [];
    answer = () => 'ok';
    broker.broker.subscribe('t/data', (packet, cb) => {
      const b = decodeBatch(packet.payload as Buffer);
      received.push(b);
      const result = answer(b, received.length);
      if (result) {
        broker.broker.publish({ cmd: 'publish', topic: 't/ack', payload: Buffer.from(encodeAck({ producerId: b.producerId, epoch: b.epoch, seqFirst: b.seqFirst, count: b.count, result, reasonCode: result === 'rejected' ? 'malformed' : 'unknown_tag', reason: 'scripted' })), qos: 1, retain: false, dup: false }, () => undefined);
      }
      cb();
    }, () => undefined);
    spool = await Spool.open({ ...SPOOL_DEFAULTS, maxBlockReadings: 100, path: join(tmp.dir, 's.db'), synchronous: 'FULL', logger: silentLogger() });
    link = new MqttLink({ url: `mqtt://127.0.0.1:${broker.port}`, clientId: 'gw', username: 'gw', keepaliveS: 30, connectTimeoutMs: 2000, reconnectInitialMs: 50, reconnectMaxMs: 200, will: { topic: 't/status', payload: new Uint8Array() }, subscriptions: ['t/ack'], logger: silentLogger() });
    fwd = new Forwarder(spool, link, { dataTopic: 't/data', maxReadings: 100, maxBytes: 256 * 1024, maxDelayMs: 20, historicalAfterMs: 60_000, ackTimeoutMs: 300, maxInFlight: 2, compression: 'deflate', order: 'oldestFirst', retryInitialMs: 50, retryMaxMs: 100, logger: process.env.DEBUG_FWD ? (await import('pino')).pino({ level: 'debug' }, (await import('pino')).pino.destination({ fd: 2, sync: true })) : silentLogger() });
    link.on('up', () => fwd.onLinkUp());
    link.on('down', () => fwd.onLinkDown());
    link.on('message', (topic, payload) => { if (topic === 't/ack') void fwd.onAckMessage(payload); });
    link.start();
    await until(() => link.connected);
  });

  afterEach(async () => {
    await fwd.close();
    await link.close();
    await spool.close();
    await broker.close();
    tmp.cleanup();
  });

  it('deletes readings only after the application ACK, batch by batch in order', async () => {
    await spool.append(readings(250));
    fwd.notifyAppended();
    await until(async () => (await spool.stats()).depth === 0);
    expect(received.map((b) => [b.seqFirst, b.count])).toEqual([[1, 100], [101, 100], [201, 50]]);
    expect(received.flatMap((b) => b.readings.map((r) => r.value))).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(fwd.counters.ackedReadings).toBe(250);
  });

  it('keeps everything when the broker PUBACKs but no ACK comes, and resends after the timeout', async () => {
    answer = (_b, n) => (n <= 2 ? null : 'ok');
    await spool.append(readings(100));
    fwd.notifyAppended();
    await until(() => received.length >= 1);
    expect((await spool.stats()).depth).toBe(100);
    await until(async () => (await spool.stats()).depth === 0);
    expect(received.length).toBe(3);
    expect(new Set(received.map((b) => `${b.seqFirst}:${b.count}`))).toEqual(new Set(['1:100']));
    expect(fwd.counters.timeouts).toBe(2);
  });

  it('treats DUPLICATE like OK and RETRY as a later resend', async () => {
    answer = (_b, n) => (n === 1 ? 'retry' : n === 2 ? 'duplicate' : 'ok');
    await spool.append(readings(10));
    fwd.notifyAppended();
    await until(async () => (await spool.stats()).depth === 0);
    expect(received.length).toBe(2);
    expect(fwd.counters.retries).toBe(1);
    expect(fwd.counters.duplicates).toBe(1);
  });

  it('quarantines a REJECTED batch and goes on with the next one', async () => {
    answer = (b) => (b.seqFirst === 1 ? 'rejected' : 'ok');
    await spool.append(readings(150));
    fwd.notifyAppended();
    await until(async () => (await spool.stats()).depth === 0);
    const st = await spool.stats();
    expect([st.quarantined, st.acked]).toEqual([100, 50]);
    expect(received.filter((b) => b.seqFirst === 1).length).toBe(1);
  });

  it('resends what was in flight after the broker restarts', async () => {
    answer = () => null;
    await spool.append(readings(50));
    fwd.notifyAppended();
    await until(() => received.length === 1);
    const port = broker.port;
    await broker.close();
    await until(() => !link.connected);
    broker = await plainBroker(port);
    broker.broker.subscribe('t/data', (packet, cb) => {
      const b = decodeBatch(packet.payload as Buffer);
      received.push(b);
      broker.broker.publish({ cmd: 'publish', topic: 't/ack', payload: Buffer.from(encodeAck({ producerId: b.producerId, epoch: b.epoch, seqFirst: b.seqFirst, count: b.count, result: 'ok' })), qos: 1, retain: false, dup: false }, () => undefined);
      cb();
    }, () => undefined);
    await until(async () => (await spool.stats()).depth === 0, 10_000);
    expect(received.at(-1)!.seqFirst).toBe(1);
  });

  it('liveFirst: during a backlog the newest readings go out in their own slot, and everything arrives once', async () => {
    await fwd.close();
    fwd = new Forwarder(spool, link, { dataTopic: 't/data', maxReadings: 100, maxBytes: 256 * 1024, maxDelayMs: 20, historicalAfterMs: 60_000, ackTimeoutMs: 2000, maxInFlight: 2, compression: 'deflate', order: 'liveFirst', retryInitialMs: 50, retryMaxMs: 100, logger: silentLogger() });
    link.removeAllListeners('message');
    link.on('message', (topic, payload) => { if (topic === 't/ack') void fwd.onAckMessage(payload); });
    let release = false;
    answer = () => (release ? 'ok' : null);
    for (let i = 0; i < 10; i++) await spool.append(readings(100, i * 100));
    fwd.notifyAppended();
    await until(() => received.length === 3);
    expect(received.map((b) => b.seqFirst).sort((a, b) => a - b)).toEqual([1, 101, 901]);
    release = true;
    await until(async () => (await spool.stats()).depth === 0, 10_000);
    const values = received.filter((b, i) => received.findIndex((o) => o.seqFirst === b.seqFirst) === i).flatMap((b) => b.readings.map((r) => r.value));
    expect(values.sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});

