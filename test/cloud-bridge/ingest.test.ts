import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { Quality } from '../../core/quality.js';
import type { Reading } from '../../core/reading.js';
import { encodeCatalog, encodeHealth, encodeStatus } from '../../proto/codec.js';
import type { CloudBridge } from '../../cloud-bridge/bridge.js';
import { tempDir } from '../helpers/tmp.js';
import { CATALOG, GW1, GW2, T0, batchBytes, connectGateway, startTestBridge, testConfig, until, type TestGateway } from './helpers.js';

/** Real aedes on a free port, real SQLite file, real mqtt.js clients over TCP. */
describe('ingest over the embedded broker', () => {
  let tmp: ReturnType<typeof tempDir>;
  let bridge: CloudBridge;
  let gw: TestGateway;

  beforeAll(async () => {
    tmp = tempDir('jinyun-ingest-');
    bridge = await startTestBridge(await testConfig(tmp.dir));
    gw = await connectGateway(bridge.mqttPort, GW1);
    await gw.publish('catalog', encodeCatalog(CATALOG), true);
  });

  afterAll(async () => {
    await gw?.close();
    await bridge?.close();
    tmp?.cleanup();
  });

  beforeEach(() => {
    gw.acks.length = 0;
  });

  const rows = async (key: string) => (await bridge.store.query({ gateway: GW1.id, key, limit: 1000 }))?.readings ?? [];

  it('stores a valid batch with exact values and then ACKs ok', async () => {
    const readings: Reading[] = [
      { tagId: 1, ts: T0, value: 12.5, quality: Quality.Good },
      { tagId: 2, ts: T0, value: true, quality: Quality.Good },
      { tagId: 3, ts: T0, value: 'RUN', quality: Quality.Good },
      { tagId: 4, ts: T0, value: 12345678901234567890n, quality: Quality.Good },
      { tagId: 5, ts: T0, value: Number.NaN, quality: Quality.UncertainSensorNotAccurate },
      { tagId: 1, ts: T0 + 1000, value: Number.POSITIVE_INFINITY, quality: Quality.Good },
      { tagId: 5, ts: T0 + 1000, value: null, quality: Quality.BadTimeout },
      { tagId: 1, ts: T0 + 2000, value: -0.125, quality: Quality.Good },
    ];
    await gw.publish('data', batchBytes(readings, 1));
    const ack = await gw.nextAck((a) => a.seqFirst === 1);
    expect(ack).toMatchObject({ producerId: 'prod-1', epoch: 1, seqFirst: 1, count: 8, result: 'ok' });

    expect((await rows('pump/flow')).map((r) => [r.ts, r.value, r.quality, r.seq])).toEqual([[T0, 12.5, 0, 1], [T0 + 1000, Infinity, 0, 6], [T0 + 2000, -0.125, 0, 8]]);
    expect((await rows('pump/running'))[0]!.value).toBe(true);
    expect((await rows('pump/label'))[0]!.value).toBe('RUN');
    expect((await rows('meter/energy'))[0]!.value).toBe(12345678901234567890n);
    const gas = await rows('gas/methane');
    expect(gas[0]!.value).toBeNaN();
    expect(gas[0]!.quality).toBe(Quality.UncertainSensorNotAccurate);
    expect(gas[1]).toMatchObject({ value: null, quality: Quality.BadTimeout });
    const latest = await bridge.store.latest({ gateway: GW1.id });
    expect(latest.find((l) => l.key === 'pump/flow')).toMatchObject({ ts: T0 + 2000, value: -0.125 });
    expect(bridge.metrics.ingest.readingsStored).toBe(8);
  });

  it('answers a resend with duplicate and stores nothing new', async () => {
    const bytes = batchBytes([{ tagId: 1, ts: T0 + 10_000, value: 1, quality: 0 }, { tagId: 1, ts: T0 + 11_000, value: 2, quality: 0 }], 100);
    await gw.publish('data', bytes);
    expect((await gw.nextAck((a) => a.seqFirst === 100)).result).toBe('ok');
    const before = (await rows('pump/flow')).length;
    gw.acks.length = 0;
    await gw.publish('data', bytes);
    expect((await gw.nextAck((a) => a.seqFirst === 100)).result).toBe('duplicate');
    expect((await rows('pump/flow')).length).toBe(before);
    expect(bridge.metrics.ingest.batchesDuplicate).toBeGreaterThanOrEqual(1);
  });

  it('rejects a replay of a stored key with other content (replay_conflict), quarantines it and keeps the original', async () => {
    await gw.publish('data', batchBytes([{ tagId: 1, ts: T0 + 20_000, value: 5, quality: 0 }], 200));
    expect((await gw.nextAck((a) => a.seqFirst === 200)).result).toBe('ok');
    const q0 = await bridge.store.quarantineCount(GW1.id);
    gw.acks.length = 0;
    await gw.publish('data', batchBytes([{ tagId: 1, ts: T0 + 20_000, value: 6, quality: 0 }], 200));
    const ack = await gw.nextAck((a) => a.seqFirst === 200);
    expect(ack).toMatchObject({ result: 'rejected', reasonCode: 'replay_conflict' });
    expect(bridge.metrics.ingest.replayConflicts).toBe(1);
    expect(await bridge.store.quarantineCount(GW1.id)).toBe(q0 + 1);
    expect((await rows('pump/flow')).filter((r) => r.seq === 200).map((r) => r.value)).toEqual([5]);
  });

  it('stores only the uncovered readings of a partially overlapping batch', async () => {
    const r = (i: number): Reading => ({ tagId: 1, ts: T0 + 30_000 + i, value: i, quality: 0 });
    await gw.publish('data', batchBytes([r(0), r(1), r(2)], 300));
    await gw.nextAck((a) => a.seqFirst === 300);
    await gw.publish('data', batchBytes([r(1), r(2), r(3), r(4)], 301));
    expect((await gw.nextAck((a) => a.seqFirst === 301)).result).toBe('ok');
    const stored = (await rows('pump/flow')).filter((x) => x.seq >= 300 && x.seq < 400);
    expect(stored.map((x) => x.seq)).toEqual([300, 301, 302, 303, 304]);
    await gw.publish('data', batchBytes([r(2), r(3)], 302));
    expect((await gw.nextAck((a) => a.seqFirst === 302)).result).toBe('duplicate');
  });

  it('answers retry/unknown_tag for a tag missing from the catalog and stores nothing', async () => {
    await gw.publish('data', batchBytes([{ tagId: 1, ts: T0 + 40_000, value: 1, quality: 0 }, { tagId: 99, ts: T0 + 40_000, value: 1, quality: 0 }], 400));
    expect(await gw.nextAck((a) => a.seqFirst === 400)).toMatchObject({ result: 'retry', reasonCode: 'unknown_tag' });
    expect((await rows('pump/flow')).some((x) => x.seq === 400)).toBe(false);
    // Another producer (a wiped spool) has no catalog yet either.
    await gw.publish('data', batchBytes([{ tagId: 1, ts: T0, value: 1, quality: 0 }], 1, { producerId: 'prod-2' }));
    expect(await gw.nextAck((a) => a.producerId === 'prod-2')).toMatchObject({ result: 'retry', reasonCode: 'unknown_tag' });
    expect(bridge.metrics.ingest.retry.unknown_tag).toBe(2);
  });

  it('rejects malformed bytes from an authenticated gateway with a reason, quarantines them and keeps serving', async () => {
    const q0 = await bridge.store.quarantineCount(GW1.id);
    await gw.publish('data', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x01, 0x02]));
    const ack = await gw.nextAck(() => true);
    expect(ack.result).toBe('rejected');
    expect(ack.reasonCode).toBe('malformed');
    // A well-formed envelope with a broken hash names the batch in its rejection.
    const good = Buffer.from(batchBytes([{ tagId: 1, ts: T0 + 50_000, value: 1, quality: 0 }], 500));
    good[good.length - 1] = good[good.length - 1]! ^ 0xff;
    await gw.publish('data', good);
    expect(await gw.nextAck((a) => a.seqFirst === 500)).toMatchObject({ result: 'rejected', reasonCode: 'hash_mismatch', count: 1 });
    expect(await bridge.store.quarantineCount(GW1.id)).toBe(q0 + 2);
    expect(bridge.metrics.ingest.rejected.malformed).toBe(1);
    await gw.publish('data', batchBytes([{ tagId: 1, ts: T0 + 50_001, value: 7, quality: 0 }], 501));
    expect((await gw.nextAck((a) => a.seqFirst === 501)).result).toBe('ok');
  });

  it('writes a gateway\'s batches sent back to back together, and answers them in arrival order, each stored once', async () => {
    gw.acks.length = 0;
    const stored = bridge.metrics.ingest.readingsStored;
    const first = 40_000;
    for (let i = 0; i < 24; i++) {
      const readings = Array.from({ length: 50 }, (_, k) => ({ tagId: 1 + (k % 2), ts: T0 + 1_000_000 + i * 50 + k, value: k % 2 ? k % 3 === 0 : i * 50 + k, quality: 0 }));
      void gw.publish('data', batchBytes(readings, first + i * 50));
    }
    await until(() => gw.acks.filter((a) => a.seqFirst >= first).length === 24, 15_000);
    const acks = gw.acks.filter((a) => a.seqFirst >= first);
    expect(acks.map((a) => [a.seqFirst, a.result])).toEqual(Array.from({ length: 24 }, (_, i) => [first + i * 50, 'ok']));
    expect(bridge.metrics.ingest.readingsStored - stored).toBe(24 * 50);
    const seqs = (await bridge.store.query({ gateway: GW1.id, key: 'pump/flow', fromMs: T0 + 1_000_000, limit: 10_000 }))!.readings.map((r) => r.seq);
    expect(seqs).toEqual(Array.from({ length: 600 }, (_, k) => first + 2 * k));
  });

  it('records status, health and presence for the API', async () => {
    await gw.publish('status', encodeStatus({ online: true, producerId: 'prod-1', epoch: 3, timeMs: T0, version: '0.1.0' }), true);
    await gw.publish('health', encodeHealth({ timeMs: T0, uptimeS: 5, spoolDepth: 42, devices: [{ name: 'pump', state: 1 }] }));
    await until(async () => (await bridge.store.gateways({})).find((g) => g.id === GW1.id)?.healthMs != null);
    const row = (await bridge.store.gateways({})).find((g) => g.id === GW1.id)!;
    expect(row).toMatchObject({ online: true, epoch: 3, producerId: 'prod-1' });
    expect(row.health).toMatchObject({ spoolDepth: 42, devices: [{ name: 'pump', state: 'DEVICE_STATE_OK' }] });
    const other = await connectGateway(bridge.mqttPort, GW2);
    await until(async () => (await bridge.store.gateways({})).find((g) => g.id === GW2.id)?.online === true);
    await other.close();
    await until(async () => (await bridge.store.gateways({})).find((g) => g.id === GW2.id)?.online === false);
  });
});

