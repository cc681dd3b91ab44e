import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { topicFor } from '../../core/topics.js';
import { silentLogger } from '../../core/logger.js';
import { decodeAck, encodeCatalog, type AckData } from '../../proto/codec.js';
import { cloudConfigSchema } from '../../cloud-bridge/config.js';
import { startCloudBridge } from '../../cloud-bridge/bridge.js';
import { mosquittoHash } from '../../cloud-bridge/admin.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { MOSQUITTO_BIN, haveMosquittoBinary } from '../helpers/mosquitto.js';
import { CATALOG, T0, batchBytes, runAdminCaptured, until } from './helpers.js';

const BIN = MOSQUITTO_BIN;
const have = haveMosquittoBinary('Mosquitto ACL');

const admin = runAdminCaptured;

const reachable = (port: number): Promise<boolean> => new Promise((r) => {
  const s = connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); r(true); });
  s.once('error', () => r(false));
});

/**
 * The Mosquitto password and ACL files generated from the registry (`jinyun admin gateway add
 * --mosquitto-passwd`, `jinyun admin mosquitto-acl`) loaded into a real mosquitto of our own
 * (allow_anonymous false): each gateway may write only its own data/health/catalog/status and read
 * only its own ack/cmd, across two tenants; a revoked gateway can neither log in nor has ACL lines; the ingest user reads
 * every gateway's data and writes acks; wrong passwords are refused.
 */
