import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import mqttPacket from 'mqtt-packet';
import mqtt from 'mqtt';
import { hashPassword } from '../../cloud-bridge/credentials.js';
import { spawnJinyun, stopChild, type Child } from '../../cli/process.js';
import { edgeSite, until } from '../helpers/edge-child.js';
import { faultRig, sleep } from '../helpers/fault-rig.js';

const FLOOD_MS = Number(process.env.JINYUN_FLOOD_MS ?? 60_000);
const WORKERS = 16;
const TENANT = 'tenant-a';

/** One attacker CONNECT from `localAddress`; resolves with the CONNACK return code, or -1 when the broker closed without one. */
function attempt(port: number, localAddress: string, clientId: string, password: string): Promise<number> {
  return new Promise((resolve) => {
    let code = -1;
    const s: Socket = connect({ port, host: '127.0.0.1', localAddress }, () => {
      s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId, username: clientId, password: Buffer.from(password) } as mqttPacket.IConnectPacket));
    });
    const t = setTimeout(() => s.destroy(), 10_000);
    s.on('data', (d) => { if (d[0] === 0x20 && d.length >= 4) code = d[3]!; s.destroy(); });
    s.on('error', () => undefined);
    s.on('close', () => { clearTimeout(t); resolve(code); });
  });
}

/**
 * A wrong-password flood (issue 31, item 2) against a real cloud process while a real edge agent
 * delivers: 16 connections at a time from 254 source addresses, unique unknown ids, the delivering
 * gateway's id and a known gateway's id that has never connected, all with wrong passwords, for
 * 60 s. The delivering gateway's newest stored reading stays younger than 5 s, a known gateway's
 * correct logins are admitted every time, and a known gateway's very first login in the middle of
 * the flood (the one case that needs scrypt) is admitted within its normal backoff.
 */