describe('ingest without a catalog-first gateway', () => {
  it('does not crash on garbage on every topic and still ACKs afterwards', async () => {
    const tmp = tempDir('jinyun-ingest2-');
    const bridge = await startTestBridge(await testConfig(tmp.dir));
    const gw = await connectGateway(bridge.mqttPort, GW2);
    try {
      const junk = Buffer.from('not protobuf at all \u0000\u00ff', 'latin1');
      for (const kind of ['catalog', 'status', 'health', 'data'] as const) await gw.publish(kind, junk);
      await gw.nextAck(() => true);
      expect(bridge.metrics.ingest.dropped.catalog_invalid).toBe(1);
      await gw.publish('catalog', encodeCatalog({ ...CATALOG, producerId: 'p-x' }));
      await gw.publish('data', batchBytes([{ tagId: 2, ts: T0, value: false, quality: 0 }], 1, { producerId: 'p-x' }));
      expect((await gw.nextAck((a) => a.producerId === 'p-x')).result).toBe('ok');
      // A raw TCP peer sending junk does not disturb the gateway.
      const sock = connect(bridge.mqttPort, '127.0.0.1');
      sock.on('error', () => undefined);
      sock.write(Buffer.from([0xff, 0xff, 0xff]));
      await new Promise((r) => sock.once('close', r));
      await gw.publish('data', batchBytes([{ tagId: 2, ts: T0 + 1, value: true, quality: 0 }], 2, { producerId: 'p-x' }));
      expect((await gw.nextAck((a) => a.producerId === 'p-x' && a.seqFirst === 2)).result).toBe('ok');
    } finally {
      await gw.close();
      await bridge.close();
      tmp.cleanup();
    }
  });
});
