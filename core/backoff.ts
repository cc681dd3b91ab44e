export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

/**
 * Exponential backoff with full jitter: attempt n waits a uniform random time in
 * [initial/2, min(max, initial * 2^n)], so a fleet reconnecting after a broker restart spreads out.
 */
export class Backoff {
  private attempt = 0;
  private readonly random: () => number;
  constructor(private readonly opts: BackoffOptions) {
    this.random = opts.random ?? Math.random;
  }

  /** The next delay; `maxMs` overrides the configured longest delay for this one (e.g. longer after a refused login). */
  next(maxMs: number = this.opts.maxMs): number {
    const ceiling = Math.min(maxMs, this.opts.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const floor = Math.min(this.opts.initialMs / 2, ceiling);
    return Math.round(floor + this.random() * (ceiling - floor));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

/** Resolves after ms, or rejects with the signal's reason when aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
