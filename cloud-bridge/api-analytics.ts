import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { ID_PATTERN } from '../core/topics.js';
import type { CloudStore, StoredReading } from './store/reading-store.js';
import type { AlarmEngine } from './alarms/engine.js';
import { alarmJson } from './alarms/alarm-json.js';
import { BadRequestError, iso, jsonValue, parseQuery, parseTime } from './api-format.js';
import type { RequestScope } from './api-auth.js';

export interface AnalyticsDeps {
  store: CloudStore;
  alarms?: AlarmEngine;
  scopeOf: (req: FastifyRequest) => RequestScope;
  checkGateway: (req: FastifyRequest, gateway: string | undefined) => void;
}

const gateway = z.string().regex(ID_PATTERN, 'gateway must be a gateway id');
const tag = z.string().min(1, 'tag must be a tag key such as "device/tag"').max(256);
const intParam = (name: string, min: number, max: number) => z.string().regex(/^\d{1,16}$/, `${name} must be a positive integer`).transform(Number)
  .refine((n) => n >= min && n <= max, `${name} must be between ${min} and ${max}`);

export const MIN_BUCKET_MS = 1000;
export const MAX_BUCKET_MS = 86_400_000;
/** Most buckets one /aggregate request may produce. */
export const MAX_BUCKETS = 100_000;
/** Rows per store page while streaming a CSV export: what memory holds at once. */
export const EXPORT_PAGE_ROWS = 5000;

/** A required [from, to) range; from < to. */
function range(q: { from?: string; to?: string }): { fromMs: number; toMs: number } {
  const fromMs = parseTime('from', q.from);
  const toMs = parseTime('to', q.to);
  if (fromMs === undefined || toMs === undefined) throw new BadRequestError('from and to are required');
  if (fromMs >= toMs) throw new BadRequestError('from must be before to');
  return { fromMs, toMs };
}

const csvCell = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** /aggregate, /export.csv and /alarms: analytics over the store and the alarm list. */
export function registerAnalytics(api: FastifyInstance, d: AnalyticsDeps): void {
  registerSeries(api, d);
  registerAlarms(api, d);
}

function registerSeries(api: FastifyInstance, d: AnalyticsDeps): void {
  const aggQuery = z.strictObject({ gateway, tag, from: z.string().optional(), to: z.string().optional(), bucket: intParam('bucket', MIN_BUCKET_MS, MAX_BUCKET_MS).optional() });
  api.get('/aggregate', async (req, reply) => {
    const q = parseQuery(aggQuery, req.query);
    d.checkGateway(req, q.gateway);
    const { fromMs, toMs } = range(q);
    if (q.bucket === undefined) throw new BadRequestError(`bucket is required (ms, ${MIN_BUCKET_MS} to ${MAX_BUCKET_MS})`);
    const buckets = Math.ceil((toMs - fromMs) / q.bucket);
    if (buckets > MAX_BUCKETS) throw new BadRequestError(`the range holds ${buckets} buckets of ${q.bucket} ms; at most ${MAX_BUCKETS}: use a larger bucket or a shorter range`);
    const res = await d.store.aggregate({ gateway: q.gateway, key: q.tag, fromMs, toMs, bucketMs: q.bucket });
    if (!res) return reply.code(404).send({ error: 'not_found', message: `gateway "${q.gateway}" has no tag "${q.tag}"` });
    return {
      tag: { gateway: res.tag.gateway, key: res.tag.key, unit: res.tag.unit }, from: iso(fromMs), to: iso(toMs), bucketMs: q.bucket,
      items: res.buckets.map((b) => ({ ts: iso(b.ts), tsMs: b.ts, count: b.count, min: jsonValue(b.min), max: jsonValue(b.max), avg: jsonValue(b.avg), first: jsonValue(b.first), last: jsonValue(b.last) })),
    };
  });

  const exportQuery = z.strictObject({ gateway, tag, from: z.string().optional(), to: z.string().optional() });
  api.get('/export.csv', async (req, reply) => {
    const q = parseQuery(exportQuery, req.query);
    d.checkGateway(req, q.gateway);
    const { fromMs, toMs } = range(q);
    const first = await d.store.query({ gateway: q.gateway, key: q.tag, fromMs, toMs, limit: EXPORT_PAGE_ROWS });
    if (!first) return reply.code(404).send({ error: 'not_found', message: `gateway "${q.gateway}" has no tag "${q.tag}"` });
    return sendCsv(reply, d.store, { gateway: q.gateway, key: q.tag, fromMs, toMs }, first.readings);
  });

}

