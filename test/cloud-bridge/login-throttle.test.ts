import { describe, expect, it } from 'vitest';
import { LoginGuard, LoginThrottle } from '../../cloud-bridge/login-throttle.js';

/** A throttle on a clock the test moves by hand. */
function rig(opts: { limit?: number; windowMs?: number; firstDelayMs?: number; maxDelayMs?: number; maxKeys?: number } = {}) {
  let t = 1_000_000;
  const throttle = new LoginThrottle({
    limit: opts.limit ?? 3, windowMs: opts.windowMs ?? 1000, firstDelayMs: opts.firstDelayMs ?? 1000, maxDelayMs: opts.maxDelayMs ?? 8000,
    maxKeys: opts.maxKeys, now: () => t,
  });
  return {
    throttle,
    at(ms: number): void { t = 1_000_000 + ms; },
    failTimes(key: string, n: number): number[] { const d: number[] = []; for (let i = 0; i < n; i++) d.push(throttle.fail(key)); return d; },
  };
}

describe('LoginThrottle', () => {
  it('delays a key from its limit-th failure, doubling per further failure up to maxDelayMs', () => {
    const { throttle, at } = rig({ limit: 3, firstDelayMs: 1000, maxDelayMs: 8000, windowMs: 60_000 });
    at(0);
    expect([throttle.fail('k'), throttle.fail('k')]).toEqual([0, 0]);
    expect(throttle.retryAfterMs('k')).toBe(0);
    expect(throttle.fail('k')).toBe(1000); // the limit-th failure
    at(400);
    expect(throttle.retryAfterMs('k')).toBe(600);
    // The caller checks nothing during the delay; the next checked failure comes after it.
    const delays: number[] = [];
    let now = 1000;
    for (let i = 0; i < 5; i++) {
      at(now);
      expect(throttle.retryAfterMs('k')).toBe(0);
      const d = throttle.fail('k');
      delays.push(d);
      now += d;
    }
    expect(delays).toEqual([2000, 4000, 8000, 8000, 8000]);
    expect(throttle.failures('k')).toBe(8);
  });

  it('forgets a key windowMs after its last failure, once its delay is over', () => {
    const { throttle, at } = rig({ limit: 2, windowMs: 1000, firstDelayMs: 5000, maxDelayMs: 5000 });
    at(0);
    throttle.fail('k');
    at(1000);
    expect(throttle.failures('k')).toBe(1); // exactly windowMs later: still counted
    at(1001);
    expect(throttle.failures('k')).toBe(0);
    expect(throttle.fail('k')).toBe(0); // a fresh count, not the limit-th failure
    expect(throttle.fail('k')).toBe(5000);
    at(1001 + 4999);
    expect(throttle.retryAfterMs('k')).toBe(1);
    expect(throttle.failures('k')).toBe(2); // the window is over but the delay is not: still remembered
    at(1001 + 5000);
    expect(throttle.retryAfterMs('k')).toBe(0);
    expect(throttle.failures('k')).toBe(0);
  });

  it('forgets the failures and the delay of a key on succeed()', () => {
    const { throttle, at, failTimes } = rig({ limit: 3 });
    at(0);
    failTimes('k', 3);
    expect(throttle.retryAfterMs('k')).toBe(1000);
    throttle.succeed('k');
    expect(throttle.retryAfterMs('k')).toBe(0);
    expect(throttle.size).toBe(0);
    expect(failTimes('k', 3)).toEqual([0, 0, 1000]);
  });

  it('counts every key on its own', () => {
    const { throttle, at, failTimes } = rig({ limit: 3 });
    at(0);
    failTimes('a', 3);
    failTimes('b', 2);
    expect([throttle.retryAfterMs('a'), throttle.retryAfterMs('b'), throttle.retryAfterMs('c')]).toEqual([1000, 0, 0]);
    expect([throttle.failures('a'), throttle.failures('b'), throttle.failures('c')]).toEqual([3, 2, 0]);
  });

  it('keeps a delayed key through a flood of fresh keys, with memory bounded by maxKeys', () => {
    const { throttle, at, failTimes } = rig({ limit: 3, windowMs: 60_000, firstDelayMs: 60_000, maxDelayMs: 60_000, maxKeys: 4 });
    at(0);
    failTimes('victim', 3);
    for (let i = 0; i < 10_000; i++) {
      at(i); // all inside the window: room comes from the oldest key not delayed
      throttle.fail(`flood-${i}`);
      expect(throttle.size).toBeLessThanOrEqual(4);
    }
    expect(throttle.size).toBe(4);
    expect(throttle.retryAfterMs('victim')).toBe(60_000 - 9999);
    expect(throttle.failures('flood-9999')).toBe(1);
    expect(throttle.failures('flood-9996')).toBe(0); // dropped
  });

  it('drops the oldest delayed key only when every one of maxKeys keys is delayed', () => {
    const { throttle, at, failTimes } = rig({ limit: 2, windowMs: 60_000, firstDelayMs: 60_000, maxDelayMs: 60_000, maxKeys: 3 });
    at(0);
    failTimes('a', 2);
    at(1);
    failTimes('b', 2);
    at(2);
    failTimes('c', 2);
    at(3);
    failTimes('d', 2);
    expect(['a', 'b', 'c', 'd'].map((k) => throttle.retryAfterMs(k) > 0)).toEqual([false, true, true, true]);
    expect(throttle.size).toBe(3);
  });

  it('makes room from forgotten keys before dropping a live count', () => {
    const { throttle, at } = rig({ limit: 5, windowMs: 1000, maxKeys: 3 });
    at(0);
    throttle.fail('old');
    at(500);
    throttle.fail('live');
    throttle.fail('live');
    at(1200); // 'old' is forgotten (1200 > 0 + 1000), 'live' is not
    throttle.fail('x');
    throttle.fail('y');
    expect(throttle.size).toBe(3);
    expect([throttle.failures('old'), throttle.failures('live'), throttle.failures('x'), throttle.failures('y')]).toEqual([0, 2, 1, 1]);
  });
});

