/** Counters keyed by a reason code; a null-prototype object so any code is a safe key. */
export type CounterMap = Record<string, number>;

export function counterMap(): CounterMap {
  return Object.create(null) as CounterMap;
}

export function bump(map: CounterMap, key: string, n = 1): void {
  map[key] = (map[key] ?? 0) + n;
}

/**
 * Lets a log line for a given key through at most once per interval (the bad-input catalogue's
 * "log at most once per minute per source"); counting is done separately and never limited.
 */
export class LogLimiter {
  private readonly last = new Map<string, number>();

  constructor(private readonly intervalMs = 60_000, private readonly now: () => number = Date.now, private readonly maxKeys = 10_000) {}

  /**
   * Keys longer than 200 characters are cut (a caller passes what a peer sent). The map is kept in
   * last-allowed order, so expired keys sit at the front and go first; when every key is live the
   * oldest one goes. Memory: at most maxKeys keys of at most 200 characters.
   */
  allow(key: string): boolean {
    const k = key.length > 200 ? key.slice(0, 200) : key;
    const t = this.now();
    const prev = this.last.get(k);
    if (prev !== undefined && t - prev < this.intervalMs) return false;
    this.last.delete(k);
    for (const [old, at] of this.last) {
      if (this.last.size < this.maxKeys && t - at < this.intervalMs) break;
      this.last.delete(old);
    }
    this.last.set(k, t);
    return true;
  }

  /** Keys held now. */
  get size(): number {
    return this.last.size;
  }
}
