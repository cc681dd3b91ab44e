import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../cloud-bridge/login-throttle.js';

/** A throttle on a clock the test moves by hand. */
function rig(opts: { limit?: number; windowMs?: number; lockoutMs?: number; maxKeys?: number } = {}) {
  let t = 1_000_000;
  const throttle = new LoginThrottle({ limit: opts.limit ?? 3, windowMs: opts.windowMs ?? 1000, lockoutMs: opts.lockoutMs ?? 5000, maxKeys: opts.maxKeys, now: () => t });
  return {
    throttle,
    at(ms: number): void { t = 1_000_000 + ms; },
    failTimes(key: string, n: number): void { for (let i = 0; i < n; i++) throttle.fail(key); },
  };
}

describe('LoginThrottle', () => {
  it('locks a key at the limit-th failure within the window, not before', () => {
    const { throttle, at } = rig({ limit: 3, windowMs: 1000 });
    at(0);
    throttle.fail('gw');
    at(400);
    throttle.fail('gw');
    expect(throttle.locked('gw')).toBe(false);
    at(1000); // exactly windowMs after the first failure: still inside the window
    throttle.fail('gw');
    expect(throttle.locked('gw')).toBe(true);
  });

  it('does not lock when the failures are spread beyond the window', () => {
    const { throttle, at } = rig({ limit: 3, windowMs: 1000 });
    at(0);
    throttle.fail('gw');
    at(600);
    throttle.fail('gw');
    at(1001); // the window opened at 0 is over: this failure opens a new one (count 1)
    throttle.fail('gw');
    expect(throttle.locked('gw')).toBe(false);
    at(1900);
    throttle.fail('gw'); // count 2 in the window opened at 1001
    expect(throttle.locked('gw')).toBe(false);
    at(2001);
    throttle.fail('gw'); // count 3 within 1000 ms of 1001
    expect(throttle.locked('gw')).toBe(true);
  });

  it('keeps a key locked for lockoutMs, then lets it start afresh', () => {
    const { throttle, at, failTimes } = rig({ limit: 3, windowMs: 1000, lockoutMs: 5000 });
    at(0);
    failTimes('gw', 3);
    at(4999);
    expect(throttle.locked('gw')).toBe(true);
    throttle.fail('gw'); // a failure while locked neither extends nor ends the lockout
    at(5000);
    expect(throttle.locked('gw')).toBe(false);
    failTimes('gw', 2);
    expect(throttle.locked('gw')).toBe(false);
    throttle.fail('gw');
    expect(throttle.locked('gw')).toBe(true);
    at(9999);
    expect(throttle.locked('gw')).toBe(true);
    at(10_000);
    expect(throttle.locked('gw')).toBe(false);
  });

  it('forgets the failures (and a lockout) of a key on succeed()', () => {
    const { throttle, at, failTimes } = rig({ limit: 3 });
    at(0);
    failTimes('gw', 2);
    throttle.succeed('gw');
    failTimes('gw', 2);
    expect(throttle.locked('gw')).toBe(false);
    expect(throttle.size).toBe(1);
    throttle.fail('gw');
    expect(throttle.locked('gw')).toBe(true);
    throttle.succeed('gw');
    expect(throttle.locked('gw')).toBe(false);
    expect(throttle.size).toBe(0);
  });

  it('counts every key on its own', () => {
    const { throttle, at, failTimes } = rig({ limit: 3 });
    at(0);
    failTimes('id\u0000gw-1', 2);
    failTimes('ip\u0000203.0.113.7', 2);
    failTimes('id\u0000gw-2', 3);
    expect(throttle.locked('id\u0000gw-2')).toBe(true);
    expect(throttle.locked('id\u0000gw-1')).toBe(false);
    expect(throttle.locked('ip\u0000203.0.113.7')).toBe(false);
    throttle.succeed('id\u0000gw-1');
    throttle.fail('ip\u0000203.0.113.7');
    expect(throttle.locked('ip\u0000203.0.113.7')).toBe(true);
    expect(throttle.locked('id\u0000gw-1')).toBe(false);
    expect(throttle.locked('id\u0000gw-2')).toBe(true);
  });

  it('keeps a locked key locked through a flood of fresh keys, with memory bounded by maxKeys', () => {
    const { throttle, at, failTimes } = rig({ limit: 3, windowMs: 60_000, lockoutMs: 60_000, maxKeys: 4 });
    at(0);
    failTimes('victim', 3);
    for (let i = 0; i < 10_000; i++) {
      at(i); // all inside the window and the lockout: nothing is over, room comes from the oldest unlocked key
      throttle.fail(`flood-${i}`);
      expect(throttle.size).toBeLessThanOrEqual(4);
    }
    expect(throttle.size).toBe(4);
    expect(throttle.locked('victim')).toBe(true);
    // The newest flood keys are still counted (one failure each): two more lock them.
    failTimes('flood-9999', 2);
    expect(throttle.locked('flood-9999')).toBe(true);
    expect(throttle.locked('victim')).toBe(true);
  });

  it('drops the oldest locked key only when every one of maxKeys keys is locked', () => {
    const { throttle, at, failTimes } = rig({ limit: 2, windowMs: 60_000, lockoutMs: 60_000, maxKeys: 3 });
    at(0);
    failTimes('a', 2);
    at(1);
    failTimes('b', 2);
    at(2);
    failTimes('c', 2);
    at(3);
    failTimes('d', 2); // a fourth key: the table is full of locked keys, the oldest (a) goes
    expect(['a', 'b', 'c', 'd'].map((k) => throttle.locked(k))).toEqual([false, true, true, true]);
    expect(throttle.size).toBe(3);
  });

  it('makes room from keys whose lockout or window is over before dropping a live count', () => {
    const { throttle, at, failTimes } = rig({ limit: 2, windowMs: 5000, lockoutMs: 1000, maxKeys: 3 });
    at(0);
    failTimes('x', 2); // locked until 1000
    at(500);
    throttle.fail('y'); // counting, window until 5500
    at(1001);
    throttle.fail('z'); // full: x (lockout over) y z
    throttle.fail('w'); // room comes from x, whose lockout is over, not from y (oldest live count)
    expect(throttle.size).toBe(3);
    throttle.fail('y');
    expect(throttle.locked('y')).toBe(true);
    at(5501);
    throttle.fail('v'); // full again: y's lockout ended at 2001, so y goes, not z (the oldest live count)
    expect(throttle.size).toBe(3);
    throttle.fail('z'); // z's window (opened at 1001) is still open: its second failure locks it
    expect(throttle.locked('z')).toBe(true);
  });
});
