import { afterAll, beforeAll, expect, it } from 'vitest';
import { topicFor } from '../../core/topics.js';
import { pb, encodeBatch, encodeCatalog } from '../../proto/codec.js';
import { CATALOG, T0, batchBytes, sequence, until, type TestGateway } from './helpers.js';
import type { IngestRig } from './ingest-rigs.js';

/**
 * Bad-input catalogue rows that reach the ingest (7 past the broker, 9-11, 25-30, and row 3 / 29 on
 * the topic), the same for every deployment: no crash, every input counted with its exact reason
 * and quarantined where the catalogue says so, every good reading stored exactly once. Each message
 * waits for its answer before the next is sent, so arrival order is the sending order even with two
 * workers behind a shared subscription.
 */
const GOOD = 'prod-good';

export function describeIngestBadInput(makeRig: () => Promise<IngestRig>): void {
  let rig: IngestRig;
  let gw: TestGateway;
  let goodSeq = 1000;
  let goodSent = 0;
  const ing = () => rig.ingest();
  const sumCatalogs = () => ing().catalogs;
  const r = (dt: number, v: number) => ({ tagId: 1, ts: T0 + dt, value: v, quality: 0 });
  const send = async (bytes: Uint8Array, seq: number, epoch = 1) => {
    await gw.publish('data', bytes);
    return gw.nextAck((a) => a.seqFirst === seq && a.epoch === epoch, 15_000);
  };
  /** A good batch of two readings from a second producer with contiguous seqs (no gaps of its own): must be stored. */
  const good = async () => {
    const seq = goodSeq;
    goodSeq += 2;
    await gw.publish('data', batchBytes([{ tagId: 1, ts: T0 + seq, value: seq, quality: 0 }, { tagId: 2, ts: T0 + seq, value: true, quality: 0 }], seq, { producerId: GOOD }));
    expect((await gw.nextAck((a) => a.producerId === GOOD && a.seqFirst === seq, 15_000)).result).toBe('ok');
    goodSent += 2;
  };

  beforeAll(async () => {
    rig = await makeRig();
    gw = await rig.connect();
    await gw.publish('catalog', encodeCatalog(CATALOG));
    await gw.publish('catalog', encodeCatalog({ ...CATALOG, producerId: GOOD }));
    await until(() => sumCatalogs() === 2, 10_000);
    await good();
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
    await rig?.close();
  });

  it('row 7 (past the broker) and rows 9-11: oversized, malformed, extended and semantically empty batches', async () => {
    // 7. a payload above the ingest's cap is refused before it is decoded
    await rig.deliver(topicFor(rig.gw.tenant, rig.gw.id, 'data'), Buffer.alloc(9.5 * 1024 * 1024, 1));
    await until(() => ing().rejected.too_large === 1, 15_000);
    // 9. truncated varint / length past the end
    await gw.publish('data', Buffer.from([0x0a, 0xff, 0xff, 0xff]));
    await until(() => ing().rejected.malformed === 1);
    // 10. unknown field 99 on the envelope: accepted
    const ext = Buffer.concat([Buffer.from(batchBytes([r(5, 5)], 5000)), Buffer.from([0x98, 0x06, 0x01])]);
    expect((await send(ext, 5000)).result).toBe('ok');
    goodSent++;
    // 11. producer_id empty / count 0: rejected, nothing stored
    await gw.publish('data', pb.Batch.encode({ producerId: '', epoch: 1, seqFirst: 1, count: 1 }).finish());
    await gw.publish('data', pb.Batch.encode({ producerId: 'prod-1', epoch: 1, seqFirst: 6000, count: 0 }).finish());
    await until(() => ing().rejected.invalid_batch === 2);
    await good();
  }, 30_000);

  it('rows 3 and 29 on the topic: an invalid topic, an unknown and a revoked gateway are dropped and counted', async () => {
    if (!rig.sharedBroker) {
      await rig.deliver(`jinyun/v1/${rig.gw.tenant}/gw\u00001/data`, batchBytes([r(1, 1)], 1));
      await until(() => ing().dropped.bad_topic === 1);
      await rig.deliver(topicFor(rig.gw.tenant, 'gw-nobody', 'data'), batchBytes([r(1, 1)], 1));
      await until(() => ing().dropped.unknown_gateway === 1);
    }
    const revoked = await rig.revokedGateway(`${rig.gw.id}-old`);
    await rig.deliver(topicFor(revoked.tenant, revoked.id, 'data'), batchBytes([r(1, 1)], 1));
    await until(() => ing().dropped.revoked_gateway === 1);
    await good();
  });

  it('rows 25-29: replay, out of order with a gap, stepped-back clock, skewed clock, epoch regression', async () => {
    // 25. same batch 3x: one ok, two duplicates; the same key with other content: an alarm, quarantined
    const b = batchBytes([r(7000, 1)], 7000);
    const results: string[] = [];
    for (let i = 0; i < 3; i++) {
      gw.acks.length = 0;
      results.push((await send(b, 7000)).result);
    }
    expect(results).toEqual(['ok', 'duplicate', 'duplicate']);
    goodSent++;
    gw.acks.length = 0;
    expect(await send(batchBytes([r(7000, 2)], 7000), 7000)).toMatchObject({ result: 'rejected', reasonCode: 'replay_conflict' });
    // 26. 7003 arrives before 7001-7002 (reordered, no GAP); 7010 leaves 7004..7009 open: GAP after the timeout
    expect((await send(batchBytes([r(7003, 3)], 7003), 7003)).result).toBe('ok');
    expect((await send(batchBytes([r(7001, 1), r(7002, 2)], 7001), 7001)).result).toBe('ok');
    expect((await send(batchBytes([r(7010, 10)], 7010), 7010)).result).toBe('ok');
    goodSent += 4;
    // 27. timestamps stepping back within a tag: stored, counted
    expect((await send(batchBytes([r(9000, 1), r(8000, 2)], 7011), 7011)).result).toBe('ok');
    goodSent += 2;
    expect(ing().nonMonotonicTimestamps).toBe(1);
    // 28. ts = 0 and now + 1 day: clock_skew, quarantined with the original bytes; a send time off by an hour: stored, alarm
    expect(await send(encodeBatch({ producerId: 'prod-1', epoch: 1, seqFirst: 7013, readings: sequence([{ tagId: 1, ts: 0, value: 1, quality: 0 }], 7013), historical: false }), 7013))
      .toMatchObject({ result: 'rejected', reasonCode: 'clock_skew' });
    expect(await send(batchBytes([{ tagId: 1, ts: Date.now() + 86_400_000, value: 1, quality: 0 }], 7014), 7014)).toMatchObject({ result: 'rejected', reasonCode: 'clock_skew' });
    expect((await send(encodeBatch({ producerId: 'prod-1', epoch: 1, seqFirst: 7015, readings: sequence([r(9001, 1)], 7015), historical: false }, { sentTimeMs: Date.now() - 3_600_000 }), 7015)).result).toBe('ok');
    goodSent++;
    expect(ing().clockSkewAlarms).toBe(1);
    // 29. seqs stored under epoch 3 come back under epoch 2 (a restored spool): rejected, quarantined
    expect((await send(batchBytes([r(9100, 1)], 7100, { epoch: 3 }), 7100, 3)).result).toBe('ok');
    goodSent++;
    expect(await send(batchBytes([r(9101, 1)], 7100, { epoch: 2 }), 7100, 2)).toMatchObject({ result: 'rejected', reasonCode: 'epoch_regression' });
    await good();
  }, 30_000);

  it('row 25 across batch boundaries and row 29 without overlap: a stored seq replayed with other content, an older epoch above a newer one', async () => {
    const P = 'prod-replay';
    await gw.publish('catalog', encodeCatalog({ ...CATALOG, producerId: P }));
    await until(() => sumCatalogs() === 3, 10_000);
    const b = (readings: { tagId: number; ts: number; value: number | boolean; quality: number }[], seq: number, epoch: number) => batchBytes(readings, seq, { producerId: P, epoch });
    const sendP = async (bytes: Uint8Array, seq: number, epoch: number) => {
      gw.acks.length = 0; // several batches share a key here: only this one's answer counts
      await gw.publish('data', bytes);
      return gw.nextAck((a) => a.producerId === P && a.seqFirst === seq && a.epoch === epoch, 15_000);
    };
    const q = (dt: number, v: number) => ({ tagId: 1, ts: T0 + dt, value: v, quality: 0 });
    // seq 20050-20051 stored; 20051-20052 carrying another value for 20051: a replay conflict, nothing of it stored.
    expect((await sendP(b([q(20050, 50), q(20051, 51)], 20050, 50), 20050, 50)).result).toBe('ok');
    expect(await sendP(b([q(20051, 999), q(20052, 52)], 20051, 50), 20051, 50)).toMatchObject({ result: 'rejected', reasonCode: 'replay_conflict', reason: expect.stringContaining('seq 20051 of producer prod-replay epoch 50 was stored by an earlier batch with another value or quality') });
    // The same seq with another source time, another quality, or another tag: conflicts too.
    expect((await sendP(b([{ ...q(20051, 51), ts: T0 + 1 }, q(20052, 52)], 20051, 50), 20051, 50)).reasonCode).toBe('replay_conflict');
    expect((await sendP(b([{ ...q(20051, 51), quality: 0x40000000 }, q(20052, 52)], 20051, 50), 20051, 50)).reasonCode).toBe('replay_conflict');
    expect((await sendP(b([{ tagId: 2, ts: T0 + 20051, value: true, quality: 0 }, q(20052, 52)], 20051, 50), 20051, 50)).reasonCode).toBe('replay_conflict');
    // The same content under other boundaries: ok, the new seq stored once, the covered one skipped.
    const before = ing().readingsSkipped;
    expect((await sendP(b([q(20051, 51), q(20052, 52)], 20051, 50), 20051, 50)).result).toBe('ok');
    expect(ing().readingsSkipped - before).toBe(1);
    const stored = (await rig.store.query({ gateway: rig.gw.id, key: 'pump/flow', limit: 10_000 }))!.readings.filter((x) => x.epoch === 50);
    expect(stored.map((x) => [x.seq, x.value])).toEqual([[20050, 50], [20051, 51], [20052, 52]]);
    // Epoch 900 at seq 20100, then epoch 5 at seq 20110 (no overlap): a regression, counted and quarantined.
    const regressions = ing().epochRegressions;
    expect((await sendP(b([q(20100, 1)], 20100, 900), 20100, 900)).result).toBe('ok');
    expect(await sendP(b([q(20110, 2)], 20110, 5), 20110, 5)).toMatchObject({ result: 'rejected', reasonCode: 'epoch_regression', reason: expect.stringContaining('seqs 20110..20110 of producer prod-replay come with epoch 5, but its later epoch 50 already began at seq 20050') });
    expect(ing().epochRegressions - regressions).toBe(1);
    // A backlog batch of an older epoch below the newer epoch's seqs is the normal drain after a restart: stored.
    expect((await sendP(b([q(19990, 3)], 19990, 4), 19990, 4)).result).toBe('ok');
    goodSent += 5;
  }, 30_000);

  it('row 30: a real database error is answered retry, never ok; the resend after recovery is stored once', async () => {
    const restore = await rig.breakStore();
    // Epoch 3: the producer's epoch 3 began at seq 7100 (row 29), so seq 9999 under epoch 1 would be a regression.
    const bytes = batchBytes([r(9999, 9)], 9999, { epoch: 3 });
    try {
      expect(await send(bytes, 9999, 3)).toMatchObject({ result: 'retry', reasonCode: 'store_error' });
    } finally {
      await restore();
    }
    gw.acks.length = 0;
    expect((await send(bytes, 9999, 3)).result).toBe('ok');
    goodSent++;
  }, 30_000);

  it('counted every bad input with its reason, quarantined the rejected ones, and kept every good reading exactly once', async () => {
    await good();
    const m = ing();
    expect({ ...m.rejected }).toEqual({ too_large: 1, malformed: 1, invalid_batch: 2, replay_conflict: 5, clock_skew: 2, epoch_regression: 2 });
    expect({ ...m.retry }).toEqual({ store_error: 1 });
    const dropped: Record<string, number> = { ...m.dropped };
    if (rig.sharedBroker) delete dropped.unknown_gateway; // other tests' gateways on the shared broker
    expect(dropped).toEqual(rig.sharedBroker ? { revoked_gateway: 1 } : { bad_topic: 1, unknown_gateway: 1, revoked_gateway: 1 });
    expect({ dup: m.batchesDuplicate, conflicts: m.replayConflicts, regressions: m.epochRegressions, storeErrors: m.storeErrors, quarantined: m.quarantined, nonMonotonic: m.nonMonotonicTimestamps, skewAlarms: m.clockSkewAlarms })
      .toEqual({ dup: 2, conflicts: 5, regressions: 2, storeErrors: 1, quarantined: 13, nonMonotonic: 1, skewAlarms: 1 });
    expect(m.readingsStored).toBe(goodSent);
    expect(rig.workers.every((w) => w.metrics.ingest.batchesOk > 0)).toBe(true); // every worker took part
    const flow = (await rig.store.query({ gateway: rig.gw.id, key: 'pump/flow', limit: 10_000 }))!.readings;
    const running = (await rig.store.query({ gateway: rig.gw.id, key: 'pump/running', limit: 10_000 }))!.readings;
    expect(flow.length + running.length).toBe(goodSent);
    expect(new Set([...flow, ...running].map((x) => `${x.epoch}/${x.seq}`)).size).toBe(goodSent);
    expect(await rig.store.quarantineCount(rig.gw.id)).toBe(13);
  });

  it('row 26: reports as GAPs exactly the seqs of the producer that never got stored, never one another worker filled', async () => {
    const stored = new Set((await rig.store.query({ gateway: rig.gw.id, key: 'pump/flow', limit: 10_000 }))!.readings
      .filter((x) => x.seq >= 5000 && x.seq <= 9999).map((x) => x.seq));
    const missing = Array.from({ length: 9999 - 5000 + 1 }, (_, i) => 5000 + i).filter((q) => !stored.has(q));
    const reported = () => new Set(rig.gaps.filter((g) => g.producerId === CATALOG.producerId).flatMap((g) => Array.from({ length: g.seqLast - g.seqFirst + 1 }, (_, i) => g.seqFirst + i)));
    // The deliberate hole (7004..7009), the two clock_skew batches (7013, 7014) and the jumps between scenarios.
    await until(() => [7004, 7009, 7013, 7014].every((q) => reported().has(q)), 10_000);
    expect([...reported()].filter((q) => stored.has(q))).toEqual([]);
    expect(rig.gaps.filter((g) => g.producerId === GOOD)).toEqual([]);
    if (rig.workers.length === 1) {
      await until(() => reported().size === missing.length, 10_000);
      expect([...reported()].sort((a, b) => a - b)).toEqual(missing);
      expect(ing().gapsReported).toBe(rig.gaps.length);
    }
  });
}
