import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AlarmEngine } from './alarms/engine.js';
import { alarmJson } from './alarms/alarm-json.js';
import type { RequestScope } from './api-auth.js';

/** Comment line sent this often so proxies and the browser keep an idle stream open. */
const PING_MS = 15_000;

/**
 * GET /events: server-sent events (text/event-stream) of alarm changes, `event: alarm` with
 * `{ event: raised|cleared|acknowledged, alarm }`, filtered to the token's tenant. The dashboard
 * reads it with fetch (EventSource cannot send the bearer token) and refreshes at once. The API
 * closes every connection when it stops (forceCloseConnections), streams included.
 */
export function registerEvents(api: FastifyInstance, d: { alarms?: AlarmEngine; scopeOf: (req: FastifyRequest) => RequestScope }): void {
  api.get('/events', async (req, reply) => {
    const alarms = d.alarms;
    if (!alarms) return reply.code(404).send({ error: 'not_found', message: 'no alarm engine in this process' });
    const tenant = d.scopeOf(req)?.tenant;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    const off = alarms.onEvent((event, a) => {
      if (tenant === undefined || a.tenant === tenant) res.write(`event: alarm\ndata: ${JSON.stringify({ event, alarm: alarmJson(a) })}\n\n`);
    });
    const ping = setInterval(() => res.write(': ping\n\n'), PING_MS);
    ping.unref();
    res.on('close', () => {
      off();
      clearInterval(ping);
    });
  });
}
