import type { FastifyInstance } from 'fastify';

type Param = [name: string, where: 'query' | 'path', required: boolean, description: string, schema?: Record<string, unknown>];

const str = { type: 'string' };
const int = { type: 'integer', minimum: 0 };
const params = (list: Param[]) => list.map(([name, where, required, description, schema]) => ({ name, in: where, required, description, schema: schema ?? str }));
const PAGE: Param[] = [['limit', 'query', false, 'Items per page, 1-10000 (default 1000).', int], ['offset', 'query', false, 'Items to skip (the previous page\'s `next`).', int]];
const RANGE: Param[] = [['gateway', 'query', true, 'Gateway id.'], ['tag', 'query', true, 'Tag key, "device/tag".'],
  ['from', 'query', true, 'Start (inclusive): ms since 1970 or ISO 8601.'], ['to', 'query', true, 'End (exclusive): ms since 1970 or ISO 8601.']];
const errors = {
  400: { description: 'Bad parameter: `{ error: "bad_request", message }` naming the parameter and what is expected.' },
  401: { description: 'Missing or invalid bearer token.' },
  403: { description: 'The gateway or tenant belongs to another tenant, or the token is of the wrong kind (tenant vs platform).' },
  429: { description: 'Too many failed logins for this token from this address: retry after `retry-after` seconds.' },
};
const op = (summary: string, p: Param[], ok: string, extra: Record<string, unknown> = {}) => ({ summary, parameters: params(p), responses: { 200: { description: ok }, ...errors }, ...extra });

/** The OpenAPI 3.0 description of /api/v1, served at /api/v1/openapi.json (no token needed). */
export const OPENAPI = {
  openapi: '3.0.3',
  info: { title: 'Jinyun cloud bridge API', version: '1', description: 'Read-only analytics over the stored readings, plus alarm acknowledgement. With http.auth: token every route needs `Authorization: Bearer <id>.<secret>` (`jinyun admin token create`) unless its `security` is empty here (healthz, openapi.json), and a tenant token sees its own tenant only. Values are JSON numbers, booleans or strings; NaN, ±Infinity and 64-bit integers travel as strings.' },
  servers: [{ url: '/api/v1' }],
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/healthz': { get: op('The bridge can do its job (no token needed): store readable and writable, broker accepting gateways, ingest not saturated.', [], '`{ status: "ok", reasons: [] }`; 503 with `{ status: "error", reasons: [{ code, detail }] }`, code one of store_unreachable, store_unwritable, broker_down, ingest_saturated.', { security: [] }) },
    '/metrics': { get: op('Ingest, broker and alarm counters of the whole cloud: needs a platform token (`jinyun admin token create --platform`); a tenant token gets 403.', [], 'Counters as JSON.', { 'x-access': 'platform' }) },
    '/gateways': { get: op('Gateways with online state, last seen, backlog and drops (health).', [['tenant', 'query', false, 'Tenant id (your own with a token).'], ...PAGE], '`{ items, total, next }`.') },
    '/devices': { get: op('Devices with last reading time.', [['gateway', 'query', false, 'Gateway id.'], ...PAGE], '`{ items, total, next }`.') },
    '/tags': { get: op('Tags (series) of the catalogs.', [['gateway', 'query', false, 'Gateway id.'], ...PAGE], '`{ items, total, next }`.') },
    '/latest': { get: op('Latest value, quality and time per tag.', [['gateway', 'query', false, 'Gateway id.'], ...PAGE], '`{ items, total, next }`.') },
    '/series': { get: op('Raw readings of one tag over a range, ordered by time; keyset pages.', [['gateway', 'query', true, 'Gateway id.'], ['tag', 'query', true, 'Tag key.'],
      ['from', 'query', false, 'Start (inclusive).'], ['to', 'query', false, 'End (exclusive).'], ['limit', 'query', false, 'Rows per page (http.defaultLimit, at most http.maxLimit).', int],
      ['after', 'query', false, 'The previous page\'s `next` cursor.']], '`{ tag, items: [{ ts, tsMs, value, quality, epoch, seq, historical }], next }`; 404 for an unknown tag.') },
    '/aggregate': { get: op('Aggregated series computed by the store: min, max, avg, first, last and count per time bucket (buckets aligned on multiples of the bucket since 1970 UTC; empty buckets are absent; bad-quality and non-numeric readings excluded).',
      [...RANGE, ['bucket', 'query', true, 'Bucket width in ms, 1000 (1 s) to 86400000 (1 day); at most 100 000 buckets per request.', int]], '`{ tag, bucketMs, items: [{ ts, tsMs, count, min, max, avg, first, last }] }`; 404 for an unknown tag.') },
    '/export.csv': { get: op('CSV export of the raw readings of one tag, streamed (any length, bounded memory).', RANGE, '`text/csv`: ts,ts_ms,value,quality,epoch,seq,historical.') },
    '/alarms': { get: op('Alarms, newest first.', [['state', 'query', false, 'active, cleared or all (default).', { type: 'string', enum: ['active', 'cleared', 'all'] }], ['gateway', 'query', false, 'Gateway id.'],
      ['limit', 'query', false, '1-1000 (default 100).', int], ['before', 'query', false, 'The previous page\'s `next` (an alarm id).', int]], '`{ items: [alarm], next }`.') },
    '/openapi.json': { get: op('This document (no token needed).', [], 'OpenAPI 3.0 JSON.', { security: [] }) },
    '/events': { get: op('Server-sent events (text/event-stream) of alarm changes of your tenant: `event: alarm`, data `{ event: raised|cleared|acknowledged, alarm }`.', [], 'An open event stream.') },
    '/alarms/{id}/ack': { post: op('Acknowledge an alarm (who and when are stored; the first acknowledgement stays).', [['id', 'path', true, 'Alarm id.', int]], 'The alarm.', {
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['by'], properties: { by: { type: 'string', maxLength: 128 } } } } } },
    }) },
  },
};

export function registerDocs(api: FastifyInstance): void {
  api.get('/openapi.json', { config: { access: 'public' } }, async () => OPENAPI);
}