describe.skipIf(!have)('mosquitto password and ACL files generated from the registry', () => {
  const tmp = tempDir('jinyun-mosq-acl-');
  const cfg = join(tmp.dir, 'cloud.yaml');
  const passwd = join(tmp.dir, 'passwd');
  const acl = join(tmp.dir, 'acl');
  const pw: Record<string, string> = {};
  let reader: { tokenId: string; token: string };
  let proc: ChildProcess;
  let port = 0;
  const clients: MqttClient[] = [];
  const login = async (user: string, password: string, protocolVersion: 4 | 5 = 4): Promise<MqttClient> => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `${user}-${clients.length}`, username: user, password, protocolVersion, reconnectPeriod: 0, connectTimeout: 3000 });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    writeFileSync(cfg, `store:\n  type: sqlite\n  path: ${join(tmp.dir, 'cloud.db')}\n`);
    for (const t of ['ta', 'tb']) expect((await admin(['--config', cfg, 'tenant', 'add', t])).code).toBe(0);
    for (const [id, t] of [['gw-a1', 'ta'], ['gw-a2', 'ta'], ['gw-b1', 'tb']] as const) {
      const r = await admin(['--config', cfg, 'gateway', 'add', id, '--tenant', t, '--mosquitto-passwd', passwd]);
      expect(r.code).toBe(0);
      pw[id] = String((JSON.parse(r.out) as { password: string }).password);
    }
    expect((await admin(['--config', cfg, 'gateway', 'revoke', 'gw-a2', '--mosquitto-passwd', passwd])).code).toBe(0);
    expect(readFileSync(passwd, 'utf8').split('\n').filter(Boolean).map((l) => l.split(':')[0])).toEqual(['gw-a1', 'gw-b1']);
    const tok = await admin(['--config', cfg, 'token', 'create', '--tenant', 'ta', '--mosquitto-passwd', passwd]);
    expect(tok.code).toBe(0);
    reader = JSON.parse(tok.out) as { tokenId: string; token: string };
    appendFileSync(passwd, `jinyun-ingest:${mosquittoHash('ingest-secret')}\n`);
    const gen = await admin(['--config', cfg, 'mosquitto-acl']);
    expect(gen.code).toBe(0);
    writeFileSync(acl, gen.out);
    port = await freePort();
    const conf = join(tmp.dir, 'mosquitto.conf');
    writeFileSync(conf, ['per_listener_settings false', 'allow_anonymous false', `password_file ${passwd}`, `acl_file ${acl}`, 'persistence false', 'log_dest stderr',
      ...(process.getuid?.() === 0 ? ['user root'] : []), `listener ${port} 127.0.0.1`, ''].join('\n'));
    proc = spawn(BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
    await until(() => reachable(port), 10_000).catch(() => { throw new Error(`mosquitto did not start:\n${log}`); });
  });
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => undefined);
    if (proc && proc.exitCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    }
    tmp.cleanup();
  });

  it('the generated ACL names exactly the active gateways topics, the ingest user, and no revoked gateway', async () => {
    const text = (await admin(['--config', cfg, 'mosquitto-acl'])).out;
    expect(text).toContain('user gw-a1\ntopic write jinyun/v1/ta/gw-a1/data\n');
    expect(text).toContain('topic read jinyun/v1/tb/gw-b1/ack\ntopic read jinyun/v1/tb/gw-b1/cmd\n');
    expect(text).not.toContain('gw-a2');
    expect(text).toContain('user jinyun-ingest\ntopic read jinyun/v1/+/+/data\n');
    expect(text).toContain(`user ${reader.tokenId}\ntopic read jinyun/v1/ta/+/alarm\n`);
  });

  it('an API token logs in as an alarm reader: it receives its tenant\'s alarms only and can publish nothing', async () => {
    const r = await login(reader.tokenId, reader.token.slice(reader.tokenId.length + 1));
    const got: string[] = [];
    r.on('message', (t, p) => got.push(`${t} ${p.toString()}`));
    await r.subscribeAsync(['jinyun/v1/+/+/alarm', 'jinyun/v1/+/+/data'], { qos: 1 });
    const ingest = await login('jinyun-ingest', 'ingest-secret');
    const seen: string[] = [];
    ingest.on('message', (t) => seen.push(t));
    await ingest.subscribeAsync('jinyun/v1/+/+/data', { qos: 1 });
    await r.publishAsync(topicFor('ta', 'gw-a1', 'data'), Buffer.from('forged'), { qos: 1 });
    for (const t of ['jinyun/v1/ta/gw-a1/alarm', 'jinyun/v1/tb/gw-b1/alarm']) await ingest.publishAsync(t, Buffer.from('{"event":"raised"}'), { qos: 1 });
    await until(() => got.length >= 1, 10_000);
    await new Promise((res) => setTimeout(res, 300));
    expect(got).toEqual(['jinyun/v1/ta/gw-a1/alarm {"event":"raised"}']);
    expect(seen).toEqual([]);
  }, 30_000);

  it('jinyun admin token revoke removes the token from the ACL and its mosquitto password line', async () => {
    const t = await admin(['--config', cfg, 'token', 'create', '--tenant', 'tb', '--mosquitto-passwd', passwd]);
    const { tokenId } = JSON.parse(t.out) as { tokenId: string };
    expect((await admin(['--config', cfg, 'mosquitto-acl'])).out).toContain(`user ${tokenId}\ntopic read jinyun/v1/tb/+/alarm\n`);
    expect(readFileSync(passwd, 'utf8')).toContain(`${tokenId}:`);
    const r = await admin(['--config', cfg, 'token', 'revoke', tokenId, '--mosquitto-passwd', passwd]);
    expect([r.code, JSON.parse(r.out)]).toEqual([0, { tokenId, revoked: true }]);
    expect((await admin(['--config', cfg, 'mosquitto-acl'])).out).not.toContain(tokenId);
    expect(readFileSync(passwd, 'utf8')).not.toContain(`${tokenId}:`);
    const again = await admin(['--config', cfg, 'token', 'revoke', tokenId]);
    expect(again.code).not.toBe(0);
    expect(again.err).toContain(`token "${tokenId}" is already revoked`);
  });

  it('refuses wrong passwords, unknown users and the revoked gateway (its password line was removed)', async () => {
    await expect(login('gw-a1', 'wrong')).rejects.toMatchObject({ code: 5 });
    await expect(login('gw-a2', pw['gw-a2']!)).rejects.toMatchObject({ code: 5 });
    await expect(login('nobody', 'x')).rejects.toMatchObject({ code: 5 });
  });

  it('publish and subscribe matrix: exactly the allowed (identity, topic, action) pairs get through', async () => {
    const ingest = await login('jinyun-ingest', 'ingest-secret');
    const seenByIngest: string[] = [];
    ingest.on('message', (t, p) => seenByIngest.push(`${t} ${p.toString()}`));
    await ingest.subscribeAsync(['jinyun/v1/+/+/data', 'jinyun/v1/+/+/health', 'jinyun/v1/+/+/catalog', 'jinyun/v1/+/+/status'], { qos: 1 });
    const owners = [{ id: 'gw-a1', tenant: 'ta' }, { id: 'gw-a2', tenant: 'ta' }, { id: 'gw-b1', tenant: 'tb' }];
    const identities = ['gw-a1', 'gw-b1']; // gw-a2 is revoked: it cannot log in (above) and has no ACL lines
    const received = new Map<string, string[]>();
    const gws = new Map<string, MqttClient>();
    for (const who of identities) {
      const c = await login(who, pw[who]!);
      const got: string[] = [];
      received.set(who, got);
      c.on('message', (t) => got.push(t));
      // Every gateway asks for every gateway's ack and cmd; mosquitto grants the SUBSCRIBE but delivers only what the ACL allows.
      await c.subscribeAsync(owners.flatMap((o) => [topicFor(o.tenant, o.id, 'ack'), topicFor(o.tenant, o.id, 'cmd')]), { qos: 1 });
      gws.set(who, c);
    }
    const wantIngest: string[] = [];
    for (const who of identities) {
      for (const o of owners) {
        for (const kind of ['data', 'health', 'catalog', 'status', 'ack', 'cmd'] as const) {
          const topic = topicFor(o.tenant, o.id, kind);
          await gws.get(who)!.publishAsync(topic, Buffer.from(who), { qos: 1 });
          const allowed = who === o.id && ['data', 'health', 'catalog', 'status'].includes(kind);
          if (allowed) wantIngest.push(`${topic} ${who}`);
        }
      }
    }
    // The ingest answers on every ack topic; each active gateway hears only its own.
    for (const o of owners) await ingest.publishAsync(topicFor(o.tenant, o.id, 'ack'), Buffer.from('ack'), { qos: 1 });
    await until(() => seenByIngest.length >= wantIngest.length && received.get('gw-a1')!.length >= 1 && received.get('gw-b1')!.length >= 1, 10_000);
    await new Promise((r) => setTimeout(r, 300)); // nothing else arrives late
    expect(seenByIngest.sort()).toEqual(wantIngest.sort());
    expect(Object.fromEntries(received)).toEqual({ 'gw-a1': ['jinyun/v1/ta/gw-a1/ack'], 'gw-b1': ['jinyun/v1/tb/gw-b1/ack'] });
  }, 30_000);

  it('revocation behind Mosquitto: after the regenerated ACL and password file are reloaded (SIGHUP), a still-connected revoked gateway reaches nothing and cannot log in again', async () => {
    const added = await admin(['--config', cfg, 'gateway', 'add', 'gw-a3', '--tenant', 'ta', '--mosquitto-passwd', passwd]);
    const pwA3 = String((JSON.parse(added.out) as { password: string }).password);
    const reload = async (): Promise<void> => {
      writeFileSync(acl, (await admin(['--config', cfg, 'mosquitto-acl'])).out);
      proc.kill('SIGHUP');
    };
    await reload();
    const ingest = await login('jinyun-ingest', 'ingest-secret');
    const seen: string[] = [];
    ingest.on('message', (t, p) => seen.push(`${t} ${p.toString()}`));
    await ingest.subscribeAsync('jinyun/v1/ta/gw-a3/data', { qos: 1 });
    let gw!: MqttClient;
    await until(async () => { gw = await login('gw-a3', pwA3).catch(() => null as unknown as MqttClient); return gw !== null; }, 10_000);
    await gw.publishAsync('jinyun/v1/ta/gw-a3/data', Buffer.from('before'), { qos: 1 });
    await until(() => seen.length === 1, 10_000);

    expect((await admin(['--config', cfg, 'gateway', 'revoke', 'gw-a3', '--mosquitto-passwd', passwd])).code).toBe(0);
    await reload();
    // Reloaded once a new login of gw-a3 is refused.
    await until(async () => (await login('gw-a3', pwA3).then(() => false, (e: { code?: number }) => e.code === 5)), 10_000);
    // Mosquitto also drops the revoked gateway's live connection on the reload; until it does, the ACL refuses its publishes.
    if (gw.connected) gw.publish('jinyun/v1/ta/gw-a3/data', Buffer.from('after'), { qos: 0 });
    await until(() => !gw.connected, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual(['jinyun/v1/ta/gw-a3/data before']);
  }, 30_000);

  it('an ingest worker logs in as the ingest user, takes the data through a shared subscription, and acknowledges the gateway', async () => {
    const bridge = await startCloudBridge(cloudConfigSchema.parse({
      http: { port: 0 },
      store: { type: 'sqlite', path: join(tmp.dir, 'cloud.db') },
      externalBroker: { url: `mqtt://127.0.0.1:${port}`, username: 'jinyun-ingest', password: 'ingest-secret', shareGroup: 'acl-test' },
      log: { level: 'silent' },
    }), { logger: silentLogger() });
    try {
      const gw = await login('gw-a1', pw['gw-a1']!);
      const acks: AckData[] = [];
      gw.on('message', (_t, p) => acks.push(decodeAck(p)));
      await gw.subscribeAsync(topicFor('ta', 'gw-a1', 'ack'), { qos: 1 });
      await gw.publishAsync(topicFor('ta', 'gw-a1', 'catalog'), Buffer.from(encodeCatalog(CATALOG)), { qos: 1 });
      await until(() => bridge.metrics.ingest.catalogs === 1, 10_000);
      // Its own data is stored and acknowledged; what it publishes as another tenant's gateway never reaches the ingest.
      await gw.publishAsync(topicFor('tb', 'gw-b1', 'data'), Buffer.from(batchBytes([{ tagId: 1, ts: T0, value: 66, quality: 0 }], 1)), { qos: 1 });
      await gw.publishAsync(topicFor('ta', 'gw-a1', 'data'), Buffer.from(batchBytes([{ tagId: 1, ts: T0, value: 1, quality: 0 }], 1)), { qos: 1 });
      await until(() => acks.length >= 1, 10_000);
      expect(acks).toMatchObject([{ seqFirst: 1, result: 'ok' }]);
      expect(bridge.metrics.ingest.batchesReceived).toBe(1);
      expect((await bridge.store.query({ gateway: 'gw-a1', key: 'pump/flow', limit: 10 }))!.readings.map((r) => r.value)).toEqual([1]);
      expect(await bridge.store.query({ gateway: 'gw-b1', key: 'pump/flow', limit: 10 })).toBeNull();
    } finally {
      await bridge.close();
    }
  }, 30_000);
});
