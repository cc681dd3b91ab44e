import type { Logger } from '../core/logger.js';
import type { Reading } from '../core/reading.js';

/** What every driver gets from the runtime: one context object, no singletons. */
export interface DriverContext {
  logger: Logger;
  /** Wall clock in ms (source timestamps); injectable for tests. */
  now?: () => number;
}

/** A configured tag with the gateway-local id the spool assigned to it. */
export interface Point<TagConfig = unknown> {
  tagId: number;
  /** "{device}/{tag}" */
  key: string;
  config: TagConfig;
}

export type DeviceState = 'unknown' | 'ok' | 'degraded' | 'down';

/** Per-device health as drivers report it; the edge publishes it in Health messages. */
export interface DeviceHealth {
  state: DeviceState;
  /** Wall-clock ms of the last read in which at least one point was Good (0 = never). */
  lastGoodMs: number;
  consecutiveErrors: number;
  reads: number;
  errors: number;
  /** Error counts by kind, e.g. { timeout: 3, exception_2: 1, disconnected: 1 }. */
  errorsByKind: Record<string, number>;
  lastRttMs: number;
  lastError: string;
}

/**
 * A device connection. construct = validate, connect = I/O.
 * read() never rejects because of the device: a failed point comes back as a Reading with Bad quality
 * and a null value; it rejects only when the signal aborts. Reconnecting is the driver's own business
 * inside read() (with backoff), so one dead device never stalls the caller beyond its timeout.
 */
export interface Driver<TagConfig = unknown> {
  connect(signal?: AbortSignal): Promise<void>;
  read(points: Point<TagConfig>[], signal?: AbortSignal): Promise<Reading[]>;
  close(): Promise<void>;
  health(): DeviceHealth;
}

export function emptyHealth(): DeviceHealth {
  return { state: 'unknown', lastGoodMs: 0, consecutiveErrors: 0, reads: 0, errors: 0, errorsByKind: {}, lastRttMs: 0, lastError: '' };
}

/**
 * A driver that pushes readings instead of being polled (OPC UA subscriptions). The edge calls
 * subscribe() once instead of running a poller; readings keep coming (including Bad quality events
 * during outages) until close(). Recovery after a connection loss is the driver's own business.
 */
export interface SubscribingDriver<TagConfig = unknown> extends Driver<TagConfig> {
  /** Resolves once the first attempt is over (subscribed or not); never rejects because of the device. */
  subscribe(points: Point<TagConfig>[], onReadings: (readings: Reading[]) => void): Promise<void>;
}

export function isSubscribingDriver<T>(d: Driver<T>): d is SubscribingDriver<T> {
  return typeof (d as Partial<SubscribingDriver<T>>).subscribe === 'function';
}
