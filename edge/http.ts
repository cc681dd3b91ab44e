import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';
import type { EdgeMonitor, EdgeSnapshot, Assessment } from './monitor.js';

/** Ports tried from http.port upwards when it is taken. */
export const PORT_SEARCH = 16;

export interface EdgeHttpOptions {
  host: string;
  /** 0 picks a free port; a taken one moves to the next free port up (at most PORT_SEARCH tried); the actual one is in the result. */
  port: number;
  gateway: string;
  monitor: EdgeMonitor;
  registry: Registry;
  logger: Logger;
}

export interface EdgeHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/** The /healthz body: the assessment plus the few facts an operator looks at first. */
export function healthzBody(gateway: string, s: EdgeSnapshot, a: Assessment): Record<string, unknown> {
  return {
    status: a.status, gateway, reasons: a.reasons, timeMs: s.timeMs, uptimeS: s.uptimeS,
    link: { connected: s.link.connected, connects: s.link.connects, disconnects: s.link.disconnects, lastError: s.link.lastError },
    spool: s.spool ? { depth: s.spool.depth, oldestUnsentAgeMs: s.spool.oldestTs == null ? 0 : Math.max(0, s.timeMs - s.spool.oldestTs), dropped: s.spool.dropped, quarantined: s.spool.quarantined, fileBytes: s.spoolFileBytes } : null,
    disk: s.disk, clock: s.clock,
    devices: s.devices.map((d) => ({ name: d.name, state: d.health.state, lastGoodMs: d.health.lastGoodMs, consecutiveErrors: d.health.consecutiveErrors, lastError: d.health.lastError })),
  };
}

/**
 * The edge's local HTTP endpoint (read-only, no body accepted):
 *   GET /healthz   JSON assessment; 200 when ok or degraded (the agent keeps data), 503 when error
 *                  (data is lost or at risk). With ?strict, degraded is 503 as well.
 *   GET /metrics   Prometheus text format.
 * Binds to 127.0.0.1 by default: the OT zone allows no inbound listeners.
 */
export async function startEdgeHttp(o: EdgeHttpOptions): Promise<EdgeHttpServer> {
  const log = o.logger.child({ component: 'http' });
  const server = createServer((req, res) => {
    handle(o, req, res).catch((err) => {
      log.warn({ err: errorMessage(err), url: req.url }, 'http request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  server.maxRequestsPerSocket = 100;
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Two agents on one host both default to 9464: the second takes the next free port up, and says so.
  const tries = o.port === 0 ? 1 : Math.min(PORT_SEARCH, 65536 - o.port);
  for (let i = 0; ; i++) {
    try {
      await listen(o.port + i);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      if (i + 1 >= tries) throw new Error(`ports ${o.port}..${o.port + i} on ${o.host} are all in use (http.port)`, { cause: err });
    }
  }
  const port = (server.address() as AddressInfo).port;
  if (o.port !== 0 && port !== o.port) {
    log.warn({ host: o.host, port, configuredPort: o.port }, `http.port ${o.port} is in use (another agent on this host?): /healthz and /metrics are on port ${port} instead; set http.port to pin it`);
  } else log.info({ host: o.host, port }, 'http endpoint listening (/healthz, /metrics)');
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function handle(o: EdgeHttpOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://edge.invalid');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  if (url.pathname === '/healthz') {
    const s = await o.monitor.snapshot();
    const a = o.monitor.assess(s);
    const failing = a.status === 'error' || (a.status === 'degraded' && url.searchParams.has('strict'));
    return send(res, failing ? 503 : 200, 'application/json', `${JSON.stringify(healthzBody(o.gateway, s, a))}\n`);
  }
  if (url.pathname === '/metrics') return send(res, 200, o.registry.contentType, await o.registry.metrics());
  send(res, 404, 'text/plain; charset=utf-8', 'not found; try /healthz or /metrics\n');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
