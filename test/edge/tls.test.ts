import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { silentLogger } from '../../core/logger.js';
import { decodeStatus, type StatusData } from '../../proto/codec.js';
import { MqttLink, type TlsFiles } from '../../edge/mqtt-link.js';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { spawnJinyun, stopChild, type Child } from '../../cli/process.js';
import { tempDir } from '../helpers/tmp.js';
import { makePki, type Pki } from '../helpers/tls-certs.js';
import { haveMosquittoBinary, startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { until } from '../helpers/edge-child.js';

/** The security checklist (RELIABILITY.md c.3) on the wire: TLS server verification, mutual TLS, last will. */
describe.skipIf(!haveMosquittoBinary('edge TLS against Mosquitto'))('edge MQTT over TLS against a real mosquitto', () => {
  const tmp = tempDir('jinyun-edge-tls-');
  let pki: Pki;
  let broker: Mosquitto;
  let port: { tls: number; rogue: number; mtls: number };
  const links: MqttLink[] = [];

  beforeAll(async () => {
    pki = makePki(tmp.dir);
    broker = await startMosquitto(tmp.dir, [
      { tls: { cafile: pki.ca, certfile: pki.server.cert, keyfile: pki.server.key, requireCertificate: false } },
      { tls: { cafile: pki.ca, certfile: pki.rogue.cert, keyfile: pki.rogue.key, requireCertificate: false } },
      { tls: { cafile: pki.ca, certfile: pki.server.cert, keyfile: pki.server.key, requireCertificate: true } },
    ]);
    port = { tls: broker.ports[0]!, rogue: broker.ports[1]!, mtls: broker.ports[2]! };
  });

  afterAll(async () => {
    await Promise.all(links.map((l) => l.close()));
    await broker?.stop();
    tmp.cleanup();
  });

  function link(p: number, tls: TlsFiles, clientId: string): MqttLink {
    const l = new MqttLink({
      url: `mqtts://127.0.0.1:${p}`, clientId, username: clientId, keepaliveS: 30, connectTimeoutMs: 5000, reconnectInitialMs: 200, reconnectMaxMs: 1000,
      tls, will: { topic: `test/${clientId}/status`, payload: new Uint8Array([0]) }, subscriptions: [], logger: silentLogger(),
    });
    links.push(l);
    l.start();
    return l;
  }
  const up = (l: MqttLink) => until('link up', async () => l.connected, 15_000);

  it('connects when the broker certificate is signed by the configured CA', async () => {
    const l = link(port.tls, { caFile: pki.ca, rejectUnauthorized: true }, 'gw-ca');
    await up(l);
    await l.publish('test/gw-ca/x', new Uint8Array([1]), { qos: 1 });
    expect(l.counters.connects).toBe(1);
  });

  it('refuses a broker certificate from an unknown CA, with an error naming caFile', async () => {
    const l = link(port.rogue, { caFile: pki.ca, rejectUnauthorized: true }, 'gw-rogue');
    const err = await until('a TLS error', async () => l.lastError, 15_000);
    expect(err).toMatch(/^TLS: the broker certificate is not signed by a trusted CA \(.+\); check uplink\.tls\.caFile$/);
    expect(l.connected).toBe(false);
    expect(l.counters.connects).toBe(0);
  });

  it('connects to a broker that requires a client certificate when one is configured', async () => {
    const l = link(port.mtls, { caFile: pki.ca, certFile: pki.client.cert, keyFile: pki.client.key, rejectUnauthorized: true }, 'gw-mtls');
    await up(l);
    await l.publish('test/gw-mtls/x', new Uint8Array([1]), { qos: 1 });
  });

  it('fails against that broker without a client certificate', async () => {
    const l = link(port.mtls, { caFile: pki.ca, rejectUnauthorized: true }, 'gw-nocert');
    const err = await until('a TLS error', async () => l.lastError, 15_000);
    expect(err).toMatch(/^TLS: the broker refused the handshake \(ERR_SSL_\w+\); it may require a client certificate|ECONNRESET/);
    expect(l.connected).toBe(false);
    expect(l.counters.connects).toBe(0);
  });

  it('a killed (-9) edge process leaves the retained status online=false through its last will', async () => {
    const sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
    const simPort = await sim.start();
    const file = join(tmp.dir, 'edge.yaml');
    writeFileSync(file, `gateway: { id: gw-1, tenant: t-1 }
spool: { path: ${join(tmp.dir, 'spool.db')} }
uplink:
  url: mqtts://127.0.0.1:${port.mtls}
  tls: { caFile: ${pki.ca}, certFile: ${pki.client.cert}, keyFile: ${pki.client.key} }
  reconnectInitialMs: 100
  reconnectMaxMs: 500
http: { port: 0 }
devices:
  - { type: modbus-tcp, name: gas-monitor, port: ${simPort}, unitId: 1, pollIntervalMs: 200, tags: [{ name: counter, table: holding, address: 100, type: uint32 }] }
`);
    let edge: Child | null = null;
    let watcher: MqttClient | null = null;
    try {
      edge = spawnJinyun(['edge', '--config', file], { env: { JINYUN_LOG_LEVEL: 'warn' } });
      const started = await edge.waitFor('started', 20_000);
      expect(started.httpPort).toBeGreaterThan(0);
      const statuses: StatusData[] = [];
      watcher = await mqtt.connectAsync(`mqtts://127.0.0.1:${port.mtls}`, { clientId: 'watcher', ca: readFileSync(pki.ca), cert: readFileSync(pki.client.cert), key: readFileSync(pki.client.key) });
      watcher.on('message', (_t, payload) => statuses.push(decodeStatus(payload)));
      await watcher.subscribeAsync('jinyun/v1/t-1/gw-1/status', { qos: 1 });
      const online = await until('status online=true', async () => statuses.find((x) => x.online), 20_000);
      edge.proc.kill('SIGKILL');
      expect((await edge.exited).signal).toBe('SIGKILL');
      const offline = await until('status online=false', async () => statuses.find((x) => !x.online), 20_000);
      expect(offline).toMatchObject({ producerId: online.producerId, epoch: online.epoch });
      // Retained: a subscriber arriving later sees it too.
      await watcher.unsubscribeAsync('jinyun/v1/t-1/gw-1/status');
      statuses.length = 0;
      await watcher.subscribeAsync('jinyun/v1/t-1/gw-1/status', { qos: 1 });
      expect((await until('retained status', async () => statuses[0], 10_000)).online).toBe(false);
    } finally {
      await watcher?.endAsync();
      if (edge) await stopChild(edge);
      await sim.stop();
    }
  });
});
