import type { FastifyInstance } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The static files: beside this module in the sources, or found from dist/ up to the repository. */
function staticDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    for (const c of [join(dir, 'static'), join(dir, 'cloud-bridge', 'dashboard', 'static')]) if (existsSync(join(c, 'index.html'))) return c;
    dir = dirname(dir);
  }
  throw new Error('dashboard static files not found (cloud-bridge/dashboard/static)');
}

interface Asset { type: string; body: Buffer }

function loadAssets(): Map<string, Asset> {
  const dir = staticDir();
  const req = createRequire(import.meta.url);
  const uplot = dirname(req.resolve('uplot/dist/uPlot.iife.min.js'));
  const files: [string, string, string][] = [
    ['index.html', join(dir, 'index.html'), 'text/html; charset=utf-8'],
    ['app.js', join(dir, 'app.js'), 'text/javascript; charset=utf-8'],
    ['app.css', join(dir, 'app.css'), 'text/css; charset=utf-8'],
    ['uplot.js', join(uplot, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    ['uplot.css', join(uplot, 'uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  return new Map(files.map(([name, file, type]) => [name, { type, body: readFileSync(file) }]));
}

/**
 * Sent with every dashboard file: scripts, styles and API calls from this origin only (no inline
 * script or style, so an injected string in a tag name or alarm message cannot run), never framed.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/**
 * The maintenance dashboard at /dashboard/: static HTML, JS and CSS (uPlot for the trends) read
 * once at start. It calls /api/v1 with the token the user logs in with; nothing is rendered on the
 * server, so the dashboard sees exactly what the API lets the token see.
 */
export function registerDashboard(app: FastifyInstance, opts: { auth: 'none' | 'token' }): void {
  const assets = loadAssets();
  // Static files, readable without a token (the dashboard asks for one and sends it to /api/v1).
  const config = { access: 'public' } as const;
  app.get('/', { config }, async (_req, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard/config.json', { config }, async () => ({ auth: opts.auth }));
  app.get<{ Params: { file?: string } }>('/dashboard/:file?', { config }, async (req, reply) => {
    const a = assets.get(req.params.file || 'index.html');
    if (!a) return reply.code(404).send({ error: 'not_found', message: `no dashboard file ${req.params.file ?? ''}` });
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) void reply.header(k, v);
    return reply.header('content-type', a.type).header('cache-control', 'no-cache').send(a.body);
  });
}
