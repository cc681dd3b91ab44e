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

  allow(key: string): boolean {
    const t = this.now();
    const prev = this.last.get(key);
    if (prev !== undefined && t - prev < this.intervalMs) return false;
    if (this.last.size >= this.maxKeys) this.last.clear();
    this.last.set(key, t);
    return true;
  }
}
