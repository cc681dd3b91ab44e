import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../../core/logger.js';
import { Sqlite } from '../../core/sqlite.js';
import { hashPassword } from '../../cloud-bridge/credentials.js';
import { MqttLink, type TlsFiles } from '../../edge/mqtt-link.js';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { spawnJinyun, stopChild, type Child } from '../../cli/process.js';
import { tempDir } from '../helpers/tmp.js';
import { makePki, type Pki } from '../helpers/tls-certs.js';
import { getJson, until } from '../helpers/edge-child.js';

interface Cloud { child: Child; tlsPort: number; plainPort: number; db: string }

/**
 * Edge -> cloud bridge over TLS, both real processes: server verification with a CA file and a
 * password login, and mutual TLS where the client certificate (CN gw-1) is the gateway's identity
 * and no password is configured. The cloud stores what each edge polled.
 */
describe('edge MQTT over TLS against the cloud bridge', () => {
  const tmp = tempDir('jinyun-edge-tls-cloud-');
  const sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
  const password = randomBytes(18).toString('base64url');
  const children: Child[] = [];
  const links: MqttLink[] = [];
  let pki: Pki;
  let simPort: number;
  let optional: Cloud;
  let required: Cloud;

  async function startCloud(name: string, clientCert: 'optional' | 'required'): Promise<Cloud> {
    const file = join(tmp.dir, `${name}.yaml`);
    const db = join(tmp.dir, `${name}.db`);
    const unusable = await hashPassword(randomBytes(18).toString('base64url'));
    writeFileSync(file, `mqtt:
  host: 127.0.0.1
  port: 0
  tls: { port: 0, certFile: ${pki.server.cert}, keyFile: ${pki.server.key}, caFile: ${pki.ca}, clientCert: ${clientCert} }
http: { host: 127.0.0.1, port: 0 }
store: { type: sqlite, path: ${db} }
gateways:
  - { id: gw-1, tenant: t-1, passwordHash: "${unusable}" }
  - { id: gw-pw, tenant: t-1, passwordHash: "${await hashPassword(password)}" }
`);
    const child = spawnJinyun(['cloud', '--config', file], { env: { JINYUN_LOG_LEVEL: 'warn' } });
    children.push(child);
    const ev = await child.waitFor('listening', 30_000);
    expect(ev.mqttTlsPort).toBeGreaterThan(0);
    return { child, tlsPort: Number(ev.mqttTlsPort), plainPort: Number(ev.mqttPort), db };
  }

  function startEdge(name: string, gateway: string, port: number, tlsYaml: string, withPassword: boolean): Child {
    const file = join(tmp.dir, `${name}.yaml`);
    writeFileSync(file, `gateway: { id: ${gateway}, tenant: t-1 }
spool: { path: ${join(tmp.dir, `${name}.spool.db`)} }
uplink:
  url: mqtts://127.0.0.1:${port}
${withPassword ? '  password: ${EDGE_PASSWORD}\n' : ''}  tls: ${tlsYaml}
  reconnectInitialMs: 100
  reconnectMaxMs: 500
  batch: { maxDelayMs: 100 }
http: { port: 0 }
devices:
  - { type: modbus-tcp, name: gas-monitor, port: ${simPort}, unitId: 1, pollIntervalMs: 100, tags: [{ name: counter, table: holding, address: 100, type: uint32 }] }
`);
    const child = spawnJinyun(['edge', '--config', file], { env: { EDGE_PASSWORD: password, JINYUN_LOG_LEVEL: 'warn' } });
    children.push(child);
    return child;
  }

  /** Readings of gas-monitor/counter the cloud stored for one gateway. */
  async function stored(cloud: Cloud, gateway: string): Promise<number> {
    const db = await Sqlite.open(cloud.db, { readonly: true });
    try {
      const row = await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM readings r JOIN series s ON s.id = r.series_id WHERE s.key = 'gas-monitor/counter' AND s.gateway = ?", [gateway]);
      return row?.n ?? 0;
    } finally {
      await db.close();
    }
  }

  function link(port: number, clientId: string, tls: TlsFiles, pw?: string): MqttLink {
    const l = new MqttLink({
      url: `mqtts://127.0.0.1:${port}`, clientId, username: clientId, ...(pw ? { password: pw } : {}), keepaliveS: 30, connectTimeoutMs: 5000, reconnectInitialMs: 200, reconnectMaxMs: 1000,
      tls, will: { topic: `jinyun/v1/t-1/${clientId}/status`, payload: new Uint8Array([0]) }, subscriptions: [], logger: silentLogger(),
    });
    links.push(l);
    l.start();
    return l;
  }

  beforeAll(async () => {
    pki = makePki(tmp.dir);
    simPort = await sim.start();
    [optional, required] = await Promise.all([startCloud('cloud-optional', 'optional'), startCloud('cloud-required', 'required')]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(links.map((l) => l.close()));
    await Promise.all(children.map((c) => stopChild(c)));
    await sim.stop();
    tmp.cleanup();
  });

  it('delivers over TLS with the broker verified by the CA file and a password login', async () => {
    const edge = startEdge('edge-ca', 'gw-pw', optional.tlsPort, `{ caFile: ${pki.ca} }`, true);
    const started = await edge.waitFor('started', 30_000);
    await until('readings of gw-pw stored in the cloud', async () => (await stored(optional, 'gw-pw')) >= 10, 30_000, 200);
    const health = await getJson<{ link: { connected: boolean } }>(`http://127.0.0.1:${Number(started.httpPort)}/healthz`);
    expect(health.link.connected).toBe(true);
  }, 60_000);

  it('delivers over mutual TLS: the client certificate names the gateway, no password configured', async () => {
    const edge = startEdge('edge-mtls', 'gw-1', required.tlsPort, `{ caFile: ${pki.ca}, certFile: ${pki.client.cert}, keyFile: ${pki.client.key} }`, false);
    await edge.waitFor('started', 30_000);
    await until('readings of gw-1 stored in the cloud', async () => (await stored(required, 'gw-1')) >= 10, 30_000, 200);
  }, 60_000);

  it('refuses a certificate that names another gateway than the one connecting, even with its right password', async () => {
    const l = link(optional.tlsPort, 'gw-pw', { caFile: pki.ca, certFile: pki.client.cert, keyFile: pki.client.key, rejectUnauthorized: true }, password);
    const err = await until('a refusal', async () => l.lastError, 15_000);
    expect(err).toMatch(/not authori[sz]ed/i);
    expect(l.counters.connects).toBe(0);
  });

  it('is refused by a listener that requires a client certificate when none is configured', async () => {
    const l = link(required.tlsPort, 'gw-pw', { caFile: pki.ca, rejectUnauthorized: true }, password);
    const err = await until('a TLS error', async () => l.lastError, 15_000);
    expect(err).toMatch(/^TLS: the broker refused the handshake \(ERR_SSL_\w+\); it may require a client certificate|ECONNRESET|socket hang up/);
    expect(l.connected).toBe(false);
    expect(l.counters.connects).toBe(0);
  });

  it('refuses the cloud bridge certificate when the configured CA did not sign it', async () => {
    const l = link(optional.tlsPort, 'gw-pw', { caFile: join(tmp.dir, 'unknown-ca.crt'), rejectUnauthorized: true }, password);
    const err = await until('a TLS error', async () => l.lastError, 15_000);
    expect(err).toMatch(/^TLS: the broker certificate is not signed by a trusted CA \(.+\); check uplink\.tls\.caFile$/);
    expect(l.counters.connects).toBe(0);
  });
});
