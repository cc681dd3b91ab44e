import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { cloudConfigSchema } from '../../cloud-bridge/config.js';
import { hashPassword } from '../../cloud-bridge/credentials.js';
import type { CloudBridge } from '../../cloud-bridge/bridge.js';
import { tempDir } from '../helpers/tmp.js';
import { makePki } from '../helpers/tls-certs.js';
import { GW1, GW2, startTestBridge, testConfig, until } from './helpers.js';

/** What became of one MQTT connection attempt. */
type Outcome =
  | { kind: 'connected'; client: MqttClient }
  | { kind: 'refused'; code: number } // a CONNACK with this return code
  | { kind: 'closed' }; // the connection closed without any CONNACK

const open: MqttClient[] = [];

/** One mqtt.js connection attempt (no reconnect), resolved by the first of CONNACK ok, CONNACK refused, or close. */
function attempt(port: number, gw: { id: string; password: string }): Promise<Outcome> {
  return new Promise((resolve) => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: gw.id, username: gw.id, password: gw.password, reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 5000 });
    open.push(client);
    client.once('connect', () => resolve({ kind: 'connected', client }));
    client.on('error', (err) => {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'number') resolve({ kind: 'refused', code }); // socket errors have string codes
    });
    client.once('close', () => resolve({ kind: 'closed' }));
  });
}

async function connected(port: number, gw: { id: string; password: string }): Promise<MqttClient> {
  const o = await attempt(port, gw);
  if (o.kind !== 'connected') throw new Error(`${gw.id}: expected to connect, got ${JSON.stringify(o)}`);
  return o.client;
}

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

/** Resolves with the bytes the socket received until it closed. */
function receivedUntilClosed(s: Socket): Promise<number> {
  let bytes = 0;
  s.on('data', (d: Buffer) => { bytes += d.length; });
  s.on('error', () => undefined);
  return new Promise((resolve) => (s.destroyed ? resolve(bytes) : s.once('close', () => resolve(bytes))));
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
});

describe('per-IP connection limit (maxConnectionsPerIp)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let bridge: CloudBridge;
  const broker = () => bridge.metrics.broker!;

  beforeAll(async () => {
    tmp = tempDir('jinyun-connlimit-ip-');
    // A long connect timeout, so a close seen here is the limit, not the CONNECT timer.
    bridge = await startTestBridge(await testConfig(tmp.dir, { mqtt: { maxConnectionsPerIp: 2, connectTimeoutMs: 30_000 } }));
  });

  afterAll(async () => {
    await bridge?.close();
    tmp?.cleanup();
  });

  it('closes the third connection from 127.0.0.1 at accept, counts it, and accepts again once one of the two is gone', async () => {
    const one = await connected(bridge.mqttPort, GW1);
    await connected(bridge.mqttPort, GW2);
    expect(broker().connections).toBe(2);
    const connects = broker().connects;

    // An MQTT client: its CONNECT (with valid credentials) is never read, no CONNACK comes back.
    expect(await attempt(bridge.mqttPort, GW1)).toEqual({ kind: 'closed' });
    expect(broker().refusals.conn_limit_ip).toBe(1);
    // A bare TCP connection that sends nothing is closed at once (not after connectTimeoutMs) and gets no byte.
    const t0 = performance.now();
    const raw = await rawSocket(bridge.mqttPort);
    expect(await receivedUntilClosed(raw)).toBe(0);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(broker().refusals.conn_limit_ip).toBe(2);
    expect(broker().connections).toBe(2);
    expect(broker().connects).toBe(connects); // aedes never saw the refused ones
    expect(one.connected).toBe(true);

    await one.endAsync();
    await until(() => broker().connections === 1);
    const again = await connected(bridge.mqttPort, GW1);
    expect(again.connected).toBe(true);
    expect(broker().connections).toBe(2);
    expect(broker().refusals.conn_limit_ip).toBe(2);

    // The freed slot is taken again: the next one is refused.
    expect(await attempt(bridge.mqttPort, GW2)).toEqual({ kind: 'closed' });
    expect(broker().refusals.conn_limit_ip).toBe(3);
    expect({ ...broker().refusals }).toEqual({ conn_limit_ip: 3 });
  });
});

describe('listener connection limit (maxConnections)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let bridge: CloudBridge;
  const broker = () => bridge.metrics.broker!;

  beforeAll(async () => {
    tmp = tempDir('jinyun-connlimit-max-');
    bridge = await startTestBridge(await testConfig(tmp.dir, { mqtt: { maxConnections: 2, connectTimeoutMs: 30_000 } }));
  });

  afterAll(async () => {
    await bridge?.close();
    tmp?.cleanup();
  });

  it('closes a third TCP connection while two are open, and accepts one after a disconnect', async () => {
    const one = await connected(bridge.mqttPort, GW1);
    await connected(bridge.mqttPort, GW2);
    expect(await attempt(bridge.mqttPort, GW1)).toEqual({ kind: 'closed' });
    expect(broker().connections).toBe(2);
    expect(broker().refusals.conn_limit_ip).toBeUndefined(); // the per-IP limit (default 100) is not what closed it
    await until(() => broker().refusals.conn_limit_total === 1); // Node's 'drop': counted like every refusal
    expect(one.connected).toBe(true);
    await one.endAsync();
    await until(() => broker().connections === 1);
    await connected(bridge.mqttPort, GW1);
    expect(broker().connections).toBe(2);
  });
});

