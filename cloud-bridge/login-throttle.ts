export interface LoginThrottleOptions {
  /** Failures of one key before its attempts are delayed. */
  limit: number;
  /** A key's failures are forgotten this long after its last failure (and once its delay is over). */
  windowMs: number;
  /** Delay after the `limit`-th failure; it doubles with every further failure... */
  firstDelayMs: number;
  /** ...up to this. */
  maxDelayMs: number;
  now: () => number;
  /** Most keys tracked at once (default 100,000). */
  maxKeys?: number;
}

interface Entry {
  failures: number;
  lastMs: number;
  /** No attempt of the key is checked before this. */
  untilMs: number;
}

/**
 * Failed-login throttling by growing delays, never a hard lock of an identity: after `limit`
 * failures of one key, the key's next attempt is refused unchecked for `firstDelayMs`, and every
 * further failure doubles the delay up to `maxDelayMs`. An attempt refused during a delay is not a
 * failure (it was never checked), so a client retrying in a loop gets one check per delay. A
 * success clears the key. The caller picks the keys: the cloud bridge keys by (identity, source
 * address) and by (tenant, source address), so an attacker slows down only itself and its own
 * address, and the real owner of an identity connecting from elsewhere is never refused.
 *
 * Bounded memory: at most `maxKeys` keys. The map keeps last-failure order (a failure moves its key
 * to the end), so forgotten keys sit at the front; when the table is full a new key makes room by
 * dropping forgotten keys, then the oldest key not delayed now, and only when every key is delayed,
 * the oldest one. A flood of fresh keys (one failure each) therefore never frees a delayed key.
 */
export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;

  constructor(private readonly opts: LoginThrottleOptions) {
    this.maxKeys = Math.max(1, opts.maxKeys ?? 100_000);
  }

  /** Keys tracked now (including forgotten ones not yet dropped). */
  get size(): number {
    return this.entries.size;
  }

  /** Milliseconds before an attempt of the key may be checked; 0 = now. */
  retryAfterMs(key: string): number {
    const e = this.entries.get(key);
    return e ? Math.max(0, e.untilMs - this.opts.now()) : 0;
  }

  /** Failures of the key counted now (0 once forgotten). */
  failures(key: string): number {
    const e = this.entries.get(key);
    return e && !this.forgotten(e, this.opts.now()) ? e.failures : 0;
  }

  /** Counts a failed (checked) login of the key; returns the delay it now has. */
  fail(key: string): number {
    const now = this.opts.now();
    let e = this.entries.get(key);
    if (e) this.entries.delete(key); // re-inserted at the end: last-failure order
    if (!e || this.forgotten(e, now)) {
      this.makeRoom(now);
      e = { failures: 0, lastMs: now, untilMs: 0 };
    }
    e.failures++;
    e.lastMs = now;
    const over = e.failures - this.opts.limit;
    const delay = over < 0 ? 0 : Math.min(this.opts.maxDelayMs, this.opts.firstDelayMs * 2 ** Math.min(over, 40));
    e.untilMs = now + delay;
    this.entries.set(key, e);
    this.sweep(now);
    return delay;
  }

  /** Drops forgotten keys from the front (last-failure order): a few per failure, amortized O(1), so expired keys do not wait for the table to fill. */
  private sweep(now: number): void {
    let n = 0;
    for (const [key, e] of this.entries) {
      if (n++ >= 4 || !this.forgotten(e, now)) break;
      this.entries.delete(key);
    }
  }

  /** A successful login: the key's failures and delay are forgotten. */
  succeed(key: string): void {
    this.entries.delete(key);
  }

  private forgotten(e: Entry, now: number): boolean {
    return now >= e.untilMs && now - e.lastMs > this.opts.windowMs;
  }

  /** Before a new key is added: drops keys until there is room for one. */
  private makeRoom(now: number): void {
    if (this.entries.size < this.maxKeys) return;
    for (const [key, e] of this.entries) {
      if (now - e.lastMs <= this.opts.windowMs) break; // the rest failed more recently
      if (now >= e.untilMs) this.entries.delete(key);
    }
    if (this.entries.size < this.maxKeys) return;
    for (const [key, e] of this.entries) {
      if (now >= e.untilMs) {
        this.entries.delete(key);
        return;
      }
    }
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}

/**
 * The two throttles every login path uses (MQTT and the API): failures are keyed by
 * (identity, source) and by (tenant of the identity, source); the source key allows `sourceFactor`
 * times the failures of a pair. A correct credential from a source that has not been failing is
 * always checked, so nobody can keep a gateway or a token out by failing in its name.
 */
export class LoginGuard {
  private readonly pairs: LoginThrottle;
  private readonly sources: LoginThrottle;

  constructor(opts: Omit<LoginThrottleOptions, 'maxKeys'> & { sourceFactor?: number }) {
    this.pairs = new LoginThrottle(opts);
    this.sources = new LoginThrottle({ ...opts, limit: opts.limit * (opts.sourceFactor ?? 4) });
  }

  /** 0 when the attempt may be checked, else the ms to wait. `tenant` is the identity's tenant ('' when unknown). */
  retryAfterMs(identity: string, tenant: string, source: string): number {
    return Math.max(this.pairs.retryAfterMs(pairKey(identity, source)), this.sources.retryAfterMs(sourceKey(tenant, source)));
  }

  /** True when neither the pair nor the source (for this tenant) has failures counted now: the attempt of someone who has not been guessing. */
  clean(identity: string, tenant: string, source: string): boolean {
    return this.pairs.failures(pairKey(identity, source)) === 0 && this.sources.failures(sourceKey(tenant, source)) === 0;
  }

  /** A checked attempt failed; returns the delay the pair now has. */
  fail(identity: string, tenant: string, source: string): number {
    this.sources.fail(sourceKey(tenant, source));
    return this.pairs.fail(pairKey(identity, source));
  }

  /** A checked attempt succeeded: the pair starts afresh (the source key is not cleared: one good login must not wash away guesses at other identities). */
  succeed(identity: string, source: string): void {
    this.pairs.succeed(pairKey(identity, source));
  }
}

const pairKey = (identity: string, source: string): string => `pair\u0000${identity}\u0000${source}`;
const sourceKey = (tenant: string, source: string): string => `src\u0000${tenant}\u0000${source}`;
