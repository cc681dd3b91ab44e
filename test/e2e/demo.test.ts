import { afterAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { spawnJinyun, stopChild, type Child } from '../../cli/process.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';

function occupy(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/** `npm start` runs this command; it must work where 1883 and 8080 are already taken. */
describe('jinyun demo', () => {
  const tmp = tempDir('jinyun-demo-');
  let demo: Child | undefined;
  const held: Server[] = [];

  afterAll(async () => {
    if (demo) await stopChild(demo, 'SIGINT');
    for (const s of held) s.close();
    tmp.cleanup();
  });

  it('shows live coal-mine values within 15 s although ports 1883 and 8080 are taken', async () => {
    for (const p of [1883, 8080]) {
      const s = await occupy(p);
      if (s) held.push(s);
    }
    const t0 = performance.now();
    demo = spawnJinyun(['demo'], { env: { JINYUN_DEMO_DIR: tmp.dir, MQTT_PORT: '', HTTP_PORT: '' } });
    const ready = await demo.waitFor('ready', 15_000);
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(ready.mqttPort).not.toBe(1883);
    expect(ready.httpPort).not.toBe(8080);
    // The demo's API needs the tenant token it created and printed (user.password).
    const res = await fetch(`${String(ready.api)}/latest`, { headers: { authorization: `Bearer ${String(ready.user)}.${String(ready.password)}` } });
    expect(res.status).toBe(200);
    const latest = (await res.json()) as { items: { key: string; value: unknown; quality: { name: string } }[] };
    expect((await fetch(`${String(ready.api)}/latest`)).status).toBe(401);
    const methane = latest.items.find((i) => i.key === 'gas-monitor/methane');
    expect(methane?.quality.name).toBe('Good');
    expect(typeof methane?.value).toBe('number');
    expect(latest.items.length).toBeGreaterThan(5);
  });

  it('MQTT_PORT and HTTP_PORT choose the ports', async () => {
    if (demo) await stopChild(demo, 'SIGINT');
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    demo = spawnJinyun(['demo'], { env: { JINYUN_DEMO_DIR: tmp.dir, MQTT_PORT: String(mqttPort), HTTP_PORT: String(httpPort) } });
    const ready = await demo.waitFor('ready', 30_000);
    expect([ready.mqttPort, ready.httpPort]).toEqual([mqttPort, httpPort]);
    expect(String(ready.api)).toBe(`http://127.0.0.1:${httpPort}/api/v1`);
    expect((await fetch(`${String(ready.api)}/latest`, { headers: { authorization: `Bearer ${String(ready.user)}.${String(ready.password)}` } })).status).toBe(200);
  }, 45_000);
});
