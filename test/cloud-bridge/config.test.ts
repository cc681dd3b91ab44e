import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import { apiAuthOf, apiOpenToNetwork, loadCloudConfig, retentionWarning } from '../../cloud-bridge/config.js';
import { tempDir } from '../helpers/tmp.js';

const HASH = 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=';

function load(text: string): ReturnType<typeof loadCloudConfig> {
  const tmp = tempDir('jinyun-cfg-');
  try {
    const file = join(tmp.dir, 'cloud.yaml');
    writeFileSync(file, text);
    return loadCloudConfig(file, { env: {} });
  } finally {
    tmp.cleanup();
  }
}

function problems(text: string): string[] {
  try {
    load(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message.split('\n').slice(1).map((l) => l.trim().replace(/^.*cloud\.yaml/, 'cloud.yaml'));
  }
  throw new Error('expected a ConfigError');
}

const gateway = (id: string) => `  - id: ${id}\n    tenant: t1\n    passwordHash: "${HASH}"\n`;

describe('cloud config', () => {
  it('fills defaults for a minimal config', () => {
    const c = load(`store:\n  type: sqlite\n  path: /tmp/x.db\ngateways:\n${gateway('gw-1')}`);
    expect(c.mqtt).toMatchObject({ host: '127.0.0.1', port: 1883, maxPacketBytes: 1024 * 1024 });
    expect(c.http).toMatchObject({ host: '127.0.0.1', port: 8080, defaultLimit: 1000, maxLimit: 100_000 });
    expect(c.log.level).toBe('info');
    expect(c.gateways[0]).toMatchObject({ id: 'gw-1', tenant: 't1' });
  });

  it('API auth: open only on a loopback address unless configured; token by default on any other address', () => {
    const store = 'store:\n  type: sqlite\n  path: /tmp/x.db\n';
    const cases: [string, 'none' | 'token', boolean][] = [
      ['', 'none', false],
      ['http:\n  host: 127.0.0.1\n', 'none', false],
      ['http:\n  host: "::1"\n', 'none', false],
      ['http:\n  host: localhost\n', 'none', false],
      ['http:\n  host: 0.0.0.0\n', 'token', false],
      ['http:\n  host: 10.1.2.3\n', 'token', false],
      ['http:\n  host: 127.0.0.1\n  auth: token\n', 'token', false],
      ['http:\n  host: 0.0.0.0\n  auth: none\n', 'none', true],
    ];
    expect(cases.map(([yaml]) => { const h = load(store + yaml).http; return [apiAuthOf(h), apiOpenToNetwork(h)]; })).toEqual(cases.map(([, auth, open]) => [auth, open]));
  });

  it('the production example is valid and secure: TLS-only MQTT, HTTPS API with tokens, no secret in the file', () => {
    const file = join(process.cwd(), 'configs/examples/cloud-production.yaml');
    const c = loadCloudConfig(file, { env: {} });
    expect(c.mqtt.plainListener).toBe(false);
    expect(c.mqtt.tls).toMatchObject({ port: 8883, clientCert: 'optional' });
    expect([apiAuthOf(c.http), c.http.tls !== undefined]).toEqual(['token', true]);
    expect(c.store.type).toBe('postgres');
    expect(c.retention).toEqual({ rawDays: 400, intervalMs: 3_600_000 });
    expect(c.gateways).toEqual([]);
    expect(readFileSync(file, 'utf8')).not.toMatch(/password:|passwordHash:|scrypt\$|:[^@/\s]+@/);
  });

  it('retention: off unless rawDays is set, hourly by default; a retention under 3 months is warned about (AQ 6201)', () => {
    const store = 'store:\n  type: sqlite\n  path: /tmp/x.db\n';
    expect(load(store).retention).toEqual({ intervalMs: 3_600_000 });
    expect(load(`${store}retention:\n  rawDays: 400\n  intervalMs: 600000\n`).retention).toEqual({ rawDays: 400, intervalMs: 600_000 });
    expect(retentionWarning({})).toBeNull();
    expect(retentionWarning({ rawDays: 92 })).toBeNull();
    expect(retentionWarning({ rawDays: 30 })).toBe('retention.rawDays is 30: raw readings older than 30 days are deleted, less than the 3 months (92 days) AQ 6201 asks for coal-mine safety data');
  });

  it('reports a bad retention value with its path, line and the rule', () => {
    const store = 'store:\n  type: sqlite\n  path: /tmp/x.db\n';
    expect(problems(`${store}retention:\n  rawDays: 0\n`)).toEqual(['cloud.yaml:5: retention.rawDays: rawDays must be at least 1 (leave it out to keep every raw reading)']);
    expect(problems(`${store}retention:\n  rawDays: 1.5\n`)).toEqual(['cloud.yaml:5: retention.rawDays: rawDays must be a whole number of days']);
    expect(problems(`${store}retention:\n  rawDays: 100\n  keepDays: 3\n`)).toEqual(['cloud.yaml:6: retention.keepDays: unknown key "keepDays" (check the spelling; allowed keys are listed in the JSON Schema under configs/schemas/)']);
  });

  it('reports a duplicate gateway id with its path and line', () => {
    expect(problems(`store:\n  type: sqlite\n  path: x.db\ngateways:\n${gateway('gw-1')}${gateway('gw-1')}`)).toEqual([
      'cloud.yaml:8: gateways[1].id: duplicate gateway id "gw-1" (also gateways[0])',
    ]);
  });

  it('reports a bad hash, a bad id, an unknown key, a wrong store type and a bad port at once', () => {
    const p = problems([
      'mqtt:', '  port: 70000', '  maxPackteBytes: 5',
      'store:', '  type: mysql', '  path: x',
      'gateways:', '  - id: "gw/#"', '    tenant: t1', '    passwordHash: plain-text',
    ].join('\n'));
    expect(p).toHaveLength(5);
    expect(p.join('\n')).toMatch(/cloud\.yaml:2: mqtt\.port: Too big/);
    expect(p.join('\n')).toMatch(/cloud\.yaml:3: mqtt\.maxPackteBytes: unknown key/);
    expect(p.join('\n')).toMatch(/cloud\.yaml:5: store\.type: /);
    expect(p.join('\n')).toMatch(/cloud\.yaml:8: gateways\[0\]\.id: id must be 1-64 letters/);
    expect(p.join('\n')).toMatch(/cloud\.yaml:10: gateways\[0\]\.passwordHash: passwordHash must be 'scrypt\$N\$r\$p\$saltB64\$hashB64'/);
  });
});
