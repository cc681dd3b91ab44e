import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';
import { ID_PATTERN } from '../core/topics.js';
import { apiAuthOf, type CloudConfig } from './config.js';
import type { CloudStore, TagRow } from './store/reading-store.js';
import type { Registry } from './registry.js';
import { installAuth, type Access, type RequestScope } from './api-auth.js';
import type { PasswordChecker } from './password-checker.js';
import type { CloudHealthReport } from './health.js';
import type { AlarmEngine } from './alarms/engine.js';
import { registerAnalytics } from './api-analytics.js';
import { registerDocs } from './api-docs.js';
import { registerEvents } from './api-events.js';
import { registerDashboard } from './dashboard/serve.js';
import { BadRequestError, encodeCursor, iso, jsonValue, parseCursor, parseQuery, parseTime, qualityJson } from './api-format.js';

export interface ApiContext {
  logger: Logger;
  /** Counters exposed under /metrics. */
  metrics?: () => unknown;
  /** Needed for http.auth: token (tokens) and tenant scoping. */
  registry?: Registry;
  /** Alarm acknowledgements go through the engine (published on MQTT, live on the dashboard). */
  alarms?: AlarmEngine;
  /** The clock of the login throttle (tests move it by hand). */
  now?: () => number;
  /** A gateway clock further off the cloud's than this is flagged (ingest.clockSkewAlarmMs). */
  clockToleranceMs?: number;
  /** The bridge's health (health.ts); without it /healthz only pings the store. */
  health?: () => CloudHealthReport;
  /** Token secrets are checked through it (shared with the broker's logins: one bounded scrypt pool). */
  passwords?: PasswordChecker;
}

const idParam = (what: string) => z.string().regex(ID_PATTERN, `${what} must be a gateway or tenant id`);
/** Every list takes limit (default 1000, at most 10 000) and offset. */
const page = {
  limit: z.string().regex(/^\d{1,5}$/, 'limit must be a positive integer').transform(Number).refine((n) => n >= 1 && n <= 10_000, 'limit must be between 1 and 10000').default(1000),
  offset: z.string().regex(/^\d{1,9}$/, 'offset must be a non-negative integer').transform(Number).default(0),
};
const byGateway = z.strictObject({ gateway: idParam('gateway').optional(), ...page });
const byTenant = z.strictObject({ tenant: idParam('tenant').optional(), ...page });
/** One page of a list: items and the offset of the next page (null at the end). */
function paged<T, U>(rows: T[], q: { limit: number; offset: number }, map: (r: T) => U): { items: U[]; total: number; next: number | null } {
  const end = q.offset + q.limit;
  return { items: rows.slice(q.offset, end).map(map), total: rows.length, next: end < rows.length ? end : null };
}

const tagJson = (t: TagRow) => ({ gateway: t.gateway, key: t.key, tagId: t.tagId, device: t.device, unit: t.unit, dataType: t.dataType, description: t.description });

export interface ApiRoute { method: string; url: string; access: Access }
const ROUTES = new WeakMap<FastifyInstance, ApiRoute[]>();

/** Every route of an API built by buildApi, with the access it declares (tests walk them all). */
export function apiRoutes(app: FastifyInstance): readonly ApiRoute[] {
  return ROUTES.get(app) ?? [];
}

