import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Spool, SPOOL_DEFAULTS } from '../../edge/spool.js';
import { MqttLink } from '../../edge/mqtt-link.js';
import { Forwarder, type ForwarderOptions } from '../../edge/forwarder.js';
import { silentLogger } from '../../core/logger.js';
import { decodeBatch, encodeAck, pb, type DecodedBatch } from '../../proto/codec.js';
import { tempDir } from '../helpers/tmp.js';
import { plainBroker } from '../helpers/plain-broker.js';
import type { Reading } from '../../core/reading.js';

const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A small deterministic PRNG: noisy doubles that deflate cannot shrink much. */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Published { at: number; bytes: number; compression: number; batch: DecodedBatch }

/**
 * The batch bounds other than the count: bytes (every envelope on the wire within uplink.batch.maxBytes,
 * nothing lost or repeated across batches) and latency (a partial batch waits about maxDelayMs, not
 * much less and not much more). The forwarder runs against a real aedes broker; a scripted ingest
 * decodes every batch and ACKs it.
 */
describe('batch bounds: bytes and latency (forwarder over a real broker)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let broker: Awaited<ReturnType<typeof plainBroker>>;
  let spool: Spool | undefined;
  let link: MqttLink;
  let fwd: Forwarder | undefined;
  let published: Published[];

  beforeEach(async () => {
    tmp = tempDir();
    broker = await plainBroker();
    published = [];
    broker.broker.subscribe('t/data', (packet, cb) => {
      const bytes = packet.payload as Buffer;
      const b = decodeBatch(bytes);
      published.push({ at: performance.now(), bytes: bytes.length, compression: pb.Batch.decode(bytes).compression, batch: b });
      broker.broker.publish({ cmd: 'publish', topic: 't/ack', payload: Buffer.from(encodeAck({ producerId: b.producerId, epoch: b.epoch, seqFirst: b.seqFirst, count: b.count, result: 'ok' })), qos: 1, retain: false, dup: false }, () => undefined);
      cb();
    }, () => undefined);
    link = new MqttLink({ url: `mqtt://127.0.0.1:${broker.port}`, clientId: 'gw', username: 'gw', keepaliveS: 30, connectTimeoutMs: 2000, reconnectInitialMs: 50, reconnectMaxMs: 200, will: { topic: 't/status', payload: new Uint8Array() }, subscriptions: ['t/ack'], logger: silentLogger() });
    link.on('up', () => fwd?.onLinkUp());
    link.on('down', () => fwd?.onLinkDown());
    link.on('message', (topic, payload) => { if (topic === 't/ack') void fwd?.onAckMessage(payload); });
    link.start();
    await until(() => link.connected);
  });

  afterEach(async () => {
    await fwd?.close();
    fwd = undefined;
    await link.close();
    await spool?.close();
    spool = undefined;
    await broker.close();
    tmp.cleanup();
  });

  /** Spool and forwarder as the agent builds them: blocks at most half a batch (edge/agent.ts). */
  async function start(batch: { maxReadings: number; maxBytes: number; maxDelayMs: number }, extra: Partial<ForwarderOptions> = {}): Promise<{ spool: Spool; fwd: Forwarder }> {
    const s = await Spool.open({ ...SPOOL_DEFAULTS, maxBlockReadings: Math.min(SPOOL_DEFAULTS.maxBlockReadings, batch.maxReadings), maxBlockBytes: Math.min(SPOOL_DEFAULTS.maxBlockBytes, batch.maxBytes / 2), path: join(tmp.dir, 's.db'), synchronous: 'FULL', logger: silentLogger() });
    const f = new Forwarder(s, link, { dataTopic: 't/data', ...batch, historicalAfterMs: 60_000, ackTimeoutMs: 10_000, maxInFlight: 4, compression: 'deflate', order: 'oldestFirst', retryInitialMs: 50, retryMaxMs: 100, logger: silentLogger(), ...extra });
    spool = s;
    fwd = f;
    return { spool: s, fwd: f };
  }

  it.each(['none', 'deflate'] as const)('maxBytes 2048 (%s): every envelope on the wire is at most 2048 bytes, and every reading arrives exactly once', async (compression) => {
    const MAX = 2048;
    const { spool: s, fwd: f } = await start({ maxReadings: 5000, maxBytes: MAX, maxDelayMs: 20 }, { compression });
    const rnd = noise(7);
    // Appends of 1..120 readings over 8 tags: blocks of many sizes, doubles that barely compress,
    // and one tag of strings up to 40 characters.
    const sent: Reading[] = [];
    let ts = T0;
    while (sent.length < 3000) {
      const n = 1 + Math.floor(rnd() * 120);
      const rs: Reading[] = Array.from({ length: n }, (_, i) => {
        const tagId = 1 + ((sent.length + i) % 8);
        ts += 1 + Math.floor(rnd() * 50);
        return { tagId, ts, value: tagId === 8 ? 'x'.repeat(Math.floor(rnd() * 40)) : rnd() * 1e6, quality: 0 };
      });
      sent.push(...rs);
      await s.append(rs, 'dev');
    }
    f.notifyAppended();
    await until(async () => (await s.stats()).depth === 0);

    const flag = compression === 'deflate' ? pb.Compression.COMPRESSION_DEFLATE : pb.Compression.COMPRESSION_NONE;
    expect(published.every((p) => p.compression === flag)).toBe(true);
    const sizes = published.map((p) => p.bytes);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX);
    // The byte bound, not the count, cut these batches: most are filled to more than half of it.
    expect(published.every((p) => p.batch.count < 5000)).toBe(true);
    expect(sizes.filter((n) => n > MAX / 2).length).toBeGreaterThan(published.length / 2);
    // No resends happened (every batch was ACKed), so the batches partition the readings exactly.
    expect(f.counters.resent).toBe(0);
    const seqs = published.flatMap((p) => p.batch.readings.map((r) => r.seq));
    expect(seqs).toEqual(Array.from({ length: sent.length }, (_, i) => i + 1));
    expect(published.flatMap((p) => p.batch.readings.map(({ seq: _s, ...r }) => r))).toEqual(sent);
    // And they follow each other: each starts where the previous one ended.
    published.forEach((p, i) => expect(p.batch.seqFirst).toBe(i === 0 ? 1 : published[i - 1]!.batch.seqFirst + published[i - 1]!.batch.count));
  });

  it('a partial batch goes out about maxDelayMs after its first reading, not before', async () => {
    const DELAY = 400;
    const { spool: s, fwd: f } = await start({ maxReadings: 100, maxBytes: 256 * 1024, maxDelayMs: DELAY });
    await s.append(Array.from({ length: 10 }, (_, i) => ({ tagId: 1, ts: T0 + i, value: i, quality: 0 })), 'dev');
    f.notifyAppended();
    const t0 = performance.now();
    await until(() => published.length === 1, DELAY + 5000);
    const waited = published[0]!.at - t0;
    expect(published[0]!.batch.count).toBe(10);
    expect(waited).toBeGreaterThanOrEqual(DELAY - 5);
    expect(waited).toBeLessThan(DELAY + 1500);
  });

  it('readings trickling in: each batch waits about maxDelayMs from its first reading, neither postponed by later appends nor sent early after one', async () => {
    const DELAY = 200;
    const { spool: s, fwd: f } = await start({ maxReadings: 5000, maxBytes: 256 * 1024, maxDelayMs: DELAY });
    // A reading every few milliseconds for 1.6 s, never a full batch: some are appended while the
    // forwarder seals, which once sent them at the next ACK in a batch of their own.
    const appendedAt: number[] = [];
    const end = performance.now() + 1600;
    for (let i = 0; performance.now() < end; i++) {
      await s.append([{ tagId: 1, ts: T0 + i * 10, value: i, quality: 0 }], 'dev');
      appendedAt.push(performance.now());
      f.notifyAppended();
      await new Promise((r) => setTimeout(r, 1 + (i % 5)));
    }
    await until(async () => (await s.stats()).depth === 0, DELAY + 5000);
    const values = published.flatMap((p) => p.batch.readings.map((r) => r.value));
    expect(values).toEqual(appendedAt.map((_, i) => i));
    // Were the timer re-armed by every append, one batch would leave 0.2 s after the last reading.
    expect(published.length).toBeGreaterThanOrEqual(4);
    const waits = published.map((p) => Math.round(p.at - appendedAt[p.batch.seqFirst - 1]!));
    expect(waits.filter((w) => w < DELAY - 5)).toEqual([]);
    expect(waits.filter((w) => w >= DELAY + 1500)).toEqual([]);
  });
});
