import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Quality } from '../../core/quality.js';
import type { Reading } from '../../core/reading.js';
import { decodeBatch, type CatalogData, type DecodedBatch } from '../../proto/codec.js';
import type { CloudStore } from '../../cloud-bridge/store/reading-store.js';
import { tempDir } from '../helpers/tmp.js';
import { CATALOG, T0, batchBytes } from './helpers.js';

/** One suite every CloudStore implementation runs (SQLite now, PostgreSQL later). */
/** The quarantine bounds the conformance stores are opened with. */
export const QUARANTINE_TEST_LIMITS = { rowsPerGateway: 3, bytesPerGateway: 1000, bytesTotal: 1500 };

export function describeCloudStore(name: string, open: (dir: string) => Promise<CloudStore>): void {
  describe(`CloudStore conformance: ${name}`, () => {
    let tmp: ReturnType<typeof tempDir>;
    let store: CloudStore;
    const write = (readings: Reading[], seqFirst: number, opts: { producerId?: string; epoch?: number; historical?: boolean } = {}) => {
      const bytes = batchBytes(readings, seqFirst, opts);
      return store.writeBatch('gw-1', decodeBatch(bytes), { receivedMs: T0 + 99, bytes });
    };
    const seqs = async (key: string) => (await store.query({ gateway: 'gw-1', key, limit: 1000 }))!.readings.map((r) => r.seq);
    const r = (tagId: number, dt: number, value: Reading['value'], quality = 0): Reading => ({ tagId, ts: T0 + dt, value, quality });

    beforeEach(async () => {
      tmp = tempDir('jinyun-store-');
      store = await open(tmp.dir);
      await store.registerGateways([{ id: 'gw-1', tenant: 'ta' }, { id: 'gw-2', tenant: 'tb' }]);
    });
    afterEach(async () => {
      await store.close();
      tmp.cleanup();
    });

    it('asks for a retry while the catalog of the producer is unknown, then stores', async () => {
      expect(await write([r(1, 0, 1)], 1)).toMatchObject({ result: 'retry', reasonCode: 'unknown_tag', tagIds: [1] });
      await store.upsertCatalog('gw-1', CATALOG);
      expect(await write([r(1, 0, 1)], 1)).toEqual({ result: 'ok', stored: 1, skipped: 0 });
      expect(await write([r(1, 0, 1)], 1)).toEqual({ result: 'duplicate', stored: 0, skipped: 1 });
      expect((await store.gateways({})).find((g) => g.id === 'gw-1')).toMatchObject({ readingsStored: 1, lastSeenMs: T0 + 99 });
    });

    it('round-trips every value kind and quality exactly', async () => {
      await store.upsertCatalog('gw-1', CATALOG);
      const values: Reading[] = [r(1, 0, 1.5), r(1, 1, -Infinity), r(1, 2, Number.NaN, Quality.Uncertain), r(1, 3, null, Quality.BadSensorFailure), r(1, 4, Number.MAX_VALUE), r(1, 5, -0)];
      await write(values, 1);
      await write([r(2, 0, false), r(3, 0, 'ü €'), r(4, 0, 18446744073709551615n)], 7);
      // Separate batch: the encoder widens a uint64/int64 mix within one tag to int64.
      await write([r(4, 1, -9223372036854775808n)], 10);
      const got = (key: string) => store.query({ gateway: 'gw-1', key, limit: 10 }).then((q) => q!.readings.map((x) => [x.value, x.quality]));
      expect(await got('pump/flow')).toEqual([[1.5, 0], [-Infinity, 0], [NaN, Quality.Uncertain], [null, Quality.BadSensorFailure], [Number.MAX_VALUE, 0], [0, 0]]);
      expect(await got('pump/running')).toEqual([[false, 0]]);
      expect(await got('pump/label')).toEqual([['ü €', 0]]);
      expect(await got('meter/energy')).toEqual([[18446744073709551615n, 0], [-9223372036854775808n, 0]]);
    });

    it('stores doubles bit-exactly: random bit patterns, subnormals, extremes, integers beyond 2^53 (latest too)', async () => {
      await store.upsertCatalog('gw-1', CATALOG);
      const f64 = new Float64Array(1);
      const u32 = new Uint32Array(f64.buffer);
      let x = 0x9e3779b9;
      const rnd = () => (x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0);
      const values: number[] = [5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, Number.MAX_VALUE, -Number.MAX_VALUE, 0.1 + 0.2, 2 ** 53 + 2, -(2 ** 60), 1e300,
        // SQLite's JSON number parser reads these 1 ulp off: the store must not go through it
        8150499.241930719, 2.307906131739818e+122, 3.229696194568646e-51, -0.00003890793125056443, -6.597823322935368e+162];
      while (values.length < 3000) {
        u32[0] = rnd();
        u32[1] = rnd();
        if (Number.isFinite(f64[0])) values.push(f64[0]!);
      }
      const bytes = batchBytes(values.map((v, i) => r(1, i, v)), 1);
      const sent = decodeBatch(bytes).readings.map((x) => x.value);
      expect(await store.writeBatch('gw-1', decodeBatch(bytes), { receivedMs: T0 + 99, bytes })).toMatchObject({ result: 'ok', stored: 3000 });
      const got = (await store.query({ gateway: 'gw-1', key: 'pump/flow', limit: 5000 }))!.readings.map((x) => x.value);
      expect(got.filter((v, i) => !Object.is(v, sent[i]))).toEqual([]);
      expect((await store.latest({ gateway: 'gw-1' })).find((l) => l.key === 'pump/flow')!.value).toBe(sent[2999]);
    });

    it('rejects a replay with other content and quarantines it; stores only uncovered readings of overlaps', async () => {
      await store.upsertCatalog('gw-1', CATALOG);
      await write([r(1, 0, 1), r(1, 1, 2), r(1, 2, 3)], 10);
      expect(await write([r(1, 0, 9), r(1, 1, 2), r(1, 2, 3)], 10)).toMatchObject({ result: 'rejected', reasonCode: 'replay_conflict' });
      expect(await store.quarantineCount('gw-1')).toBe(1);
      expect(await write([r(1, 2, 3), r(1, 3, 4)], 12)).toEqual({ result: 'ok', stored: 1, skipped: 1 });
      expect(await write([r(1, 5, 6)], 8)).toMatchObject({ result: 'ok' });
      expect(await write([r(1, -1, 0), r(1, 0, 1), r(1, 1, 2)], 9)).toEqual({ result: 'ok', stored: 1, skipped: 2 });
      expect(await write([r(1, 1, 2), r(1, 2, 3)], 11)).toEqual({ result: 'duplicate', stored: 0, skipped: 2 });
      expect(await seqs('pump/flow')).toEqual([9, 10, 11, 12, 13, 8]);
      // Another epoch is another sequence space, but seqs stored under a higher epoch coming back under a lower one is an epoch regression.
      expect(await write([r(1, 100, 1)], 10, { epoch: 3 })).toMatchObject({ result: 'ok', stored: 1 });
      expect(await write([r(1, 101, 1)], 10, { epoch: 2 })).toMatchObject({ result: 'rejected', reasonCode: 'epoch_regression' });
      expect(await store.quarantineCount('gw-1')).toBe(2);
    });

    it('keeps in latest the reading that came last in the producer\'s order (epoch, seq), whatever its source time, with the receive time', async () => {
      await store.upsertCatalog('gw-1', CATALOG);
      await store.upsertCatalog('gw-1', { ...CATALOG, producerId: 'prod-2' });
      const latest = async () => (await store.latest({ gateway: 'gw-1' })).map((l) => [l.key, l.ts - T0, l.value, l.receivedMs - T0]);
      await write([r(1, 1000, 2), r(1, 500, 1)], 1); // the source clock stepped back within the batch: seq 2 is the newer
      expect(await latest()).toEqual([['pump/flow', 500, 1, 99]]);
      await write([r(1, -3_600_000, 5)], 10); // the edge clock jumped back an hour: still the newest
      expect(await latest()).toEqual([['pump/flow', -3_600_000, 5, 99]]);
      await write([r(1, 5000, 9)], 5, { historical: true }); // backlog (lower seqs) arriving late: not newer
      expect(await latest()).toEqual([['pump/flow', -3_600_000, 5, 99]]);
      await write([r(1, 4000, 7)], 11, { epoch: 2 }); // the next start of the producer
      expect(await latest()).toEqual([['pump/flow', 4000, 7, 99]]);
      await write([r(1, 100, 3)], 1, { epoch: 1 }); // a resend of epoch 1: older
      expect(await latest()).toEqual([['pump/flow', 4000, 7, 99]]);
      await write([r(1, 50, 8)], 1, { producerId: 'prod-2' }); // a new spool (another producer) takes over at its first batch
      expect(await latest()).toEqual([['pump/flow', 50, 8, 99]]);
      expect(await store.latest({ gateway: 'gw-2' })).toEqual([]);
    });

    it('maps tag ids per producer onto series by key (a wiped spool may renumber)', async () => {
      await store.upsertCatalog('gw-1', CATALOG);
      await write([r(1, 0, 1)], 1);
      const renumbered: CatalogData = { ...CATALOG, producerId: 'prod-new', tags: CATALOG.tags.map((t) => ({ ...t, id: t.id + 100 })) };
      await store.upsertCatalog('gw-1', renumbered);
      await write([r(101, 1, 2)], 1, { producerId: 'prod-new' });
      expect(await seqs('pump/flow')).toEqual([1, 1]);
      expect((await store.tags({ gateway: 'gw-1' })).find((t) => t.key === 'pump/flow')).toMatchObject({ tagId: 101, unit: 'm3/h', device: 'pump' });
    });

    it('queries a time range (from inclusive, to exclusive) page by page', async () => {
      await store.upsertCatalog('gw-1', CATALOG);
      await write(Array.from({ length: 10 }, (_, i) => r(1, i * 10, i)), 1);
      const page = (after?: { ts: number; id: number }) => store.query({ gateway: 'gw-1', key: 'pump/flow', fromMs: T0 + 10, toMs: T0 + 80, limit: 3, after });
      const p1 = (await page())!.readings;
      expect(p1.map((x) => x.value)).toEqual([1, 2, 3]);
      const p2 = (await page({ ts: p1[2]!.ts, id: p1[2]!.id }))!.readings;
      expect(p2.map((x) => x.value)).toEqual([4, 5, 6]);
      const p3 = (await page({ ts: p2[2]!.ts, id: p2[2]!.id }))!.readings;
      expect(p3.map((x) => x.value)).toEqual([7]);
      expect(await store.query({ gateway: 'gw-1', key: 'no/such', limit: 1 })).toBeNull();
      expect(await store.query({ gateway: 'gw-2', key: 'pump/flow', limit: 1 })).toBeNull();
    });

    it('lists devices (catalog and tag-only ones) with their newest reading, gateways with presence and health', async () => {
      await store.upsertCatalog('gw-1', CATALOG);
      await write([r(1, 5, 1), r(5, 7, 0.4)], 1);
      const devices = await store.devices({ gateway: 'gw-1' });
      expect(devices.map((d) => [d.name, d.driver, d.lastReadingMs])).toEqual([['gas', '', T0 + 7], ['meter', 'modbus-tcp', null], ['pump', 'modbus-tcp', T0 + 5]]);
      await store.setPresence('gw-1', { online: true, atMs: T0 + 1000, epoch: 4, producerId: 'prod-1' });
      await store.setHealth('gw-1', JSON.stringify({ spoolDepth: 3 }), T0 + 2000);
      const gws = await store.gateways({ tenant: 'ta' });
      expect(gws).toEqual([{ id: 'gw-1', tenant: 'ta', online: true, lastSeenMs: T0 + 2000, epoch: 4, producerId: 'prod-1', readingsStored: 2, health: { spoolDepth: 3 }, healthMs: T0 + 2000, clockSkewMs: null }]);
    });

    it('keeps the newest quarantine entries within its bounds: entries and bytes per gateway, bytes in total; the newest entry always stays', async () => {
      // Opened with QUARANTINE_TEST_LIMITS: 3 entries and 1,000 bytes per gateway, 1,500 bytes in total.
      let i = 0;
      const put = (gateway: string, size: number) => store.quarantine({ gateway, kind: 'data', receivedMs: T0 + i, reasonCode: 'malformed', reason: `junk ${i++}`, bytes: new Uint8Array(size).fill(i & 255) });
      const usage = async () => Object.fromEntries(await Promise.all(['gw-r', 'gw-b', 'gw-c', 'gw-d'].map(async (g) => { const u = await store.quarantineUsage(g); return [g, [await store.quarantineCount(g), u.bytes, u.evicted]]; })));
      for (let n = 0; n < 5; n++) await put('gw-r', 1);
      expect(await usage()).toEqual({ 'gw-r': [3, 3, 2], 'gw-b': [0, 0, 0], 'gw-c': [0, 0, 0], 'gw-d': [0, 0, 0] });
      for (let n = 0; n < 3; n++) await put('gw-b', 400);
      expect(await usage()).toEqual({ 'gw-r': [3, 3, 2], 'gw-b': [2, 800, 1], 'gw-c': [0, 0, 0], 'gw-d': [0, 0, 0] });
      await put('gw-c', 400);
      await put('gw-c', 400); // 1,603 bytes in all: the oldest of any gateway go (gw-r's, then gw-b's first)
      expect(await usage()).toEqual({ 'gw-r': [0, 0, 5], 'gw-b': [1, 400, 2], 'gw-c': [2, 800, 0], 'gw-d': [0, 0, 0] });
      await put('gw-d', 2000); // over both bounds by itself: it stays, everything older goes
      expect(await usage()).toEqual({ 'gw-r': [0, 0, 5], 'gw-b': [0, 0, 3], 'gw-c': [0, 0, 2], 'gw-d': [1, 2000, 0] });
      expect(await store.quarantineCount()).toBe(1);
    });

    it('keeps the registry: tenants, gateways, revocation and tokens, with a revision that moves on every change', async () => {
      const r0 = await store.registryRevision();
      await store.applyRegistry({ op: 'addTenant', id: 'acme', atMs: T0 });
      await expect(store.applyRegistry({ op: 'addTenant', id: 'acme', atMs: T0 })).rejects.toMatchObject({ code: 'tenant_exists' });
      await expect(store.applyRegistry({ op: 'addGateway', id: 'g9', tenant: 'nope', passwordHash: 'h', atMs: T0 })).rejects.toMatchObject({ code: 'unknown_tenant' });
      await store.applyRegistry({ op: 'addGateway', id: 'g9', tenant: 'acme', passwordHash: 'scrypt$h', atMs: T0 });
      await expect(store.applyRegistry({ op: 'addGateway', id: 'g9', tenant: 'acme', passwordHash: 'h', atMs: T0 })).rejects.toMatchObject({ code: 'gateway_exists' });
      await store.applyRegistry({ op: 'addToken', id: 'tok-1', tenant: 'acme', scope: 'tenant', tokenHash: 'scrypt$t', atMs: T0 });
      let reg = await store.loadRegistry();
      expect(reg.revision).toBe(r0 + 3);
      expect(reg.tenants).toContain('acme');
      expect(reg.gateways.find((g) => g.id === 'g9')).toEqual({ id: 'g9', tenant: 'acme', passwordHash: 'scrypt$h', revoked: false });
      expect(reg.tokens).toEqual([{ id: 'tok-1', tenant: 'acme', scope: 'tenant', tokenHash: 'scrypt$t', revoked: false }]);
      await store.applyRegistry({ op: 'revokeGateway', id: 'g9', atMs: T0 });
      await expect(store.applyRegistry({ op: 'revokeGateway', id: 'g9', atMs: T0 })).rejects.toMatchObject({ code: 'already_revoked' });
      await expect(store.applyRegistry({ op: 'revokeGateway', id: 'nope', atMs: T0 })).rejects.toMatchObject({ code: 'unknown_gateway' });
      // Seeding from a config does not bring a revoked gateway back.
      await store.applyRegistry({ op: 'seedGateways', gateways: [{ id: 'g9', tenant: 'acme', passwordHash: 'scrypt$new' }, { id: 'g10', tenant: 'newco', passwordHash: 'scrypt$10' }], atMs: T0 });
      reg = await store.loadRegistry();
      expect(reg.gateways.find((g) => g.id === 'g9')).toEqual({ id: 'g9', tenant: 'acme', passwordHash: null, revoked: true });
      expect(reg.gateways.find((g) => g.id === 'g10')).toMatchObject({ tenant: 'newco', revoked: false });
      expect(reg.tenants).toContain('newco');
      expect(await store.registryRevision()).toBe(reg.revision);
      // A revoked token keeps its id (never reused) and loses its hash.
      await store.applyRegistry({ op: 'revokeToken', id: 'tok-1', atMs: T0 });
      await expect(store.applyRegistry({ op: 'revokeToken', id: 'tok-1', atMs: T0 })).rejects.toMatchObject({ code: 'already_revoked' });
      await expect(store.applyRegistry({ op: 'revokeToken', id: 'tok-x', atMs: T0 })).rejects.toMatchObject({ code: 'unknown_token' });
      expect((await store.loadRegistry()).tokens).toEqual([{ id: 'tok-1', tenant: 'acme', scope: 'tenant', tokenHash: '', revoked: true }]);
      // A platform token belongs to no tenant (the tenant given is not checked, and not kept).
      await store.applyRegistry({ op: 'addToken', id: 'tok-p', tenant: 'ignored', scope: 'platform', tokenHash: 'scrypt$p', atMs: T0 });
      expect((await store.loadRegistry()).tokens[1]).toEqual({ id: 'tok-p', tenant: '', scope: 'platform', tokenHash: 'scrypt$p', revoked: false });
    });

    it('prunes raw readings before a cutoff; aggregates over the pruned range keep their exact values from the rollups', async () => {
      await store.upsertCatalog('gw-1', CATALOG);
      const DAY = 86_400_000;
      const MIN = 60_000;
      const OLDER = T0 - 140 * DAY; // a month of its own, which ends before the cutoff (PostgreSQL drops its partition)
      const OLD = T0 - 100 * DAY; // the month the cutoff falls in (PostgreSQL deletes from its partition)
      const cutoff = OLD + 3 * MIN + 1234; // rounded down to a whole minute by pruneRaw: no minute is half pruned
      const v = (i: number) => ((i * 37) % 101) / 4 - 3;
      const at1s = (from: number, n: number, i0: number): Reading[] => Array.from({ length: n }, (_, i) => ({ tagId: 1, ts: from + i * 1000, value: v(i0 + i), quality: 0 }));
      const older = at1s(OLDER, 60, 0);
      const old = at1s(OLD, 180, 60);
      const recent = at1s(T0, 60, 240);
      expect(await write(older, 1)).toMatchObject({ result: 'ok', stored: 60 });
      expect(await write(old, 61)).toMatchObject({ result: 'ok', stored: 180 });
      expect(await write(recent, 241)).toMatchObject({ result: 'ok', stored: 60 });
      // After the rounded cutoff, before beforeMs: kept.
      expect(await write([{ tagId: 1, ts: OLD + 3 * MIN + 500, value: 7, quality: 0 }], 3001)).toMatchObject({ result: 'ok', stored: 1 });
      const agg = (bucketMs: number, fromMs = OLDER, toMs = OLD + 3 * MIN) => store.aggregate({ gateway: 'gw-1', key: 'pump/flow', fromMs, toMs, bucketMs }).then((a) => a!.buckets);
      const raw = (fromMs: number, toMs: number) => store.query({ gateway: 'gw-1', key: 'pump/flow', fromMs, toMs, limit: 1000 }).then((q) => q!.readings);
      const byDay = await agg(DAY);
      const byMinute = await agg(MIN);
      // The aggregates are real: 4 minutes of 60 readings, values as sent.
      const oldValues = [...older, ...old].map((x) => x.value as number);
      expect(byMinute.map((b) => [b.ts, b.count, b.first, b.last])).toEqual([0, 1, 2, 3].map((k) => {
        const ts = k === 0 ? OLDER : OLD + (k - 1) * MIN;
        return [ts, 60, oldValues[k * 60], oldValues[k * 60 + 59]];
      }));
      expect(byDay.reduce((n, b) => n + b.count, 0)).toBe(240);
      expect(Math.min(...byDay.map((b) => b.min))).toBe(Math.min(...oldValues));
      expect(Math.max(...byDay.map((b) => b.max))).toBe(Math.max(...oldValues));
      const recentBefore = await raw(T0, T0 + MIN);

      // Readings no aggregate has read yet: pruneRaw brings their rollups up to date before deleting them.
      const methane = Array.from({ length: 60 }, (_, i): Reading => ({ tagId: 5, ts: OLD + i * 1000, value: (i * 5) % 7, quality: 0 }));
      const m = methane.map((x) => x.value as number);
      expect(await write(methane, 2001)).toMatchObject({ result: 'ok', stored: 60 });
      const latestBefore = await store.latest({ gateway: 'gw-1' });
      // latest is the last in seq order (3001, sent after the recent minute with an older source time), not the newest source time.
      expect(latestBefore.map((l) => [l.key, l.ts, l.value])).toEqual([['gas/methane', OLD + 59_000, m[59]], ['pump/flow', OLD + 3 * MIN + 500, 7]]);
      const pumpAfterCutoff = await raw(OLD + 3 * MIN, T0 + DAY);

      expect(await store.pruneRaw(cutoff)).toEqual({ deleted: 300 });
      expect((await store.aggregate({ gateway: 'gw-1', key: 'gas/methane', fromMs: OLD, toMs: OLD + MIN, bucketMs: MIN }))!.buckets)
        .toEqual([{ ts: OLD, count: 60, min: 0, max: 6, avg: m.reduce((a, b) => a + b, 0) / 60, first: m[0], last: m[59] }]);
      expect((await store.query({ gateway: 'gw-1', key: 'gas/methane', limit: 10 }))!.readings).toEqual([]);
      expect((await raw(OLDER - DAY, cutoff)).map((x) => [x.ts, x.value])).toEqual([[OLD + 3 * MIN + 500, 7]]);
      expect(await raw(T0, T0 + MIN)).toEqual(recentBefore);
      expect(await raw(OLD + 3 * MIN, T0 + DAY)).toEqual(pumpAfterCutoff);
      expect(pumpAfterCutoff).toHaveLength(61);
      expect(recentBefore.map((x) => x.value)).toEqual(recent.map((x) => x.value));
      expect(await agg(DAY)).toEqual(byDay);
      expect(await agg(MIN)).toEqual(byMinute);
      expect(await store.latest({ gateway: 'gw-1' })).toEqual(latestBefore);
      expect(await store.pruneRaw(cutoff)).toEqual({ deleted: 0 });
      // The batch records stay: the old batch sent again is still a duplicate, not stored again.
      expect(await write(old, 61)).toEqual({ result: 'duplicate', stored: 0, skipped: 180 });
      // A late reading in a pruned minute does not rebuild it from the readings left; one in a minute
      // that had no readings gets its rollup (the dropped month comes back on PostgreSQL).
      expect(await write([{ tagId: 1, ts: OLDER + 30_500, value: 1000, quality: 0 }], 1001)).toMatchObject({ result: 'ok', stored: 1 });
      expect(await write([{ tagId: 1, ts: OLDER + 10 * MIN, value: -1000, quality: 0 }], 1002)).toMatchObject({ result: 'ok', stored: 1 });
      expect(await agg(MIN)).toEqual([byMinute[0], { ts: OLDER + 10 * MIN, count: 1, min: -1000, max: -1000, avg: -1000, first: -1000, last: -1000 }, ...byMinute.slice(1)]);
      expect(await store.latest({ gateway: 'gw-1' })).toEqual(latestBefore);
    });

    it('keeps what was committed across a close and reopen', async () => {
      await store.upsertCatalog('gw-1', CATALOG);
      const bytes = batchBytes([r(1, 0, 42)], 1);
      const batch: DecodedBatch = decodeBatch(bytes);
      await store.writeBatch('gw-1', batch, { receivedMs: T0, bytes });
      await store.close();
      store = await open(tmp.dir);
      expect(await store.writeBatch('gw-1', batch, { receivedMs: T0, bytes })).toMatchObject({ result: 'duplicate' });
      expect((await store.latest({}))[0]).toMatchObject({ key: 'pump/flow', value: 42 });
    });
  });
}
