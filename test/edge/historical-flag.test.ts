import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Spool, SPOOL_DEFAULTS } from '../../edge/spool.js';
import { startUplink, type Uplink } from '../../edge/uplink.js';
import { edgeConfigSchema } from '../../edge/config.js';
import { silentLogger } from '../../core/logger.js';
import { Sqlite } from '../../core/sqlite.js';
import { topicFor } from '../../core/topics.js';
import type { Reading } from '../../core/reading.js';
import { decodeBatch, type DecodedBatch } from '../../proto/codec.js';
import type { CloudBridge } from '../../cloud-bridge/bridge.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { GW1, startTestBridge, testConfig, until } from '../cloud-bridge/helpers.js';

/** Readings older than this when sealed are flagged historical (live ones get out well within it, even on a busy machine). */
const HISTORICAL_AFTER_MS = 2000;
const MAX_READINGS = 100;

/**
 * The network between the edge and the cloud: a TCP relay that can be cut (every connection reset,
 * nothing accepted) and restored on the same port, while the broker and the ingest keep running.
 */
class Relay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  constructor(readonly port: number, private readonly target: number) {}

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.resetAndDestroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

interface Captured { batch: DecodedBatch; at: number }

/**
 * Readings replayed from the backlog after an outage arrive flagged historical; live ones do not.
 * A real edge spool and uplink (MQTT link, forwarder, catalog) against the real cloud bridge
 * (embedded aedes broker, ingest, SQLite store) through a relay that cuts the network. Every batch on
 * the data topic is captured at the broker and decoded; the store's historical column must agree.
 */
