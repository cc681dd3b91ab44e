import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { verifyPassword } from './credentials.js';

export interface PasswordCheckerOptions {
  /** scrypt checks running at once (each holds one libuv thread: the rest stay for the store's I/O). */
  hashConcurrency: number;
  /** scrypt checks waiting for a slot; one more is refused at once ('busy'). */
  maxQueued: number;
  /** Verified credentials remembered (one per identity). */
  maxCached?: number;
}

export type CheckResult = 'ok' | 'wrong' | 'busy';

/**
 * Password checks that a flood cannot turn into a denial of service:
 *
 * - A credential verified once against an identity's scrypt hash is remembered as an HMAC under a
 *   key that lives only in this process (bounded, invalidated when the stored hash changes). The
 *   next login of that identity, right or wrong, is decided by one HMAC, not by scrypt: a
 *   wrong-password flood against a gateway that has connected costs nothing, and the gateway
 *   itself gets in at once however busy the hashing is.
 * - Unknown identities (no hash) cost no hashing at all.
 * - Every refusal that skipped scrypt is answered after about as long as a scrypt check takes (a
 *   timer, no CPU), so the answer time does not tell an attacker which case it hit.
 * - scrypt runs at most `hashConcurrency` at once, with at most `maxQueued` waiting; past that the
 *   check is refused as 'busy' (the client retries with its backoff).
 */
export class PasswordChecker {
  private readonly key = randomBytes(32);
  private readonly verified = new Map<string, { hash: string; mac: Buffer }>();
  private readonly maxCached: number;
  private running = 0;
  /** Waiters for a scrypt slot: `high` (no failures from that identity and source) are served first; true = slot granted, false = evicted (busy). */
  private readonly high: ((granted: boolean) => void)[] = [];
  private readonly low: ((granted: boolean) => void)[] = [];
  /** Moving average of a scrypt check, ms (what a cheap refusal waits). */
  private typicalMs = 50;
  readonly counters = { hashed: 0, cachedOk: 0, cachedWrong: 0, unknown: 0, busy: 0 };

  constructor(private readonly opts: PasswordCheckerOptions) {
    this.maxCached = opts.maxCached ?? 100_000;
  }

  /**
   * Checks `plain` for `identity` against `storedHash` (undefined: no such identity). `priority`
   * 'high' is for an attempt from an identity and source that have not been failing: when the
   * waiting room is full it takes the place of a 'low' waiter (refused as busy), so a guessing
   * flood cannot keep a real first login out of the hashing pool.
   */
  async check(identity: string, plain: string, storedHash: string | undefined, priority: 'high' | 'low' = 'high'): Promise<CheckResult> {
    if (storedHash === undefined) {
      this.counters.unknown++;
      await this.pause();
      return 'wrong';
    }
    const mac = this.mac(identity, plain);
    const known = this.verified.get(identity);
    if (known && known.hash === storedHash) {
      if (timingSafeEqual(known.mac, mac)) {
        this.counters.cachedOk++;
        return 'ok';
      }
      this.counters.cachedWrong++;
      await this.pause();
      return 'wrong';
    }
    if (!(await this.slot(priority))) {
      this.counters.busy++;
      return 'busy';
    }
    const started = performance.now();
    let ok: boolean;
    try {
      this.counters.hashed++;
      ok = await verifyPassword(plain, storedHash);
    } finally {
      this.release();
    }
    this.typicalMs = 0.9 * this.typicalMs + 0.1 * (performance.now() - started);
    if (ok) this.remember(identity, storedHash, mac);
    return ok ? 'ok' : 'wrong';
  }

  /** Forgets an identity's verified credential (revocation). */
  forget(identity: string): void {
    this.verified.delete(identity);
  }

  private mac(identity: string, plain: string): Buffer {
    return createHmac('sha256', this.key).update(identity).update('\u0000').update(plain).digest();
  }

  private remember(identity: string, hash: string, mac: Buffer): void {
    this.verified.delete(identity);
    if (this.verified.size >= this.maxCached) {
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(identity, { hash, mac });
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.typicalMs * (0.8 + 0.4 * Math.random())));
  }

  /** Waits for a scrypt slot; false when there is no room (or a higher-priority check took this one's place). */
  private slot(priority: 'high' | 'low'): Promise<boolean> {
    if (this.running < this.opts.hashConcurrency) {
      this.running++;
      return Promise.resolve(true);
    }
    if (this.high.length + this.low.length >= this.opts.maxQueued) {
      if (priority === 'low' || this.low.length === 0) return Promise.resolve(false);
      this.low.pop()!(false); // the newest low waiter gives its place up
    }
    return new Promise((resolve) => (priority === 'high' ? this.high : this.low).push(resolve));
  }

  private release(): void {
    const next = this.high.shift() ?? this.low.shift();
    if (next) next(true); // the slot passes on: running stays
    else this.running--;
  }
}
