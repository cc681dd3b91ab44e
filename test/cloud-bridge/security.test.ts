import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { TOPIC_KINDS, topicFor } from '../../core/topics.js';
import type { CloudBridge } from '../../cloud-bridge/bridge.js';
import { tempDir } from '../helpers/tmp.js';
import { GW1, GW2, runAdminCaptured, startTestBridge, testConfig, until } from './helpers.js';

const GW3 = { id: 'gw-3', tenant: GW1.tenant };
type Ident = { id: string; tenant: string; password: string };

function connectAs(port: number, gw: Ident): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: gw.id, username: gw.id, password: gw.password, reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 3000 });
}

/** Resolves true when the QoS 1 publish is PUBACKed, false when the broker closes the connection instead. */
async function publishAllowed(port: number, gw: Ident, topic: string): Promise<boolean> {
  const c = await connectAs(port, gw);
  c.on('error', () => undefined);
  try {
    return await Promise.race([
      c.publishAsync(topic, Buffer.from('x'), { qos: 1 }).then(() => true, () => false),
      new Promise<boolean>((r) => c.once('close', () => r(false))),
    ]);
  } finally {
    await c.endAsync(true).catch(() => undefined);
  }
}

/** `jinyun admin` with its last output line parsed as JSON. */
async function admin(args: string[]): Promise<{ out: Record<string, unknown>; err: string; code: number }> {
  const r = await runAdminCaptured(args);
  return { ...r, out: r.out ? (JSON.parse(r.out.trim().split('\n').pop()!) as Record<string, unknown>) : {} };
}

describe('security: ACL matrix, admin CLI, revocation, throttling', () => {
  const tmp = tempDir('jinyun-sec-');
  let bridge: CloudBridge;
  let gw3: Ident;
  const cfgFile = join(tmp.dir, 'cloud.yaml');

  beforeAll(async () => {
    const config = await testConfig(tmp.dir);
    config.registry.pollMs = 100;
    bridge = await startTestBridge(config);
    writeFileSync(cfgFile, `store:\n  type: sqlite\n  path: ${join(tmp.dir, 'cloud.db')}\n`);
    // A second gateway of tenant-a, created through the admin CLI (password printed once).
    const res = await admin(['--config', cfgFile, 'gateway', 'add', GW3.id, '--tenant', GW3.tenant]);
    expect(res.code).toBe(0);
    gw3 = { ...GW3, password: String(res.out.password) };
    expect(gw3.password.length).toBeGreaterThanOrEqual(24);
    await until(() => bridge.registry.gateway(GW3.id) !== undefined, 3000);
  });

  afterAll(async () => {
    await bridge?.close();
    tmp.cleanup();
  });

  it('admin CLI: clear errors for unknown tenants, duplicates and unknown gateways; stores only hashes', async () => {
    expect(await admin(['--config', cfgFile, 'tenant', 'add', 'acme'])).toMatchObject({ code: 0, out: { tenant: 'acme' } });
    const dup = await admin(['--config', cfgFile, 'tenant', 'add', 'acme']);
    expect(dup).toMatchObject({ code: 3 });
    expect(dup.err).toMatch(/tenant "acme" already exists/);
    expect((await admin(['--config', cfgFile, 'gateway', 'add', 'gx', '--tenant', 'nope'])).err).toMatch(/tenant "nope" does not exist/);
    expect((await admin(['--config', cfgFile, 'gateway', 'add', GW3.id, '--tenant', 'acme'])).err).toMatch(/already exists/);
    expect((await admin(['--config', cfgFile, 'gateway', 'revoke', 'nope'])).err).toMatch(/gateway "nope" does not exist/);
    await expect(admin(['--config', cfgFile, 'gateway', 'add', 'bad/#', '--tenant', 'acme'])).rejects.toThrow(/must be 1-64 letters/);
    const tok = await admin(['--config', cfgFile, 'token', 'create', '--tenant', 'acme']);
    expect(String(tok.out.token)).toMatch(/^tok-[0-9a-f]{12}\.[A-Za-z0-9_-]{32}$/);
    const reg = await bridge.store.loadRegistry();
    expect(reg.gateways.find((g) => g.id === GW3.id)?.passwordHash).toMatch(/^scrypt\$/);
    expect(JSON.stringify(reg)).not.toContain(gw3.password);
    expect(JSON.stringify(reg)).not.toContain(String(tok.out.token).split('.')[1]);
  });

  it('ACL matrix: for every (identity, topic, action) in a two-tenant setup exactly the allowed ones succeed', async () => {
    const port = bridge.mqttPort;
    const owners = [{ id: GW1.id, tenant: GW1.tenant }, GW3, { id: GW2.id, tenant: GW2.tenant }];
    const identities: Ident[] = [GW1, gw3, GW2];
    const topics = [...owners.flatMap((o) => TOPIC_KINDS.map((k) => ({ owner: o.id, kind: k as string, topic: topicFor(o.tenant, o.id, k) }))),
      { owner: '-', kind: 'sys', topic: '$SYS/broker/x' }, { owner: '-', kind: 'wild', topic: 'jinyun/v1/+/+/ack' }, { owner: '-', kind: 'wild', topic: 'jinyun/v1/#' }];
    const before = { ...bridge.metrics.broker!.refusals };
    let deniedPub = 0;
    let deniedSub = 0;
    const mismatches: string[] = [];
    for (const who of identities) {
      // subscribe: one SUBSCRIBE with every filter; SUBACK says per filter
      const c = await connectAs(port, who);
      c.on('error', () => undefined);
      const res = await c.subscribeAsync(topics.map((t) => t.topic), { qos: 1 }).catch((e: { packet?: { granted?: number[] } }) => e.packet?.granted?.map((g) => ({ qos: g })) ?? []);
      await c.endAsync(true);
      topics.forEach((t, i) => {
        const allowed = t.owner === who.id && (t.kind === 'ack' || t.kind === 'cmd');
        const got = ((res as { qos: number }[])[i]?.qos ?? 128) < 128;
        if (!allowed) deniedSub++;
        if (got !== allowed) mismatches.push(`${who.id} subscribe ${t.topic}: got ${got}, want ${allowed}`);
      });
      // publish: a fresh connection per topic (a refused publish closes the connection)
      for (const t of topics.filter((x) => !x.topic.includes('+') && !x.topic.includes('#'))) {
        const allowed = t.owner === who.id && ['data', 'health', 'catalog', 'status'].includes(t.kind);
        const got = await publishAllowed(port, who, t.topic);
        if (!allowed) deniedPub++;
        if (got !== allowed) mismatches.push(`${who.id} publish ${t.topic}: got ${got}, want ${allowed}`);
      }
    }
    expect(mismatches).toEqual([]);
    const r = bridge.metrics.broker!.refusals;
    const delta = (k: string) => (r[k] ?? 0) - (before[k] ?? 0);
    expect(delta('subscribe_denied')).toBe(deniedSub);
    expect(delta('publish_foreign_topic') + delta('publish_sys')).toBe(deniedPub);
  }, 60_000);

  it('a revoked gateway is disconnected at once and cannot return', async () => {
    const c = await connectAs(bridge.mqttPort, gw3);
    c.on('error', () => undefined);
    const gone = new Promise<void>((r) => c.once('close', () => r()));
    const t0 = performance.now();
    expect((await admin(['--config', cfgFile, 'gateway', 'revoke', GW3.id])).code).toBe(0);
    await gone;
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(bridge.metrics.broker!.refusals.revoked_disconnect).toBe(1);
    await expect(connectAs(bridge.mqttPort, gw3)).rejects.toMatchObject({ code: 5 });
    expect(bridge.metrics.broker!.refusals.auth_revoked).toBe(1);
    expect((await admin(['--config', cfgFile, 'gateway', 'revoke', GW3.id])).err).toMatch(/already revoked/);
    // The id cannot be re-registered either.
    expect((await admin(['--config', cfgFile, 'gateway', 'add', GW3.id, '--tenant', GW3.tenant])).err).toMatch(/revoked; gateway ids are never reused/);
  });
});

