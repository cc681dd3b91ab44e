import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../../cloud-bridge/credentials.js';
import { spawnJinyun, stopChild, type Child } from '../../cli/process.js';
import { silentLogger } from '../../core/logger.js';
import { topicFor } from '../../core/topics.js';
import { encodeStatus } from '../../proto/codec.js';
import { MqttLink } from '../../edge/mqtt-link.js';
import { until } from '../helpers/edge-child.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { sleep } from '../helpers/fault-rig.js';

const GATEWAYS = 200;
const TENANT = 'storm-tenant';

/**
 * Reconnect storm (RELIABILITY.md R1, scaled to CI): 200 gateway uplinks (the edge's own MqttLink,
 * each with its own credential and ack subscription) are connected to a real cloud bridge process,
 * which is killed with SIGKILL and restarted on the same port after 3 s. Every link comes back by
 * itself within 60 s, exactly once (no connect-and-kick loop), its reconnects are spread by the
 * jittered backoff rather than arriving in one instant, and the storm of correct logins is never
 * mistaken for a password-guessing attack by the failed-login throttle.
 */
describe('fault: reconnect storm of 200 gateways after a cloud bridge kill -9', () => {
  const tmp = tempDir('jinyun-storm-');
  const links: MqttLink[] = [];
  let cloud: Child | undefined;

  afterAll(async () => {
    await Promise.all(links.map((l) => l.close().catch(() => undefined)));
    if (cloud) await stopChild(cloud);
    tmp.cleanup();
  });

  it('every gateway reconnects by itself, once, spread out, without throttling', async () => {
    const gateways = await Promise.all(Array.from({ length: GATEWAYS }, async (_, i) => {
      const password = randomBytes(12).toString('base64url');
      return { id: `storm-gw-${String(i).padStart(3, '0')}`, password, hash: await hashPassword(password) };
    }));
    const mqttPort = await freePort();
    const file = join(tmp.dir, 'cloud.yaml');
    writeFileSync(file, [
      'mqtt:', '  host: 127.0.0.1', `  port: ${mqttPort}`, '  maxConnectionsPerIp: 1000',
      'http:', '  host: 127.0.0.1', '  port: 0',
      'store:', '  type: sqlite', `  path: ${join(tmp.dir, 'cloud.db')}`,
      'gateways:', ...gateways.flatMap((g) => [`  - id: ${g.id}`, `    tenant: ${TENANT}`, `    passwordHash: "${g.hash}"`]), '',
    ].join('\n'));
    let httpPort = 0;
    const startCloud = async () => {
      cloud = spawnJinyun(['cloud', '--config', file], { env: { JINYUN_LOG_LEVEL: 'warn' } });
      httpPort = Number((await cloud.waitFor('listening', 30_000)).httpPort);
    };
    await startCloud();

    const upAt = new Map<string, number[]>();
    for (const g of gateways) {
      const link = new MqttLink({
        url: `mqtt://127.0.0.1:${mqttPort}`, clientId: g.id, username: g.id, password: g.password, keepaliveS: 10, connectTimeoutMs: 10_000,
        reconnectInitialMs: 500, reconnectMaxMs: 8000,
        will: { topic: topicFor(TENANT, g.id, 'status'), payload: encodeStatus({ online: false, producerId: g.id, epoch: 1, timeMs: 0, version: 'test' }) },
        subscriptions: [topicFor(TENANT, g.id, 'ack')], logger: silentLogger(),
      });
      upAt.set(g.id, []);
      link.on('up', () => upAt.get(g.id)!.push(Date.now()));
      links.push(link);
      link.start();
    }
    await until('all 200 gateways connected', async () => links.every((l) => l.connected), 60_000, 100);

    cloud!.proc.kill('SIGKILL');
    await cloud!.exited;
    await until('all links to notice the broker is gone', async () => links.every((l) => !l.connected), 30_000, 50);
    await sleep(3000);
    const restartedAt = Date.now();
    await startCloud();
    const listeningAt = Date.now();
    await until('all 200 gateways reconnected', async () => links.every((l) => l.connected), 60_000, 100);
    const back = [...upAt.values()].map((times) => times[1]! - listeningAt).sort((a, b) => a - b);
    const pct = (p: number) => back[Math.min(back.length - 1, Math.floor(p * back.length))]!;
    console.info(`reconnect storm: cloud restarted in ${listeningAt - restartedAt} ms; gateways back after it listened: first ${back[0]} ms, p50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, last ${back.at(-1)} ms`);

    // Each gateway came back exactly once: its first connect and one reconnect, no kick loop.
    expect([...upAt.values()].map((t) => t.length)).toEqual(Array(GATEWAYS).fill(2));
    expect(links.map((l) => l.counters.connects)).toEqual(Array(GATEWAYS).fill(2));
    // The jittered backoff spreads the herd: not everyone in the same instant.
    expect(back.at(-1)! - back[0]!).toBeGreaterThan(500);
    expect(back.at(-1)!).toBeLessThan(60_000);
    // No correct login was refused as a bad password or throttled on the way back. Logins beyond the
    // concurrent scrypt limit are shed as "server unavailable" (auth_busy) and retried by the backoff.
    const refusals = await fetchRefusals(httpPort);
    console.info(`reconnect storm: refusals by the restarted cloud ${JSON.stringify(refusals)}`);
    expect(Object.keys(refusals).filter((r) => r !== 'auth_busy')).toEqual([]);
    // Let the sockets settle; no link dropped again afterwards.
    await sleep(1500);
    expect(links.every((l) => l.connected)).toBe(true);
  }, 180_000);
});

/** Refusals by reason counted by the running cloud bridge since its start (GET /api/v1/metrics). */
async function fetchRefusals(httpPort: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/v1/metrics`);
  const body = (await res.json()) as { broker?: { refusals?: Record<string, number> } };
  if (!body.broker?.refusals) throw new Error(`no broker refusals in /metrics: ${JSON.stringify(body).slice(0, 300)}`);
  return body.broker.refusals;
}
