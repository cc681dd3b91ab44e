import { describe, expect, it } from 'vitest';
import { Backoff } from '../../core/backoff.js';

describe('Backoff', () => {
  it('grows exponentially with full jitter, capped, and resets', () => {
    const lo = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    const hi = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
    expect(Array.from({ length: 6 }, () => hi.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(Array.from({ length: 3 }, () => lo.next())).toEqual([50, 50, 50]);
    hi.reset();
    expect(hi.next()).toBe(100);
  });
});