describe('security: failed-login throttling', () => {
  /** A CONNECT from a given loopback source address (127.0.0.2 plays the attacker's host). */
  const connectFrom = (port: number, localAddress: string, gw: Ident): Promise<MqttClient> => new Promise((resolve, reject) => {
    const c = new mqtt.MqttClient(() => net.createConnection({ port, host: '127.0.0.1', localAddress }),
      { clientId: gw.id, username: gw.id, password: gw.password, reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 3000 });
    c.once('connect', () => resolve(c));
    c.once('error', (err) => { c.end(true); reject(err); });
  });

  it('an attacker hammering a gateway id slows down only itself: the real gateway and another tenant behind the attacker\'s address are admitted', async () => {
    const tmp = tempDir('jinyun-throttle-');
    const bridge = await startTestBridge(await testConfig(tmp.dir, { mqtt: { failedLoginLimit: 3, loginDelayMs: 60_000, loginLockoutMs: 60_000 } }));
    try {
      // 10 guesses at gw-1 from 127.0.0.2: 3 are checked (wrong password), the 7 during the delay are refused unchecked.
      for (let i = 0; i < 10; i++) await expect(connectFrom(bridge.mqttPort, '127.0.0.2', { ...GW1, password: `guess-${i}` })).rejects.toMatchObject({ code: 5 });
      expect(bridge.metrics.broker!.refusals).toMatchObject({ auth_bad_password: 3, auth_throttled: 7 });
      // Even the right password waits from the failing pair...
      await expect(connectFrom(bridge.mqttPort, '127.0.0.2', GW1)).rejects.toMatchObject({ code: 5 });
      expect(bridge.metrics.broker!.refusals.auth_throttled).toBe(8);
      // ...but the real gw-1 on its own address, and gw-2 (another tenant) behind the attacker's address, get in at once.
      const real = await connectFrom(bridge.mqttPort, '127.0.0.1', GW1);
      const other = await connectFrom(bridge.mqttPort, '127.0.0.2', GW2);
      expect([real.connected, other.connected]).toEqual([true, true]);
      await Promise.all([real.endAsync(true), other.endAsync(true)]);
      // Reconnects of the real gateway keep working while the attack goes on.
      await expect(connectFrom(bridge.mqttPort, '127.0.0.2', { ...GW1, password: 'guess-x' })).rejects.toMatchObject({ code: 5 });
      const again = await connectFrom(bridge.mqttPort, '127.0.0.1', GW1);
      await again.endAsync(true);
      expect(bridge.metrics.broker!.refusals).toMatchObject({ auth_bad_password: 3, auth_throttled: 9 });
    } finally {
      await bridge.close();
      tmp.cleanup();
    }
  });
});
