export interface LoginThrottleOptions {
  /** Failures of one key within `windowMs` that lock it. */
  limit: number;
  /** Fixed window opened by a key's first failure; a failure after it opens a new window. */
  windowMs: number;
  /** How long a locked key stays locked. */
  lockoutMs: number;
  now: () => number;
  /** Most keys tracked at once (default 100,000). */
  maxKeys?: number;
}

/**
 * Failed-login throttling: after `limit` failures of one key (a gateway id or an IP) within
 * `windowMs`, the key is locked for `lockoutMs` and its attempts are refused without a password
 * check; when the lockout is over the key starts afresh. A success clears the key.
 *
 * Bounded memory: at most `maxKeys` keys. When the table is full, a new key makes room by dropping,
 * in this order: keys whose lockout or window is over, then the oldest key that is not locked,
 * and only when every key is locked, the oldest locked key. A flood of fresh keys (one failure
 * each) therefore never unlocks a locked key; only `maxKeys` newer locked keys can push it out.
 * Each map keeps insertion order, which is the order of window starts (counting) and of lock times
 * (locked, all with the same lockoutMs), so the over ones are at the front: making room costs
 * amortized O(1).
 */
export class LoginThrottle {
  /** Keys with failures in their current window, not locked; oldest window first. */
  private readonly counting = new Map<string, { count: number; firstMs: number }>();
  /** Locked keys with the end of their lockout; earliest lock first. */
  private readonly lockedUntil = new Map<string, number>();
  private readonly maxKeys: number;

  constructor(private readonly opts: LoginThrottleOptions) {
    this.maxKeys = Math.max(1, opts.maxKeys ?? 100_000);
  }

  /** Keys tracked now (counting or locked, including ones over but not yet dropped). */
  get size(): number {
    return this.counting.size + this.lockedUntil.size;
  }

  /** True when the key is locked now. */
  locked(key: string): boolean {
    const until = this.lockedUntil.get(key);
    return until !== undefined && until > this.opts.now();
  }

  /** Counts a failed login of the key; the `limit`-th within the window locks it. A failure of a locked key changes nothing. */
  fail(key: string): void {
    const now = this.opts.now();
    const until = this.lockedUntil.get(key);
    if (until !== undefined) {
      if (until > now) return;
      this.lockedUntil.delete(key);
    }
    let f = this.counting.get(key);
    if (f && now - f.firstMs > this.opts.windowMs) {
      this.counting.delete(key); // re-inserted at the end: the map stays in window-start order
      f = undefined;
    }
    if (!f) {
      this.makeRoom(now);
      f = { count: 0, firstMs: now };
      this.counting.set(key, f);
    }
    f.count++;
    if (f.count >= this.opts.limit) {
      this.counting.delete(key);
      this.lockedUntil.set(key, now + this.opts.lockoutMs);
    }
  }

  /** A successful login: the key's failures (and lockout) are forgotten. */
  succeed(key: string): void {
    this.counting.delete(key);
    this.lockedUntil.delete(key);
  }

  /** Before a new key is added: drops keys until there is room for one. */
  private makeRoom(now: number): void {
    if (this.size < this.maxKeys) return;
    for (const [key, until] of this.lockedUntil) {
      if (until > now) break;
      this.lockedUntil.delete(key);
    }
    for (const [key, f] of this.counting) {
      if (now - f.firstMs <= this.opts.windowMs) break;
      this.counting.delete(key);
    }
    if (this.size < this.maxKeys) return;
    const oldest = this.counting.keys().next();
    if (!oldest.done) this.counting.delete(oldest.value);
    else {
      const oldestLocked = this.lockedUntil.keys().next();
      if (!oldestLocked.done) this.lockedUntil.delete(oldestLocked.value);
    }
  }
}
