import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { silentLogger } from '../../core/logger.js';
import { Quality } from '../../core/quality.js';
import type { Reading } from '../../core/reading.js';
import { decodeBatch } from '../../proto/codec.js';
import { SqliteStore } from '../../cloud-bridge/store/sqlite-store.js';
import { PgStore } from '../../cloud-bridge/store/pg-store.js';
import type { CloudStore } from '../../cloud-bridge/store/reading-store.js';
import { tempDir } from '../helpers/tmp.js';
import { PG_URL, dropSchemas, havePostgres, uniqueSchema } from '../helpers/services.js';
import { CATALOG, T0, batchBytes } from './helpers.js';

const pgOk = await havePostgres();
const S = 1000;

/** The same analytics and alarm checks for both stores: aggregates computed by the database must match hand-computed values. */
function describeAnalytics(name: string, open: (dir: string) => Promise<CloudStore>): void {
  describe(`${name} store: aggregates and alarms`, () => {
    let tmp: ReturnType<typeof tempDir>;
    let store: CloudStore;
    beforeAll(async () => {
      tmp = tempDir('jinyun-analytics-');
      store = await open(tmp.dir);
      await store.registerGateways([{ id: 'gw-1', tenant: 'ta' }]);
      await store.upsertCatalog('gw-1', CATALOG);
      const readings: Reading[] = [
        // flow, second 0: two readings at the same ts (first stored wins "first", last stored wins "last"), one NaN (no value), one bad.
        { tagId: 1, ts: T0, value: 5, quality: 0 },
        { tagId: 1, ts: T0 + 500, value: -1.5, quality: 0 },
        { tagId: 1, ts: T0, value: 6, quality: 0 },
        { tagId: 1, ts: T0 + 500, value: 2.5, quality: Quality.UncertainSensorNotAccurate },
        { tagId: 1, ts: T0 + 700, value: Number.NaN, quality: 0 },
        { tagId: 1, ts: T0 + 800, value: 1000, quality: Quality.BadTimeout },
        // second 2
        { tagId: 1, ts: T0 + 2 * S, value: Infinity, quality: 0 },
        { tagId: 1, ts: T0 + 2 * S + 1, value: 1, quality: 0 },
        // energy (uint64 as its double), second 0 and 1
        { tagId: 4, ts: T0, value: 10n, quality: 0 },
        { tagId: 4, ts: T0 + S, value: 30n, quality: 0 },
      ];
      const bytes = batchBytes(readings, 1);
      await store.writeBatch('gw-1', decodeBatch(bytes), { receivedMs: T0 + 10 * S, bytes });
    }, 60_000);
    afterAll(async () => {
      await store?.close();
      tmp?.cleanup();
    });

    it('1 s buckets: count, min, max, avg, first, last with ties, NaN and bad quality left out, Infinity kept', async () => {
      const r = await store.aggregate({ gateway: 'gw-1', key: 'pump/flow', fromMs: T0, toMs: T0 + 5 * S, bucketMs: S });
      expect(r!.tag.key).toBe('pump/flow');
      expect(r!.buckets).toEqual([
        { ts: T0, count: 4, min: -1.5, max: 6, avg: 3, first: 5, last: 2.5 },
        { ts: T0 + 2 * S, count: 2, min: 1, max: Infinity, avg: Infinity, first: Infinity, last: 1 },
      ]);
      const e = await store.aggregate({ gateway: 'gw-1', key: 'meter/energy', fromMs: T0, toMs: T0 + 5 * S, bucketMs: 2 * S });
      expect(e!.buckets).toEqual([{ ts: T0, count: 2, min: 10, max: 30, avg: 20, first: 10, last: 30 }]);
    });

    it('range bounds: from inclusive, to exclusive; unknown tag is null', async () => {
      const r = await store.aggregate({ gateway: 'gw-1', key: 'pump/flow', fromMs: T0 + 500, toMs: T0 + 2 * S + 1, bucketMs: 86_400_000 });
      const day = Math.floor(T0 / 86_400_000) * 86_400_000;
      expect(r!.buckets).toEqual([{ ts: day, count: 3, min: -1.5, max: Infinity, avg: Infinity, first: -1.5, last: Infinity }]);
      expect(await store.aggregate({ gateway: 'gw-1', key: 'nope', fromMs: T0, toMs: T0 + S, bucketMs: S })).toBeNull();
      expect(await store.aggregate({ gateway: 'gw-2', key: 'pump/flow', fromMs: T0, toMs: T0 + S, bucketMs: S })).toBeNull();
    });

    it('whole-minute buckets come from the rollups plus raw partial minutes, and include late readings in minutes already rolled up', async () => {
      const M = 60_000;
      const m0 = T0 + 10 * M;
      const write = async (readings: Reading[], seqFirst: number, historical = false) => {
        const bytes = batchBytes(readings, seqFirst, { historical });
        await store.writeBatch('gw-1', decodeBatch(bytes), { receivedMs: m0 + 5 * M, bytes });
      };
      await write([{ tagId: 5, ts: m0 + 10 * S, value: 1, quality: 0 }, { tagId: 5, ts: m0 + 20 * S, value: 2, quality: 0 }, { tagId: 5, ts: m0 + M + S, value: 3, quality: 0 }], 100);
      const q = { gateway: 'gw-1', key: 'gas/methane', fromMs: m0, toMs: m0 + 2 * M, bucketMs: M };
      expect((await store.aggregate(q))!.buckets).toEqual([
        { ts: m0, count: 2, min: 1, max: 2, avg: 1.5, first: 1, last: 2 },
        { ts: m0 + M, count: 1, min: 3, max: 3, avg: 3, first: 3, last: 3 }]);
      // Left edge from the raw readings (the minute starting at m0 is partial), the rest from the rollups.
      expect((await store.aggregate({ ...q, fromMs: m0 + 15 * S }))!.buckets.map((b) => [b.ts, b.count, b.first])).toEqual([[m0, 1, 2], [m0 + M, 1, 3]]);
      expect((await store.aggregate({ ...q, fromMs: m0 + 15 * S, bucketMs: 2 * M }))!.buckets.map((b) => [b.count, b.min, b.max, b.first, b.last]))
        .toEqual(Math.floor((m0 + 15 * S) / (2 * M)) === Math.floor((m0 + M + S) / (2 * M)) ? [[2, 2, 3, 2, 3]] : [[1, 2, 2, 2, 2], [1, 3, 3, 3, 3]]);
      // A backfilled batch lands in the minute already rolled up: the next query includes it.
      await write([{ tagId: 5, ts: m0 + 5 * S, value: 10, quality: 0 }, { tagId: 5, ts: m0 + 30 * S, value: -4, quality: 0 }], 200, true);
      expect((await store.aggregate(q))!.buckets[0]).toEqual({ ts: m0, count: 4, min: -4, max: 10, avg: 2.25, first: 10, last: -4 });
    });

    it('alarms: insert, list by tenant/state with paging, acknowledge once, clear once', async () => {
      const base = { gateway: 'gw-1', source: 'pump/flow', rule: 'r', type: 'high' as const, severity: 'alarm' as const, message: 'm', value: 7, limit: 6 };
      const a1 = await store.insertAlarm({ ...base, tenant: 'ta', raisedMs: T0 });
      const a2 = await store.insertAlarm({ ...base, tenant: 'ta', raisedMs: T0 + S, value: null, limit: null });
      const b1 = await store.insertAlarm({ ...base, tenant: 'tb', gateway: 'gw-9', raisedMs: T0 });
      expect((await store.alarms({ tenant: 'ta', limit: 10 })).map((a) => a.id)).toEqual([a2.id, a1.id]);
      expect((await store.alarms({ tenant: 'ta', limit: 1, beforeId: a2.id })).map((a) => a.id)).toEqual([a1.id]);
      expect((await store.alarms({ limit: 10 })).map((a) => a.id)).toEqual([b1.id, a2.id, a1.id]);
      expect(await store.ackAlarm(b1.id, 'x', T0, 'ta')).toBeNull();
      expect(await store.ackAlarm(a1.id, 'li', T0 + 5 * S, 'ta')).toMatchObject({ id: a1.id, ackBy: 'li', ackMs: T0 + 5 * S, clearedMs: null });
      expect(await store.ackAlarm(a1.id, 'wang', T0 + 6 * S, 'ta')).toMatchObject({ ackBy: 'li', ackMs: T0 + 5 * S });
      await store.clearAlarm(a1.id, T0 + 7 * S, 5.5);
      await store.clearAlarm(a1.id, T0 + 8 * S, 1);
      const [row] = await store.alarms({ tenant: 'ta', active: false, limit: 10 });
      expect(row).toEqual({ ...base, tenant: 'ta', id: a1.id, raisedMs: T0, clearedMs: T0 + 7 * S, clearValue: 5.5, ackBy: 'li', ackMs: T0 + 5 * S });
      expect((await store.alarms({ tenant: 'ta', active: true, limit: 10 })).map((a) => [a.id, a.value, a.limit])).toEqual([[a2.id, null, null]]);
      expect((await store.alarms({ gateway: 'gw-9', limit: 10 })).map((a) => a.id)).toEqual([b1.id]);
    });
  });
}

describeAnalytics('SQLite', (dir) => SqliteStore.open({ path: join(dir, 'cloud.db') }, { logger: silentLogger() }));
describeAnalytics('SQLite, hot tier settled after every commit', (dir) => SqliteStore.open({ path: join(dir, 'cloud.db'), hotTier: { rows: 5, ms: 0 } }, { logger: silentLogger() }));

const schemas: string[] = [];
describe.skipIf(!pgOk)('PostgreSQL', () => {
  afterAll(() => dropSchemas(schemas));
  describeAnalytics('PostgreSQL', () => {
    const schema = uniqueSchema('jy_analytics');
    schemas.push(schema);
    return PgStore.open({ url: PG_URL, schema, poolSize: 3 }, { logger: silentLogger() });
  });
});