function registerAlarms(api: FastifyInstance, d: AnalyticsDeps): void {
  const alarmQuery = z.strictObject({
    state: z.enum(['active', 'cleared', 'all']).default('all'), gateway: gateway.optional(),
    limit: intParam('limit', 1, 1000).default(100), before: intParam('before', 1, Number.MAX_SAFE_INTEGER).optional(),
  });
  api.get('/alarms', async (req) => {
    const q = parseQuery(alarmQuery, req.query);
    d.checkGateway(req, q.gateway);
    const active = q.state === 'all' ? undefined : q.state === 'active';
    const rows = await d.store.alarms({ tenant: d.scopeOf(req)?.tenant, gateway: q.gateway, active, limit: q.limit, beforeId: q.before });
    const last = rows[rows.length - 1];
    return { items: rows.map(alarmJson), next: last && rows.length === q.limit ? String(last.id) : null };
  });

  const ackBody = z.strictObject({ by: z.string().trim().min(1, 'by must name who acknowledges').max(128) });
  api.post('/alarms/:id/ack', async (req, reply) => {
    const id = parseQuery(z.strictObject({ id: intParam('alarm id', 1, Number.MAX_SAFE_INTEGER) }), req.params).id;
    const body = parseQuery(ackBody, req.body ?? {});
    const scope = d.scopeOf(req);
    const tenant = scope?.tenant;
    // The name is the person's; the token proves who let them in: "li.wei via tok-1a2b" (just the token id when they are the same).
    const by = scope && body.by !== scope.tokenId ? `${body.by} via ${scope.tokenId}` : body.by;
    const rec = d.alarms ? await d.alarms.ack(id, by, tenant) : await d.store.ackAlarm(id, by, Date.now(), tenant);
    if (!rec) return reply.code(404).send({ error: 'not_found', message: `no alarm ${id}` });
    return alarmJson(rec);
  });
}

/** Streams the header, then page after page (keyset on ts, id); one page of rows in memory at a time, read() only when the client takes more. */
function sendCsv(reply: FastifyReply, store: CloudStore, q: { gateway: string; key: string; fromMs: number; toMs: number }, firstPage: StoredReading[]): FastifyReply {
  let page: StoredReading[] | null = firstPage;
  let header = 'ts,ts_ms,value,quality,epoch,seq,historical\n';
  const stream = new Readable({
    read() {
      if (page === null) {
        this.push(null);
        return;
      }
      const rows = page;
      const lines: string[] = [header];
      header = '';
      for (const r of rows) lines.push(`${new Date(r.ts).toISOString()},${r.ts},${csvCell(String(jsonValue(r.value) ?? ''))},${r.quality >>> 0},${r.epoch},${r.seq},${r.historical ? 1 : 0}\n`);
      const last = rows[rows.length - 1];
      if (!last || rows.length < EXPORT_PAGE_ROWS) {
        page = null;
        const text = lines.join('');
        this.push(text === '' ? null : text);
        return;
      }
      store.query({ ...q, limit: EXPORT_PAGE_ROWS, after: { ts: last.ts, id: last.id } }).then((next) => {
        page = next?.readings ?? [];
        this.push(lines.join(''));
      }, (err: unknown) => this.destroy(err as Error));
    },
  });
  const file = `${q.gateway}_${q.key.replace(/[^A-Za-z0-9_.-]/g, '_')}.csv`;
  return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${file}"`).send(stream);
}
