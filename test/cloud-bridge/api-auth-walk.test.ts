import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../../core/logger.js';
import { apiRoutes, buildApi } from '../../cloud-bridge/api.js';
import { OPENAPI } from '../../cloud-bridge/api-docs.js';
import { cloudConfigSchema } from '../../cloud-bridge/config.js';
import { Registry } from '../../cloud-bridge/registry.js';
import { SqliteStore } from '../../cloud-bridge/store/sqlite-store.js';
import { tempDir } from '../helpers/tmp.js';
import { API_TOKENS, T0, twoTenantApiStore } from './helpers.js';

/**
 * Walks every route of the API (the OpenAPI document and what the server actually registered) ×
 * spellings of its path × methods × credentials that must not open it. Authentication is decided on
 * the route fastify matched, so a spelling either matches the route (and meets the token check) or
 * matches nothing (404): never 200, never the handler without a token.
 */

const { a: TOKEN_A, b: TOKEN_B, ops: TOKEN_OPS } = API_TOKENS;
/** Routes that need no credential, listed on purpose; anything else registered must be closed. */
const PUBLIC = ['GET /api/v1/healthz', 'GET /api/v1/openapi.json', 'GET /', 'GET /dashboard/config.json', 'GET /dashboard/:file?'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

const pct = (c: string): string => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;

/** Other spellings of a path: each character percent-encoded (upper and lower hex), case, slashes, dot segments, `;` parameters, double encoding. */
export function spellings(path: string): string[] {
  const out = new Set<string>();
  const chars = [...path];
  chars.forEach((c, i) => {
    const at = (s: string) => chars.slice(0, i).join('') + s + chars.slice(i + 1).join('');
    out.add(at(pct(c)));
    out.add(at(pct(c).toLowerCase()));
    out.add(at(`%25${pct(c).slice(1)}`)); // double encoding
    if (c === '/') {
      out.add(at('//'));
      out.add(at('/./'));
      out.add(at('/%2e/'));
      out.add(at('/x/../'));
      out.add(at('/x/%2e%2e/'));
      out.add(at('\\'));
      if (i > 0) out.add(at(';x/'));
    }
    if (/[a-z]/.test(c)) out.add(at(c.toUpperCase()));
  });
  out.add(path.toUpperCase());
  out.add(chars.map(pct).join(''));
  out.add(`${path}/`);
  out.add(`${path}//`);
  out.add(`${path};x`);
  out.add(`${path};jsessionid=1`);
  out.add(`${path}/.`);
  out.add(`${path}%00`);
  out.add(`${path}%20`);
  out.add(`/x/..${path}`);
  out.add(`/.${path}`);
  out.add(`//${path}`);
  out.add(path); // and the path itself
  return [...out];
}

describe('API authentication: every route × path spellings × methods × credentials', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let registry: Registry;
  let app: FastifyInstance;
  let alarmA = 0;
  let n = 0;
  /** Every request from its own address, so the login throttle never answers in place of the token check. */
  const send = async (method: string, url: string, token: string | null): Promise<number> => {
    n++;
    const body = method === 'POST' || method === 'PUT' || method === 'PATCH';
    const res = await app.inject({
      method: method as 'GET', url, remoteAddress: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
      headers: token ? { authorization: token.startsWith('Bearer') ? token : `Bearer ${token}` } : {},
      ...(body ? { payload: { by: 'anonymous-attacker' } } : {}),
    });
    return res.statusCode;
  };

  beforeAll(async () => {
    tmp = tempDir('jinyun-api-walk-');
    store = await twoTenantApiStore(tmp.dir);
    alarmA = (await store.insertAlarm({ tenant: 'ta', gateway: 'gw-a', source: 'mine/ch4', rule: 'ch4-high', type: 'high', severity: 'alarm', message: 'mine/ch4 = 1.2 >= 1', raisedMs: T0, value: 1.2, limit: 1 })).id;
    registry = new Registry(store, { logger: silentLogger() });
    await registry.start(0);
    const config = cloudConfigSchema.parse({ store: { type: 'sqlite', path: 'x' }, http: { auth: 'token' } });
    app = buildApi(store, { http: config.http }, { logger: silentLogger(), registry, metrics: () => ({ secret: 'cloud-wide' }) });
    await app.ready();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await registry?.stop();
    await store?.close();
    tmp?.cleanup();
  });

  it('every registered route is either in the OpenAPI document or on the public list; every public one is listed on purpose', () => {
    const documented = new Set(Object.entries(OPENAPI.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} /api/v1${p.replace(/\{(\w+)\}/g, ':$1')}`)));
    const registered = apiRoutes(app).filter((r) => r.method !== 'HEAD');
    const pub = registered.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.url}`).sort();
    expect(pub).toEqual([...PUBLIC].sort());
    for (const r of registered) {
      if (r.access === 'public') continue;
      expect(documented.has(`${r.method} ${r.url}`), `${r.method} ${r.url} is closed but undocumented`).toBe(true);
    }
    for (const d of documented) expect(registered.some((r) => `${r.method} ${r.url}` === d), `${d} is documented but not served`).toBe(true);
    expect(registered.find((r) => r.url === '/api/v1/metrics')?.access).toBe('platform');
  });

  it('no spelling of a closed route answers 200 (or reaches its handler) without the right token', async () => {
    /** A request of each closed route naming tenant ta's resources. */
    const target: Record<string, string> = {
      '/gateways': '?tenant=ta', '/devices': '?gateway=gw-a', '/tags': '?gateway=gw-a', '/latest': '?gateway=gw-a',
      '/series': '?gateway=gw-a&tag=pump/flow', '/aggregate': `?gateway=gw-a&tag=pump/flow&from=${T0}&to=${T0 + 60_000}&bucket=1000`,
      '/export.csv': `?gateway=gw-a&tag=pump/flow&from=${T0}&to=${T0 + 60_000}`, '/alarms': '?gateway=gw-a&state=all', '/events': '', '/metrics': '',
      '/alarms/{id}/ack': '',
    };
    const closed = Object.entries(OPENAPI.paths).flatMap(([p, ops]) => Object.entries(ops)
      .filter(([, op]) => { const sec = (op as { security?: unknown[] }).security; return !Array.isArray(sec) || sec.length > 0; })
      .map(([m]) => ({ method: m.toUpperCase(), path: `/api/v1${p.replace('{id}', String(alarmA))}`, query: target[p] ?? '', platform: p === '/metrics', tenantData: p !== '/events' })));
    expect(closed.map((c) => c.path.replace('/api/v1', '')).sort()).toEqual(['/aggregate', '/alarms', `/alarms/${alarmA}/ack`, '/devices', '/events', '/export.csv', '/gateways', '/latest', '/metrics', '/series', '/tags']);
    const seen = new Map<number, number>();
    const bad: string[] = [];
    let matched = 0;
    for (const c of closed) {
      for (const spelled of spellings(c.path)) {
        for (const method of METHODS) {
          const url = spelled + c.query;
          const none = await send(method, url, null);
          const garbled = await send(method, url, 'Bearer !!not-a-token!!');
          const creds: [string, number][] = [['no token', none], ['garbled token', garbled]];
          // Another tenant's valid token on a route naming ta's resources, a platform token on a tenant route, a tenant token on the platform route.
          if (c.tenantData) creds.push(['tenant tb token', await send(method, url, TOKEN_B)]);
          creds.push(c.platform ? ['tenant ta token', await send(method, url, TOKEN_A)] : ['platform token', await send(method, url, TOKEN_OPS)]);
          if (none === 401 && method === c.method) {
            // The spelling reached the route: a right token id with a wrong secret is a failed check too.
            matched++;
            creds.push(['wrong secret', await send(method, url, 'tok-a.wrong-secret-of-tenant-a')]);
          }
          for (const [who, status] of creds) {
            seen.set(status, (seen.get(status) ?? 0) + 1);
            // 400 means a handler parsed the request: only for a valid token of a tenant, on a parameter naming nothing of its own.
            if (![401, 403, 404].includes(status) && !(status === 400 && who === 'tenant tb token')) bad.push(`${method} ${url} with ${who}: ${status}`);
          }
        }
      }
    }
    expect(bad).toEqual([]);
    // The walk did reach the routes through other spellings (fastify decodes %XX in the path), and the alarm of ta is untouched.
    expect(matched).toBeGreaterThan(closed.length * 10);
    expect([...seen.keys()].filter((s) => s !== 400).sort()).toEqual([401, 403, 404]);
    const alarm = (await store.alarms({ tenant: 'ta', limit: 10 })).find((a) => a.id === alarmA);
    expect(alarm?.ackBy ?? null).toBeNull();
  }, 300_000);

  it('the reported spellings themselves: /%61pi/v1/gateways and POST /%61pi/v1/alarms/<id>/ack need a token', async () => {
    expect(await send('GET', '/%61pi/v1/gateways', null)).toBe(401);
    expect(await send('GET', '/ap%69/v1/devices', null)).toBe(401);
    expect(await send('GET', '/%61pi/v1/alarms?state=all', null)).toBe(401);
    expect(await send('POST', `/%61pi/v1/alarms/${alarmA}/ack`, null)).toBe(401);
    expect(await send('POST', `/%61pi/v1/alarms/${alarmA}/ack`, TOKEN_B)).toBe(404);
    expect(await send('GET', '/%61pi/v1/gateways', TOKEN_A)).toBe(200);
  });

  it('public routes answer without a token', async () => {
    expect(await send('GET', '/api/v1/healthz', null)).toBe(200);
    expect(await send('GET', '/api/v1/openapi.json', null)).toBe(200);
    expect(await send('GET', '/dashboard/config.json', null)).toBe(200);
  });
});
