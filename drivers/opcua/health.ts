import { X509Certificate } from 'node:crypto';
import { emptyHealth, type DeviceHealth, type DeviceState } from '../driver.js';

const DAY_MS = 86_400_000;

/** Validity of a certificate at nowMs: "ok", "expiring" (under warnDays left), "expired" or "not_yet_valid". Pure. */
export function certificateTimeState(cert: Buffer | string, nowMs: number, warnDays = 30): { state: 'ok' | 'expiring' | 'expired' | 'not_yet_valid'; validTo: string; daysLeft: number } {
  const x = new X509Certificate(cert);
  const from = Date.parse(x.validFrom);
  const to = Date.parse(x.validTo);
  const daysLeft = Math.floor((to - nowMs) / DAY_MS);
  const validTo = new Date(to).toISOString();
  if (nowMs < from) return { state: 'not_yet_valid', validTo, daysLeft };
  if (nowMs > to) return { state: 'expired', validTo, daysLeft };
  return { state: daysLeft < warnDays ? 'expiring' : 'ok', validTo, daysLeft };
}

/**
 * Bookkeeping behind OpcuaDriver.health(). ok = connected and every tag Good; degraded = connected
 * with some tags Bad (refused NodeIds, Bad values) or a certificate close to expiry; down = not
 * connected. Certificate and clock problems stay in lastError and errorsByKind.
 */
export class OpcuaHealth {
  private readonly h: DeviceHealth = emptyHealth();
  private warnings = new Map<string, string>();

  error(kind: string, message: string): void {
    this.h.errors++;
    this.h.consecutiveErrors++;
    this.h.errorsByKind[kind] = (this.h.errorsByKind[kind] ?? 0) + 1;
    this.h.lastError = message;
  }

  /** A standing condition that does not stop data (certificate expiring soon): shown until cleared. */
  warn(kind: string, message: string | null): void {
    if (message === null) this.warnings.delete(kind);
    else if (!this.warnings.has(kind)) {
      this.warnings.set(kind, message);
      this.h.errorsByKind[kind] = (this.h.errorsByKind[kind] ?? 0) + 1;
    }
  }

  count(kind: string, n = 1): void {
    this.h.errorsByKind[kind] = (this.h.errorsByKind[kind] ?? 0) + n;
  }

  state(state: DeviceState): void {
    this.h.state = state;
    if (state === 'ok' || state === 'degraded') this.h.consecutiveErrors = 0;
  }

  read(points: number, good: number, nowMs: number, rttMs: number): void {
    this.h.reads++;
    if (good > 0) this.h.lastGoodMs = nowMs;
    this.h.lastRttMs = Math.round(rttMs * 100) / 100;
    this.h.state = good === points ? 'ok' : good === 0 && points > 0 ? 'down' : 'degraded';
  }

  good(nowMs: number): void {
    this.h.lastGoodMs = nowMs;
  }

  snapshot(): DeviceHealth {
    const h = { ...this.h, errorsByKind: { ...this.h.errorsByKind } };
    if (this.warnings.size > 0) {
      const w = [...this.warnings.values()].join('; ');
      h.lastError = h.lastError ? `${h.lastError}; ${w}` : w;
      if (h.state === 'ok') h.state = 'degraded';
    }
    return h;
  }
}