describe('fault: a 60 s wrong-password flood from 254 addresses', () => {
  const rig = faultRig('jinyun-auth-flood-');

  it('keeps ingest fresh and admits every correct login of a known gateway', async () => {
    const simPort = await rig.sim.start();
    const gws = await Promise.all(['gw-1', 'gw-2', 'gw-3'].map(async (id) => {
      const password = randomBytes(12).toString('base64url');
      return { id, password, hash: await hashPassword(password) };
    }));
    const file = join(rig.tmp.dir, 'cloud.yaml');
    writeFileSync(file, [
      'mqtt:', '  host: 127.0.0.1', '  port: 0',
      'http:', '  host: 127.0.0.1', '  port: 0',
      'store:', '  type: sqlite', `  path: ${join(rig.tmp.dir, 'cloud.db')}`,
      'gateways:', ...gws.flatMap((g) => [`  - id: ${g.id}`, `    tenant: ${TENANT}`, `    passwordHash: "${g.hash}"`]), '',
    ].join('\n'));
    const cloud: Child = spawnJinyun(['cloud', '--config', file], { env: { JINYUN_LOG_LEVEL: 'warn' } });
    const ev = await cloud.waitFor('listening', 30_000);
    const mqttPort = Number(ev.mqttPort);
    const api = `http://127.0.0.1:${Number(ev.httpPort)}/api/v1`;
    rig.cloud = { child: cloud, mqttPort, httpPort: Number(ev.httpPort), gateway: { ...gws[0]!, tenant: TENANT }, stop: () => stopChild(cloud) };
    rig.edge = edgeSite(rig.tmp.dir, { simPort, mqttPort, password: gws[0]!.password, pollIntervalMs: 100 }).start();
    await rig.edge.waitFor('started', 30_000);
    const newestAgeMs = async (): Promise<number> => {
      const res = (await (await fetch(`${api}/latest?gateway=gw-1`)).json()) as { items?: { key: string; tsMs: number }[] };
      const counter = res.items?.find((i) => i.key === 'gas-monitor/counter');
      return counter ? Date.now() - counter.tsMs : Number.POSITIVE_INFINITY;
    };
    await until('the edge delivering', async () => (await newestAgeMs()) < 2000, 30_000, 200);
    const storedAt = async () => ((await (await fetch(`${api}/metrics`)).json()) as { ingest: { readingsStored: number } }).ingest.readingsStored;
    const stored0 = await storedAt();

    // gw-2 logs in once before the flood (its credential is then verified) and again every 3 s during it.
    const login = async (g: { id: string; password: string }): Promise<number> => {
      const t0 = performance.now();
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: g.id, username: g.id, password: g.password, reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 10_000 });
      const ms = performance.now() - t0;
      await c.endAsync();
      return ms;
    };
    await login(gws[1]!);

    const end = Date.now() + FLOOD_MS;
    const answers = new Map<number, number>();
    let n = 0;
    const attacker = async (w: number) => {
      while (Date.now() < end) {
        const i = n++;
        const from = `127.0.1.${(i % 254) + 1}`;
        const who = i % 3 === 0 ? `gw-x${w}-${i}` : i % 3 === 1 ? 'gw-1' : 'gw-3';
        const code = await attempt(mqttPort, from, who, `guess-${i}`);
        answers.set(code, (answers.get(code) ?? 0) + 1);
      }
    };
    let maxAgeMs = 0;
    const watcher = async () => {
      while (Date.now() < end) {
        maxAgeMs = Math.max(maxAgeMs, await newestAgeMs());
        await sleep(500);
      }
    };
    const gw2Logins: number[] = [];
    const gw2 = async () => {
      while (Date.now() < end - 3000) {
        await sleep(3000);
        gw2Logins.push(await login(gws[1]!));
      }
    };
    // gw-3's very first correct login, a third of the way in, retried like the edge's link (0.5 s backoff) on "server unavailable".
    let gw3 = { tries: 0, ms: 0 };
    const first = async () => {
      await sleep(FLOOD_MS / 3);
      const t0 = performance.now();
      for (;;) {
        gw3.tries++;
        try {
          await login(gws[2]!);
          gw3 = { ...gw3, ms: performance.now() - t0 };
          return;
        } catch (err) {
          if ((err as { code?: number }).code !== 3 || gw3.tries >= 10) throw err;
          await sleep(500);
        }
      }
    };
    const t0 = Date.now();
    await Promise.all([...Array.from({ length: WORKERS }, (_, w) => attacker(w)), watcher(), gw2(), first()]);
    const floodS = (Date.now() - t0) / 1000;
    const stored = (await storedAt()) - stored0;
    const m = (await (await fetch(`${api}/metrics`)).json()) as { broker: { refusals: Record<string, number> }; auth: Record<string, number> };
    process.stdout.write(`auth flood: ${n} CONNECTs in ${floodS.toFixed(0)} s (${(n / floodS).toFixed(0)}/s) from 254 addresses; answers ${JSON.stringify(Object.fromEntries(answers))}; `
      + `newest reading at most ${maxAgeMs} ms old; ${stored} readings stored (${(stored / floodS).toFixed(0)}/s); gw-2 logins ${gw2Logins.map((x) => x.toFixed(0)).join(', ')} ms; `
      + `gw-3 first login after ${gw3.tries} tries, ${gw3.ms.toFixed(0)} ms; refusals ${JSON.stringify(m.broker.refusals)}; auth ${JSON.stringify(m.auth)}\n`);
    expect(n).toBeGreaterThan(FLOOD_MS / 100); // the flood really ran (> 10 CONNECTs a second)
    expect(answers.get(0) ?? 0).toBe(0); // no guess got in (-1: the refusal's CONNACK was lost in the connection reset)
    expect(Object.values(m.broker.refusals).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(n); // every attempt refused and counted
    expect(maxAgeMs).toBeLessThan(5000);
    expect(gw2Logins.length).toBeGreaterThanOrEqual(Math.floor(FLOOD_MS / 3000) - 2);
    expect(Math.max(...gw2Logins)).toBeLessThan(2000);
    expect(gw3.tries).toBeLessThanOrEqual(3);
    expect(m.auth.hashed).toBeLessThan(n / 3);
  }, FLOOD_MS + 120_000);
});
