import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';
import { GW1, gatewayHashes } from './helpers.js';

const script = fileURLToPath(new URL('./fixtures/run-cloud.ts', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, JINYUN_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, exited, out: () => out, err: () => err };
}

describe('jinyun cloud (process)', () => {
  it('prints exactly one listening line, serves the API, and stops on SIGTERM', async () => {
    const tmp = tempDir('jinyun-runcloud-');
    try {
      const [hash] = await gatewayHashes();
      const file = join(tmp.dir, 'cloud.yaml');
      writeFileSync(file, ['mqtt:', '  port: 1', 'http:', '  port: 1', 'store:', '  type: sqlite', `  path: ${join(tmp.dir, 'c.db')}`, 'gateways:', `  - id: ${GW1.id}`, `    tenant: ${GW1.tenant}`, `    passwordHash: "${hash}"`, ''].join('\n'));
      const p = run(['--config', file], { MQTT_PORT: '0', HTTP_PORT: '0' });
      const deadline = performance.now() + 10_000;
      while (!p.out().includes('\n') && performance.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      const lines = p.out().trim().split('\n');
      expect(lines, p.err()).toHaveLength(1);
      const ev = JSON.parse(lines[0]!) as { event: string; mqttPort: number; httpPort: number; api: string };
      expect(ev).toEqual({ event: 'listening', mqttPort: expect.any(Number), httpPort: expect.any(Number), api: `http://127.0.0.1:${ev.httpPort}/api/v1` });
      expect(ev.mqttPort).toBeGreaterThan(1);
      const res = await fetch(`${ev.api}/gateways`);
      expect(((await res.json()) as { items: { id: string }[] }).items.map((g) => g.id)).toEqual([GW1.id]);
      p.proc.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      expect(p.out().trim().split('\n')).toHaveLength(1);
    } finally {
      tmp.cleanup();
    }
  });

  it('exits 2 with file, line and path on a bad config', async () => {
    const tmp = tempDir('jinyun-runcloud-');
    try {
      const file = join(tmp.dir, 'cloud.yaml');
      writeFileSync(file, 'store:\n  type: sqlite\n  path: x.db\ngateways:\n  - id: gw-1\n    tenant: t\n    passwordHash: nope\n');
      const p = run(['--config', file]);
      expect(await p.exited).toBe(2);
      expect(p.err()).toContain(`${file}:7: gateways[0].passwordHash: passwordHash must be`);
      expect(p.out()).toBe('');
    } finally {
      tmp.cleanup();
    }
  });

  it('--check validates the production example and exits 0 without starting anything', async () => {
    const file = join(process.cwd(), 'configs/examples/cloud-production.yaml');
    const p = run(['--config', file, '--check']);
    expect(await p.exited).toBe(0);
    expect(p.out()).toBe(`${file}: ok (postgres store, embedded broker, API auth token over TLS, 0 seeded gateways, 5 alarm rules and presets)\n`);
  });
});