describe('per-tenant connection limit (maxConnectionsPerTenant)', () => {
  const PASSWORD = 'pw-tenant-limit';
  const A1 = { id: 'a-gw-1', password: PASSWORD };
  const A2 = { id: 'a-gw-2', password: PASSWORD };
  const A3 = { id: 'a-gw-3', password: PASSWORD };
  const B1 = { id: 'b-gw-1', password: PASSWORD };
  let tmp: ReturnType<typeof tempDir>;
  let bridge: CloudBridge;
  const broker = () => bridge.metrics.broker!;

  beforeAll(async () => {
    tmp = tempDir('jinyun-connlimit-tenant-');
    const passwordHash = await hashPassword(PASSWORD);
    bridge = await startTestBridge(cloudConfigSchema.parse({
      mqtt: { port: 0, connectTimeoutMs: 5000, maxConnectionsPerTenant: 2 },
      http: { port: 0 },
      store: { type: 'sqlite', path: join(tmp.dir, 'cloud.db') },
      gateways: [
        { id: A1.id, tenant: 'tenant-a', passwordHash }, { id: A2.id, tenant: 'tenant-a', passwordHash },
        { id: A3.id, tenant: 'tenant-a', passwordHash }, { id: B1.id, tenant: 'tenant-b', passwordHash },
      ],
      log: { level: 'silent' },
    }));
  });

  afterAll(async () => {
    await bridge?.close();
    tmp?.cleanup();
  });

  it("refuses a tenant's third gateway with CONNACK 3 (server unavailable), not another tenant's, and frees a slot on disconnect", async () => {
    const a1 = await connected(bridge.mqttPort, A1);
    const a2 = await connected(bridge.mqttPort, A2);
    expect(await attempt(bridge.mqttPort, A3)).toEqual({ kind: 'refused', code: 3 });
    expect({ ...broker().refusals }).toEqual({ conn_limit_tenant: 1 });
    // The refusal took nothing from the two connected gateways.
    expect([a1.connected, a2.connected]).toEqual([true, true]);

    const b1 = await connected(bridge.mqttPort, B1);
    expect(b1.connected).toBe(true);
    expect({ ...broker().refusals }).toEqual({ conn_limit_tenant: 1 });

    const disconnects = broker().disconnects;
    await a1.endAsync();
    await until(() => broker().disconnects === disconnects + 1);
    const a3 = await connected(bridge.mqttPort, A3);
    expect(a3.connected).toBe(true);
    // tenant-a is full again (a2, a3): a1 coming back is the one refused now.
    expect(await attempt(bridge.mqttPort, A1)).toEqual({ kind: 'refused', code: 3 });
    expect({ ...broker().refusals }).toEqual({ conn_limit_tenant: 2 });
    expect([a2.connected, a3.connected, b1.connected]).toEqual([true, true, true]);
    expect(broker().connects).toBe(4); // a1, a2, b1, a3
  });

  it('lets a gateway of a full tenant reconnect while its old connection still lingers (half-open after a link drop): the new one takes over', async () => {
    const before = broker().refusals.conn_limit_tenant ?? 0;
    const oldA1 = await connected(bridge.mqttPort, A1);
    await connected(bridge.mqttPort, A2);
    // tenant-a is full; a1 comes back on a new connection while the old one is still open.
    const closedOld = new Promise<void>((r) => oldA1.once('close', () => r()));
    const again = await attempt(bridge.mqttPort, A1);
    expect(again.kind).toBe('connected');
    await closedOld; // aedes took the session over and closed the old connection
    expect(broker().refusals.conn_limit_tenant ?? 0).toBe(before);
    // A third gateway of the tenant is still refused.
    expect(await attempt(bridge.mqttPort, A3)).toEqual({ kind: 'refused', code: 3 });
  });
});

describe('per-IP connection limit on the TLS listener: applied before the handshake', () => {
  let tmp: ReturnType<typeof tempDir>;
  let bridge: CloudBridge;
  const broker = () => bridge.metrics.broker!;

  beforeAll(async () => {
    tmp = tempDir('jinyun-connlimit-tls-');
    const pki = makePki(tmp.dir);
    bridge = await startTestBridge(await testConfig(tmp.dir, { mqtt: { maxConnectionsPerIp: 2, connectTimeoutMs: 30_000, plainListener: false, tls: { port: 0, certFile: pki.server.cert, keyFile: pki.server.key } } }));
  });

  afterAll(async () => {
    await bridge?.close();
    tmp?.cleanup();
  });

  /** A TLS connection: 'secure' once the handshake completed, 'closed' when the server closed it before. */
  const tlsAttempt = (port: number): Promise<{ kind: 'secure'; socket: TLSSocket } | { kind: 'closed' }> => new Promise((resolve) => {
    const s = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    s.once('secureConnect', () => resolve({ kind: 'secure', socket: s }));
    s.on('error', () => undefined);
    s.once('close', () => resolve({ kind: 'closed' }));
  });

  it('a third TLS connection from one address is closed before its handshake, counted once as conn_limit_ip (not as a failed handshake)', async () => {
    const port = bridge.mqttTlsPort;
    const a = await tlsAttempt(port);
    const b = await tlsAttempt(port);
    expect([a.kind, b.kind]).toEqual(['secure', 'secure']);
    expect(await tlsAttempt(port)).toEqual({ kind: 'closed' });
    await until(() => broker().refusals.conn_limit_ip === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect({ ...broker().refusals }).toEqual({ conn_limit_ip: 1 });
    if (a.kind === 'secure') a.socket.destroy();
    await until(() => broker().connections === 1);
    const c = await tlsAttempt(port);
    expect(c.kind).toBe('secure');
    if (c.kind === 'secure') c.socket.destroy();
    if (b.kind === 'secure') b.socket.destroy();
  });
});
