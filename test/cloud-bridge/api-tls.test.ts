import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { spawnJinyun, stopChild, type Child } from '../../cli/process.js';
import { tempDir } from '../helpers/tmp.js';
import { makePki, type Pki } from '../helpers/tls-certs.js';

function get(url: string, opts: { ca?: string; token?: string } = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
    ca: opts.ca ? readFileSync(opts.ca) : undefined,
    headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
  });
  return new Promise((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/**
 * The API and dashboard over HTTPS (http.tls), in a real cloud bridge process: the printed API URL
 * is https, a client that trusts the CA gets its answers (token auth on), one that does not is
 * refused by its own TLS check, and plain HTTP on the port gets no API answer.
 */
describe('cloud bridge HTTP API over TLS', () => {
  const tmp = tempDir('jinyun-api-tls-');
  let pki: Pki;
  let cloud: Child;
  let api = '';
  let token = '';

  beforeAll(async () => {
    pki = makePki(tmp.dir);
    const file = join(tmp.dir, 'cloud.yaml');
    writeFileSync(file, [
      'mqtt:', '  host: 127.0.0.1', '  port: 0',
      'http:', '  host: 127.0.0.1', '  port: 0', '  auth: token', `  tls: { certFile: ${pki.server.cert}, keyFile: ${pki.server.key} }`,
      'store:', '  type: sqlite', `  path: ${join(tmp.dir, 'cloud.db')}`, '',
    ].join('\n'));
    const admin = async (...args: string[]): Promise<string> => {
      let out = '';
      const child = spawnJinyun(['admin', '--config', file, ...args], { onLine: (l) => { out += `${l}\n`; } });
      await new Promise((r) => child.proc.once('close', r));
      return out;
    };
    await admin('tenant', 'add', 'tenant-a');
    const line = (await admin('token', 'create', '--tenant', 'tenant-a')).split('\n').find((l) => l.startsWith('{"tenant"')) ?? '{}';
    token = (JSON.parse(line) as { token?: string }).token ?? '';
    expect(token).toMatch(/^tok-[0-9a-f]+\./);
    cloud = spawnJinyun(['cloud', '--config', file], { env: { JINYUN_LOG_LEVEL: 'warn' } });
    api = String((await cloud.waitFor('listening', 30_000)).api);
  }, 60_000);

  afterAll(async () => {
    if (cloud) await stopChild(cloud);
    tmp.cleanup();
  });

  it('prints an https URL and answers a client that trusts the CA, with the token', async () => {
    expect(api).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/api\/v1$/);
    expect((await get(`${api}/healthz`, { ca: pki.ca })).status).toBe(200);
    const gateways = await get(`${api}/gateways`, { ca: pki.ca, token });
    expect(gateways.status).toBe(200);
    expect(JSON.parse(gateways.body)).toMatchObject({ items: [] });
    expect((await get(`${api}/gateways`, { ca: pki.ca })).status).toBe(401);
  });

  it('is refused by a client that does not trust the certificate, and plain HTTP gets no API answer', async () => {
    await expect(get(`${api}/healthz`)).rejects.toThrow(/self-signed|unable to (verify|get)|certificate/i);
    const plain = api.replace('https://', 'http://');
    const answer = await get(`${plain}/healthz`).catch((err: unknown) => err as Error);
    expect(answer instanceof Error ? answer.message : `status ${answer.status}`).not.toBe('status 200');
  });
});