describe('LoginGuard', () => {
  function guardRig() {
    let t = 0;
    const guard = new LoginGuard({ limit: 3, windowMs: 60_000, firstDelayMs: 1000, maxDelayMs: 60_000, now: () => t });
    return { guard, at(ms: number) { t = ms; } };
  }

  it('slows the failing (identity, source) pair only: the same identity from another source is checked', () => {
    const { guard } = guardRig();
    for (let i = 0; i < 3; i++) guard.fail('gw-a', 't1', '10.0.0.9');
    expect(guard.retryAfterMs('gw-a', 't1', '10.0.0.9')).toBe(1000);
    expect(guard.retryAfterMs('gw-a', 't1', '10.0.0.1')).toBe(0);
    expect(guard.retryAfterMs('gw-b', 't1', '10.0.0.9')).toBe(0); // another identity behind the attacker's address
  });

  it('slows a source across the identities of one tenant at 4x the pair limit, never across tenants', () => {
    const { guard } = guardRig();
    // 11 failures spread over identities of tenant t1 (no pair reaches 3)
    for (let i = 0; i < 11; i++) guard.fail(`gw-${i % 6}`, 't1', '10.0.0.9');
    expect(guard.retryAfterMs('gw-new', 't1', '10.0.0.9')).toBe(0);
    guard.fail('gw-6', 't1', '10.0.0.9'); // the 12th = 4 x 3
    expect(guard.retryAfterMs('gw-new', 't1', '10.0.0.9')).toBe(1000);
    expect(guard.retryAfterMs('gw-x', 't2', '10.0.0.9')).toBe(0); // another tenant behind the same NAT
    expect(guard.retryAfterMs('gw-new', 't1', '10.0.0.1')).toBe(0);
  });

  it('clears the pair on success but not the source count', () => {
    const { guard } = guardRig();
    for (let i = 0; i < 2; i++) guard.fail('gw-a', 't1', 's');
    guard.succeed('gw-a', 's');
    for (let i = 0; i < 2; i++) guard.fail('gw-a', 't1', 's');
    expect(guard.retryAfterMs('gw-a', 't1', 's')).toBe(0);
    expect(guard.fail('gw-a', 't1', 's')).toBe(1000);
  });
});
