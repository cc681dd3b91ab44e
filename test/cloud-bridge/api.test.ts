import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../../core/logger.js';
import { Quality } from '../../core/quality.js';
import type { Reading } from '../../core/reading.js';
import { decodeBatch } from '../../proto/codec.js';
import { buildApi } from '../../cloud-bridge/api.js';
import { cloudConfigSchema } from '../../cloud-bridge/config.js';
import { SqliteStore } from '../../cloud-bridge/store/sqlite-store.js';
import { tempDir } from '../helpers/tmp.js';
import { CATALOG, T0, batchBytes } from './helpers.js';

describe('HTTP API /api/v1 (fastify inject)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let app: FastifyInstance;
  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url: `/api/v1${url}` });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> & { items: Record<string, unknown>[] } };
  };

  beforeAll(async () => {
    tmp = tempDir('jinyun-api-');
    store = await SqliteStore.open({ path: join(tmp.dir, 'cloud.db') }, { logger: silentLogger() });
    await store.registerGateways([{ id: 'gw-1', tenant: 'ta' }, { id: 'gw-2', tenant: 'tb' }]);
    await store.upsertCatalog('gw-1', CATALOG);
    const readings: Reading[] = [
      ...Array.from({ length: 5 }, (_, i): Reading => ({ tagId: 1, ts: T0 + i * 1000, value: i + 0.5, quality: 0 })),
      { tagId: 1, ts: T0 + 5000, value: Number.NaN, quality: Quality.UncertainSensorNotAccurate },
      { tagId: 1, ts: T0 + 6000, value: Infinity, quality: 0 },
      { tagId: 1, ts: T0 + 7000, value: null, quality: Quality.BadTimeout },
      { tagId: 2, ts: T0, value: true, quality: 0 },
      { tagId: 3, ts: T0, value: 'RUN', quality: 0 },
      { tagId: 4, ts: T0, value: 12345678901234567890n, quality: 0 },
    ];
    const bytes = batchBytes(readings, 1);
    await store.writeBatch('gw-1', decodeBatch(bytes), { receivedMs: T0 + 9000, bytes });
    await store.setPresence('gw-1', { online: true, atMs: T0 + 9000, epoch: 1, producerId: 'prod-1' });
    const config = cloudConfigSchema.parse({ store: { type: 'sqlite', path: 'x' }, gateways: [], http: { defaultLimit: 4 } });
    app = buildApi(store, { http: config.http }, { logger: silentLogger(), metrics: () => ({ ingest: { batchesOk: 1 } }) });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await store?.close();
    tmp?.cleanup();
  });

  it('GET /healthz and /metrics', async () => {
    expect(await get('/healthz')).toEqual({ status: 200, body: { status: 'ok', reasons: [] } });
    expect((await get('/metrics')).body).toEqual({ ingest: { batchesOk: 1 } });
  });

  it('GET /gateways lists id, tenant, online, lastSeen (ISO), epoch and readings stored; filters by tenant', async () => {
    const { body } = await get('/gateways');
    expect(body.items[0]).toMatchObject({ id: 'gw-1', tenant: 'ta', online: true, lastSeen: new Date(T0 + 9000).toISOString(), epoch: 1, readingsStored: 11 });
    expect(body.items[1]).toMatchObject({ id: 'gw-2', online: false, lastSeen: null });
    expect((await get('/gateways?tenant=tb')).body.items.map((g) => g.id)).toEqual(['gw-2']);
  });

  it('GET /devices and /tags return the catalog', async () => {
    const devices = (await get('/devices?gateway=gw-1')).body.items;
    expect(devices.find((d) => d.name === 'pump')).toMatchObject({ driver: 'modbus-tcp', endpoint: '127.0.0.1:502 unit 1', lastReading: new Date(T0 + 7000).toISOString() });
    const tags = (await get('/tags?gateway=gw-1')).body.items;
    expect(tags).toHaveLength(5);
    expect(tags.find((t) => t.key === 'pump/flow')).toEqual({ gateway: 'gw-1', key: 'pump/flow', tagId: 1, device: 'pump', unit: 'm3/h', dataType: 'float32', description: 'flow' });
    expect((await get('/tags?gateway=gw-2')).body.items).toEqual([]);
  });

  it('GET /latest gives value, quality {code,name,severity} and ISO time per tag, with JSON-safe values', async () => {
    const items = (await get('/latest?gateway=gw-1')).body.items;
    const by = (k: string) => items.find((i) => i.key === k)!;
    expect(by('pump/flow')).toMatchObject({ ts: new Date(T0 + 7000).toISOString(), tsMs: T0 + 7000, value: null, quality: { code: Quality.BadTimeout, name: 'BadTimeout', severity: 'bad' }, unit: 'm3/h' });
    expect(by('pump/running').value).toBe(true);
    expect(by('pump/label').value).toBe('RUN');
    expect(by('meter/energy').value).toBe('12345678901234567890');
    expect((await get('/latest')).body.items).toHaveLength(4);
  });

  it('every list pages with limit and offset: items, total and the next offset, in a stable order, and refuses bad paging', async () => {
    for (const path of ['/gateways', '/devices?gateway=gw-1', '/tags?gateway=gw-1', '/latest?gateway=gw-1']) {
      const sep = path.includes('?') ? '&' : '?';
      const all = (await get(path)).body as { items: unknown[]; total: number; next: number | null };
      expect([path, all.total, all.next]).toEqual([path, all.items.length, null]);
      expect(all.total).toBeGreaterThanOrEqual(2);
      const seen: unknown[] = [];
      let offset: number | null = 0;
      while (offset !== null) {
        const p = (await get(`${path}${sep}limit=1&offset=${offset}`)).body as { items: unknown[]; total: number; next: number | null };
        expect([path, p.items.length, p.total]).toEqual([path, 1, all.total]);
        seen.push(...p.items);
        offset = p.next;
      }
      expect(seen).toEqual(all.items);
      expect((await get(`${path}${sep}offset=${all.total}`)).body).toMatchObject({ items: [], next: null });
    }
    for (const [q, msg] of [['limit=0', /limit must be between 1 and 10000/], ['limit=10001', /limit must be between 1 and 10000/], ['offset=-1', /offset must be a non-negative integer/]] as const) {
      const r = await get(`/gateways?${q}`);
      expect([q, r.status]).toEqual([q, 400]);
      expect((r.body as unknown as { message: string }).message).toMatch(msg);
    }
  });

  it('GET /series returns raw readings by time with NaN/Infinity as strings and pages with next', async () => {
    const p1 = (await get('/series?gateway=gw-1&tag=pump/flow')).body;
    expect(p1.items.map((i) => i.value)).toEqual([0.5, 1.5, 2.5, 3.5]);
    expect(p1.items[0]).toEqual({ ts: new Date(T0).toISOString(), tsMs: T0, value: 0.5, quality: { code: 0, name: 'Good', severity: 'good' }, epoch: 1, seq: 1, historical: false });
    const p2 = (await get(`/series?gateway=gw-1&tag=pump/flow&after=${String(p1.next)}`)).body;
    expect(p2.items.map((i) => i.value)).toEqual([4.5, 'NaN', 'Infinity', null]);
    const p3 = (await get(`/series?gateway=gw-1&tag=pump/flow&after=${String(p2.next)}`)).body;
    expect(p3).toMatchObject({ items: [], next: null });
    const ranged = (await get(`/series?gateway=gw-1&tag=pump/flow&from=${new Date(T0 + 1000).toISOString()}&to=${T0 + 3000}&limit=100`)).body;
    expect(ranged.items.map((i) => i.value)).toEqual([1.5, 2.5]);
    expect(ranged.next).toBeNull();
  });

  it('answers 400 with a clear message for bad parameters and 404 for an unknown tag', async () => {
    const cases: [string, RegExp][] = [
      ['/series?tag=pump/flow', /gateway: /],
      ['/series?gateway=gw-1', /tag: /],
      ['/series?gateway=gw-1&tag=pump/flow&from=yesterday', /from must be ms since 1970 or an ISO 8601 time/],
      ['/series?gateway=gw-1&tag=pump/flow&limit=0', /limit must be between 1 and 100000/],
      ['/series?gateway=gw-1&tag=pump/flow&limit=100001', /limit must be between 1 and 100000/],
      ['/series?gateway=gw-1&tag=pump/flow&limit=ten', /limit must be a positive integer/],
      ['/series?gateway=gw-1&tag=pump/flow&from=2000&to=1000', /from must not be after to/],
      ['/series?gateway=gw-1&tag=pump/flow&after=xyz', /after must be the "next" cursor/],
      ['/series?gateway=gw-1&tag=pump/flow&form=1', /unknown parameter form/],
      ['/tags?gateway=a/b', /gateway must be a gateway or tenant id/],
      ['/latest?gateway=a&gateway=b', /gateway: /],
    ];
    for (const [url, msg] of cases) {
      const res = await get(url);
      expect(res.status, url).toBe(400);
      expect(res.body, url).toMatchObject({ error: 'bad_request', message: expect.stringMatching(msg) });
    }
    expect(await get('/series?gateway=gw-1&tag=no/such')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect((await get('/nope')).status).toBe(404);
  });
});