/** The HTTP API under /api/v1 (JSON). Read-only; values as JSON numbers, booleans and strings (NaN, ±Infinity and 64-bit integers as strings). */
export function buildApi(store: CloudStore, opts: { http: CloudConfig['http'] }, ctx: ApiContext): FastifyInstance {
  const log = ctx.logger.child({ component: 'api' });
  // forceCloseConnections: close() must not wait for event streams or for sockets a browser opened ahead without a request.
  const common = { loggerInstance: log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), forceCloseConnections: true };
  const tls = opts.http.tls;
  const app = tls
    ? Fastify({ ...common, https: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), minVersion: 'TLSv1.2' } }) as unknown as FastifyInstance
    : Fastify(common);
  const routes: ApiRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, access: r.config?.access ?? 'tenant' });
  });
  ROUTES.set(app, routes);
  const seriesQuery = z.strictObject({
    gateway: idParam('gateway'),
    tag: z.string().min(1, 'tag must be a tag key such as "device/tag"').max(256),
    from: z.string().optional(),
    to: z.string().optional(),
    limit: z.string().regex(/^\d{1,7}$/, 'limit must be a positive integer').optional()
      .transform((s) => (s === undefined ? opts.http.defaultLimit : Number(s)))
      .refine((n) => n >= 1 && n <= opts.http.maxLimit, `limit must be between 1 and ${opts.http.maxLimit}`),
    after: z.string().optional(),
  });

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof BadRequestError) return reply.code(400).send({ error: 'bad_request', message: err.message });
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return reply.code(status).send({ error: status === 403 ? 'forbidden' : 'bad_request', message: errorMessage(err) });
    log.error({ err: errorMessage(err) }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error; see the cloud bridge log' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` }));

  // Every route is authenticated unless it declares `access: 'public'` (api-auth.ts), on the route fastify matched.
  const scopeOf: (req: FastifyRequest) => RequestScope = installAuth(app, apiAuthOf(opts.http), ctx.registry, opts.http, log, ctx.now, ctx.passwords);
  /** With a token, a request sees its own tenant's gateways only. */
  const visible = (req: FastifyRequest, gateway: string): boolean => {
    const scope = scopeOf(req);
    return !scope || ctx.registry?.gateway(gateway)?.tenant === scope.tenant;
  };
  const checkGateway = (req: FastifyRequest, gateway: string | undefined): void => {
    if (gateway !== undefined && !visible(req, gateway)) throw Object.assign(new Error(`gateway "${gateway}" is not in your tenant`), { statusCode: 403 });
  };

  void app.register(async (api) => {
    // The bridge's job, not only its process: 503 with the reasons while the store cannot be read or written, the broker does not accept gateways or the ingest is saturated (health.ts).
    api.get('/healthz', { config: { access: 'public' } }, async (_req, reply) => {
      if (ctx.health) {
        const h = ctx.health();
        return reply.code(h.status === 'ok' ? 200 : 503).send({ status: h.status, reasons: h.reasons });
      }
      try {
        await store.ping();
        return { status: 'ok', reasons: [] };
      } catch (err) {
        return reply.code(503).send({ status: 'error', reasons: [{ code: 'store_unreachable', detail: errorMessage(err) }] });
      }
    });

    // Cloud-wide counters (every tenant): a platform token, never a tenant token nor "any loopback client" (a reverse proxy on the host is loopback too).
    api.get('/metrics', { config: { access: 'platform' } }, async () => ctx.metrics?.() ?? {});

    api.get('/gateways', async (req) => {
      const q = parseQuery(byTenant, req.query);
      const scope = scopeOf(req);
      if (scope && q.tenant !== undefined && q.tenant !== scope.tenant) throw Object.assign(new Error(`tenant "${q.tenant}" is not yours`), { statusCode: 403 });
      const rows = await store.gateways({ tenant: scope?.tenant ?? q.tenant });
      return paged(rows, q, (g) => ({
        id: g.id, tenant: g.tenant, online: g.online, lastSeen: iso(g.lastSeenMs), epoch: g.epoch, producerId: g.producerId,
        readingsStored: g.readingsStored, health: g.health, healthAt: iso(g.healthMs),
        // The gateway's clock against the cloud's at its last batch; ok within ingest.clockSkewAlarmMs.
        clock: { skewMs: g.clockSkewMs, ok: g.clockSkewMs === null || Math.abs(g.clockSkewMs) <= (ctx.clockToleranceMs ?? 60_000) },
      }));
    });

    api.get('/devices', async (req) => {
      const q = parseQuery(byGateway, req.query);
      checkGateway(req, q.gateway);
      const rows = (await store.devices({ gateway: q.gateway })).filter((d) => visible(req, d.gateway));
      return paged(rows, q, (d) => ({ gateway: d.gateway, name: d.name, driver: d.driver, endpoint: d.endpoint, lastReading: iso(d.lastReadingMs) }));
    });

    api.get('/tags', async (req) => {
      const q = parseQuery(byGateway, req.query);
      checkGateway(req, q.gateway);
      return paged((await store.tags({ gateway: q.gateway })).filter((t) => visible(req, t.gateway)), q, tagJson);
    });

    api.get('/latest', async (req) => {
      const q = parseQuery(byGateway, req.query);
      checkGateway(req, q.gateway);
      const rows = (await store.latest({ gateway: q.gateway })).filter((r) => visible(req, r.gateway));
      // Source time and receive time side by side: a wrong edge clock shows as a gap between them.
      return paged(rows, q, (r) => ({ ...tagJson(r), ts: iso(r.ts), tsMs: r.ts, received: r.receivedMs > 0 ? iso(r.receivedMs) : null, receivedMs: r.receivedMs > 0 ? r.receivedMs : null,
        value: jsonValue(r.value), quality: qualityJson(r.quality) }));
    });

    api.get('/series', async (req, reply) => {
      const q = parseQuery(seriesQuery, req.query);
      checkGateway(req, q.gateway);
      const fromMs = parseTime('from', q.from);
      const toMs = parseTime('to', q.to);
      if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) throw new BadRequestError('from must not be after to');
      const res = await store.query({ gateway: q.gateway, key: q.tag, fromMs, toMs, limit: q.limit, after: parseCursor(q.after) });
      if (!res) return reply.code(404).send({ error: 'not_found', message: `gateway "${q.gateway}" has no tag "${q.tag}" (see /tags?gateway=${q.gateway})` });
      const last = res.readings[res.readings.length - 1];
      return {
        tag: tagJson(res.tag),
        from: iso(fromMs), to: iso(toMs), limit: q.limit,
        items: res.readings.map((r) => ({ ts: iso(r.ts), tsMs: r.ts, value: jsonValue(r.value), quality: qualityJson(r.quality), epoch: r.epoch, seq: r.seq, historical: r.historical })),
        next: last && res.readings.length === q.limit ? encodeCursor(last.ts, last.id) : null,
      };
    });

    registerAnalytics(api, { store, alarms: ctx.alarms, scopeOf, checkGateway });
    registerDocs(api);
    registerEvents(api, { alarms: ctx.alarms, scopeOf });
  }, { prefix: '/api/v1' });
  registerDashboard(app, { auth: apiAuthOf(opts.http) });
  return app;
}
