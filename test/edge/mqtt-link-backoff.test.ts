import { afterEach, describe, expect, it } from 'vitest';
import { MqttLink } from '../../edge/mqtt-link.js';
import { Backoff } from '../../core/backoff.js';
import { silentLogger } from '../../core/logger.js';
import { plainBroker } from '../helpers/plain-broker.js';

describe('MqttLink reconnect backoff', () => {
  let close: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of close.reverse()) await c();
    close = [];
  });

  it('Backoff: full jitter between initial/2 and the ceiling, which doubles up to maxMs or the per-call override', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.next(5000)).toBe(5000);
    b.reset();
    expect(new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 }).next()).toBe(50);
  });

  it('retries an unreachable or busy broker at most reconnectMaxMs apart, a refused login at most reconnectRefusedMaxMs apart', async () => {
    const broker = await plainBroker();
    close.push(() => broker.close());
    let attempts = 0;
    let refuse = true;
    broker.broker.authenticate = (_client, _user, _pw, done) => {
      attempts++;
      if (refuse) done(Object.assign(new Error('bad'), { returnCode: 5 }) as never, false);
      else done(null, true);
    };
    const link = new MqttLink({ url: `mqtt://127.0.0.1:${broker.port}`, clientId: 'gw', username: 'gw', keepaliveS: 30, connectTimeoutMs: 2000,
      reconnectInitialMs: 50, reconnectMaxMs: 100, reconnectRefusedMaxMs: 800, will: { topic: 't/status', payload: new Uint8Array([0]) }, subscriptions: [], logger: silentLogger() });
    close.push(() => link.close());
    link.start();
    await new Promise((r) => setTimeout(r, 3000));
    // Refused: 50, 100, 200, 400, then 800 at most (jittered from half the first): 5-16 attempts in 3 s, where a 100 ms cap would make 30 or more.
    expect(attempts).toBeGreaterThanOrEqual(5);
    expect(attempts).toBeLessThanOrEqual(16);
    // Accepted again: connected at the next attempt, within 800 ms.
    refuse = false;
    const t0 = performance.now();
    while (!link.connected) {
      if (performance.now() - t0 > 1500) throw new Error('not reconnected');
      await new Promise((r) => setTimeout(r, 10));
    }
  });
});
