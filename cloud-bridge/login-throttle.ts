/**
 * Failed-login throttling: after `limit` failures of one key (a gateway id or an IP) within
 * `windowMs`, the key is locked for `lockoutMs` and its attempts are refused without a password
 * check. A success clears the gateway's count. Bounded memory: the table is cleared when full.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; firstMs: number; lockedUntilMs: number }>();

  constructor(private readonly opts: { limit: number; windowMs: number; lockoutMs: number; now: () => number; maxKeys?: number }) {}

  /** True when the key is locked now. */
  locked(key: string): boolean {
    const f = this.failures.get(key);
    return f !== undefined && f.lockedUntilMs > this.opts.now();
  }

  fail(key: string): void {
    const now = this.opts.now();
    let f = this.failures.get(key);
    if (!f || now - f.firstMs > this.opts.windowMs) {
      if (this.failures.size >= (this.opts.maxKeys ?? 100_000)) this.failures.clear();
      f = { count: 0, firstMs: now, lockedUntilMs: 0 };
      this.failures.set(key, f);
    }
    f.count++;
    if (f.count >= this.opts.limit) f.lockedUntilMs = now + this.opts.lockoutMs;
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }
}