describe('historical flag end to end: backlog after an outage vs live readings', () => {
  let tmp: ReturnType<typeof tempDir>;
  let bridge: CloudBridge;
  let relay: Relay;
  let spool: Spool;
  let uplink: Uplink;
  let captured: Captured[];
  let tagIds: number[];
  let cloudDb: string;

  beforeEach(async () => {
    tmp = tempDir();
    const config = await testConfig(tmp.dir);
    cloudDb = join(tmp.dir, 'cloud.db');
    bridge = await startTestBridge(config);
    captured = [];
    await bridge.bus.subscribe(topicFor(GW1.tenant, GW1.id, 'data'), (_topic, payload) => {
      captured.push({ batch: decodeBatch(payload), at: Date.now() });
    });
    relay = new Relay(await freePort(), bridge.mqttPort);
    await relay.up();

    const uplinkConfig = edgeConfigSchema.shape.uplink.parse({
      url: `mqtt://127.0.0.1:${relay.port}`, password: GW1.password, reconnectInitialMs: 50, reconnectMaxMs: 200, ackTimeoutMs: 5000, order: 'liveFirst',
      batch: { maxReadings: MAX_READINGS, maxDelayMs: 50, historicalAfterMs: HISTORICAL_AFTER_MS },
    });
    spool = await Spool.open({ ...SPOOL_DEFAULTS, maxBlockReadings: MAX_READINGS, maxBlockBytes: uplinkConfig.batch.maxBytes / 2, path: join(tmp.dir, 'spool.db'), synchronous: 'FULL', logger: silentLogger() });
    const keys = ['fan/current', 'fan/pressure'];
    const ids = await spool.tagIds(keys);
    tagIds = keys.map((k) => ids.get(k)!);
    uplink = startUplink({
      gateway: { id: GW1.id, tenant: GW1.tenant }, uplink: uplinkConfig, spool, logger: silentLogger(),
      catalog: { producerId: spool.producerId, version: spool.epoch, tags: keys.map((key, i) => ({ id: tagIds[i]!, key, device: 'fan', unit: '', dataType: 'float32', description: '' })), devices: [{ name: 'fan', driver: 'modbus-tcp', endpoint: '127.0.0.1:502 unit 2' }] },
    });
    await until(() => uplink.link.connected, 10_000);
  });

  afterEach(async () => {
    await uplink.close();
    await spool.close();
    await relay.down();
    await bridge.close();
    tmp.cleanup();
  });

  /** n readings stamped now (source time = wall clock, as a poll would), alternating the two tags; returns their seqs. */
  let nextSeq = 1;
  async function poll(n: number): Promise<number[]> {
    const now = Date.now();
    const rs: Reading[] = Array.from({ length: n }, (_, i) => ({ tagId: tagIds[i % 2]!, ts: now, value: i / 10, quality: 0 }));
    // Appends take their sequence numbers in call order.
    const seqs = Array.from({ length: n }, (_, i) => nextSeq + i);
    nextSeq += n;
    await spool.append(rs, 'fan');
    uplink.forwarder.notifyAppended();
    return seqs;
  }

  /** seq -> historical flag of the batch that carried it (every carrying batch must agree). */
  function flags(): Map<number, boolean> {
    const out = new Map<number, boolean>();
    for (const { batch } of captured) {
      for (const r of batch.readings) {
        const before = out.get(r.seq);
        if (before !== undefined) expect(before).toBe(batch.historical);
        out.set(r.seq, batch.historical);
      }
    }
    return out;
  }

  const drained = () => until(async () => (await spool.stats()).depth === 0, 10_000);

  async function storedFlags(): Promise<Map<number, boolean>> {
    const db = await Sqlite.open(cloudDb, { readonly: true });
    try {
      const rows = await db.all<{ seq: number; historical: number }>('SELECT seq, historical FROM readings WHERE epoch = ? ORDER BY seq', [spool.epoch]);
      return new Map(rows.map((r) => [r.seq, r.historical === 1]));
    } finally {
      await db.close();
    }
  }

  it('backlog batches carry historical=true, live batches before and after the outage historical=false; the store agrees', async () => {
    nextSeq = 1;
    const before = await poll(20);
    await drained();

    await relay.down();
    await until(() => !uplink.link.connected, 10_000);
    // Five polls while the link is down, then the outage lasts past historicalAfterMs.
    const backlog: number[] = [];
    for (let i = 0; i < 5; i++) backlog.push(...(await poll(MAX_READINGS)));
    await new Promise((r) => setTimeout(r, HISTORICAL_AFTER_MS + 500));
    expect((await spool.stats()).depth).toBe(backlog.length);

    await relay.up();
    await until(() => uplink.link.connected, 10_000);
    await drained();
    const after = await poll(20);
    await drained();

    const f = flags();
    expect([...f.keys()].sort((a, b) => a - b)).toEqual([...before, ...backlog, ...after]);
    expect(before.map((s) => f.get(s))).toEqual(before.map(() => false));
    expect(backlog.map((s) => f.get(s))).toEqual(backlog.map(() => true));
    expect(after.map((s) => f.get(s))).toEqual(after.map(() => false));
    // The backlog took several batches (more than one batch's worth was waiting).
    expect(new Set(captured.filter((c) => c.batch.historical).map((c) => c.batch.seqFirst)).size).toBeGreaterThanOrEqual(5);

    // The cloud stored each reading once, with the flag of its batch.
    const stored = await storedFlags();
    expect([...stored.entries()]).toEqual([...f.entries()].sort(([a], [b]) => a - b));
  });

  it('liveFirst: readings polled while the backlog drains go out historical=false, ahead of the backlog, which stays historical=true', async () => {
    nextSeq = 1;
    await relay.down();
    await until(() => !uplink.link.connected, 10_000);
    // A backlog of 30 batches' worth, polled while the link is down in polls of 10 readings (blocks
    // smaller than a batch, as one device's poll usually is).
    const backlog: number[] = [];
    for (let i = 0; i < 30; i++) {
      const polls = await Promise.all(Array.from({ length: 10 }, () => poll(10)));
      backlog.push(...polls.flat());
    }
    await new Promise((r) => setTimeout(r, HISTORICAL_AFTER_MS + 500));

    await relay.up();
    // Live polls every 20 ms until the whole backlog was sent (at most 10 s), then two more.
    const live: number[] = [];
    const backlogDone = () => {
      const seen = new Set(captured.flatMap((c) => c.batch.readings.map((r) => r.seq)));
      return backlog.every((s) => seen.has(s));
    };
    const stopAt = performance.now() + 10_000;
    while ((!backlogDone() || live.length < 40) && performance.now() < stopAt) {
      live.push(...(await poll(10)));
      await new Promise((r) => setTimeout(r, 20));
    }
    live.push(...(await poll(10)), ...(await poll(10)));
    await drained();

    const f = flags();
    expect([...f.keys()].sort((a, b) => a - b)).toEqual([...backlog, ...live]);
    expect(backlog.filter((s) => f.get(s) !== true)).toEqual([]);
    expect(live.filter((s) => f.get(s) !== false)).toEqual([]);
    // Live readings arrived before the backlog had drained: the drain really overlapped them.
    const lastBacklogAt = Math.max(...captured.filter((c) => c.batch.historical).map((c) => c.at));
    const firstLiveAt = Math.min(...captured.filter((c) => !c.batch.historical).map((c) => c.at));
    expect(firstLiveAt).toBeLessThan(lastBacklogAt);
    const stored = await storedFlags();
    expect([...stored.entries()]).toEqual([...f.entries()].sort(([a], [b]) => a - b));
  });
});
