import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../cloud-bridge/credentials.js';
import { PasswordChecker } from '../../cloud-bridge/password-checker.js';

describe('PasswordChecker', () => {
  it('hashes an identity once: after a first success its right and wrong passwords are decided without scrypt; a changed hash is checked again', async () => {
    const h = await hashPassword('right');
    const p = new PasswordChecker({ hashConcurrency: 2, maxQueued: 4 });
    expect(await p.check('gw-1', 'wrong', h)).toBe('wrong'); // not verified yet: scrypt
    expect(await p.check('gw-1', 'right', h)).toBe('ok'); // scrypt, remembered
    expect(p.counters).toMatchObject({ hashed: 2, cachedOk: 0, cachedWrong: 0 });
    expect(await p.check('gw-1', 'right', h)).toBe('ok');
    expect(await p.check('gw-1', 'wrong', h)).toBe('wrong');
    expect(await p.check('gw-2', 'right', h)).toBe('ok'); // the identity is part of the check
    expect(p.counters).toMatchObject({ hashed: 3, cachedOk: 1, cachedWrong: 1 });
    const h2 = await hashPassword('new');
    expect(await p.check('gw-1', 'right', h2)).toBe('wrong'); // the registry changed the password: scrypt again
    expect(await p.check('gw-1', 'new', h2)).toBe('ok');
    expect(p.counters.hashed).toBe(5);
  });

  it('an unknown identity costs no hashing, and its refusal takes about as long as a scrypt check', async () => {
    const p = new PasswordChecker({ hashConcurrency: 1, maxQueued: 1 });
    const t0 = performance.now();
    expect(await p.check('nobody', 'x', undefined)).toBe('wrong');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35); // 0.8 x the 50 ms starting estimate, minus timer slack
    expect(p.counters).toMatchObject({ hashed: 0, unknown: 1 });
  });

  it('bounds the scrypt pool: past hashConcurrency + maxQueued a low-priority check is busy, and a high-priority one takes a low waiter\'s place', async () => {
    const h = await hashPassword('right');
    const p = new PasswordChecker({ hashConcurrency: 1, maxQueued: 2 });
    const running = p.check('a', 'x', h, 'low');
    const q1 = p.check('b', 'x', h, 'low');
    const q2 = p.check('c', 'x', h, 'low');
    expect(await p.check('d', 'x', h, 'low')).toBe('busy');
    const real = p.check('gw-real', 'right', h, 'high');
    expect(await q2).toBe('busy'); // the newest low waiter gave its place to the real gateway
    expect(await Promise.all([running, q1, real])).toEqual(['wrong', 'wrong', 'ok']);
    expect(p.counters).toMatchObject({ hashed: 3, busy: 2 });
  });
});
