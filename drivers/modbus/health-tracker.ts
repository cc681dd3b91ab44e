import { emptyHealth, type DeviceHealth } from '../driver.js';

/** Consecutive reads without a single Good point after which a device is reported down. */
export const DOWN_AFTER_FAILED_READS = 3;

export interface ReadOutcome {
  /** Points in the read, and how many came back Good. */
  points: number;
  good: number;
  /** Wall-clock ms of the read. */
  nowMs: number;
  /** The last connect attempt failed and no connection has been made since. */
  unreachable: boolean;
  /** The device behind a gateway did not answer (Modbus exception 10/11) on every request. */
  deviceDown: boolean;
}

/**
 * Pure bookkeeping behind Driver.health(): counters, errors by kind and the ok/degraded/down
 * state. ok = the last read was all Good; degraded = some points Bad, or whole reads failing fewer
 * than DOWN_AFTER_FAILED_READS times in a row (a timeout that dropped the connection starts here);
 * down = the device cannot be connected, that many failed reads in a row, or the gateway reports
 * the device unreachable.
 */
export class HealthTracker {
  private readonly h: DeviceHealth = emptyHealth();

  error(kind: string, message: string): void {
    this.h.errors++;
    this.h.errorsByKind[kind] = (this.h.errorsByKind[kind] ?? 0) + 1;
    this.h.lastError = message;
  }

  /** Counted by kind only (e.g. a NaN value): not a communication error. */
  note(kind: string): void {
    this.h.errorsByKind[kind] = (this.h.errorsByKind[kind] ?? 0) + 1;
  }

  rtt(ms: number): void {
    this.h.lastRttMs = Math.round(ms * 100) / 100;
  }

  read(o: ReadOutcome): void {
    const h = this.h;
    h.reads++;
    if (o.good > 0) h.lastGoodMs = o.nowMs;
    h.consecutiveErrors = o.points > 0 && o.good === 0 ? h.consecutiveErrors + 1 : 0;
    if (o.unreachable || o.deviceDown || h.consecutiveErrors >= DOWN_AFTER_FAILED_READS) h.state = 'down';
    else if (o.good < o.points) h.state = 'degraded';
    else h.state = 'ok';
  }

  /** A connect attempt outside a read failed (Driver.connect). */
  disconnected(): void {
    this.h.state = 'down';
  }

  snapshot(): DeviceHealth {
    return { ...this.h, errorsByKind: { ...this.h.errorsByKind } };
  }
}
