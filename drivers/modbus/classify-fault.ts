import { DecodeError, NotConnectedError, TimeoutError, errorMessage } from '../../core/errors.js';
import { Quality } from '../../core/quality.js';

/** What a failed Modbus request means for its points, the connection and the device. */
export interface Fault {
  /** Key in DeviceHealth.errorsByKind: timeout, connection, protocol, exception_N. */
  kind: string;
  /** OPC UA StatusCode given to the request's points. */
  quality: number;
  /** The socket can no longer be trusted (no answer, reset, stale bytes): drop it and reconnect with backoff. */
  reconnect: boolean;
  /** The device behind a gateway is gone (exceptions 10/11): health goes straight to down. */
  deviceDown: boolean;
  /** The request itself is wrong (exceptions 1-3): an operator must fix the config; log it once. */
  configProblem: boolean;
  exceptionCode?: number;
  message: string;
}

/** Modbus exception codes (Modbus Application Protocol V1.1b3, section 7). */
export const EXCEPTION_NAMES: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge (busy with a long operation)',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

function fault(kind: string, quality: number, message: string, flags: Partial<Pick<Fault, 'reconnect' | 'deviceDown' | 'configProblem'>> = {}): Fault {
  return { kind, quality, message, reconnect: flags.reconnect ?? false, deviceDown: flags.deviceDown ?? false, configProblem: flags.configProblem ?? false };
}

/** Maps a Modbus exception response to the quality of the points it covers. */
export function classifyException(code: number): Fault {
  const message = `Modbus exception ${code} (${EXCEPTION_NAMES[code] ?? 'unknown'})`;
  const kind = `exception_${code}`;
  let f: Fault;
  if (code >= 1 && code <= 3) f = fault(kind, Quality.BadConfigurationError, message, { configProblem: true });
  else if (code === 4 || code === 8) f = fault(kind, Quality.BadDeviceFailure, message);
  else if (code === 5 || code === 6) f = fault(kind, Quality.BadResourceUnavailable, message);
  else if (code === 10 || code === 11) f = fault(kind, Quality.BadNoCommunication, message, { deviceDown: true });
  else f = fault(kind, Quality.BadCommunicationError, message);
  f.exceptionCode = code;
  return f;
}

const PROTOCOL_MESSAGES = /^(Data length error|CRC error|Unexpected data error)/;

/**
 * Classifies anything a request or a connect attempt can reject with: our TimeoutError, a
 * modbus-serial error (modbusCode for exception responses, errno ETIMEDOUT for its own timeout,
 * "Port Not Open"), a socket error (ECONNREFUSED, ECONNRESET, ...), or a malformed response.
 */
export function classifyFault(err: unknown): Fault {
  const e = (err ?? {}) as { modbusCode?: unknown; errno?: unknown; code?: unknown; message?: unknown };
  const message = errorMessage(err);
  if (typeof e.modbusCode === 'number') return classifyException(e.modbusCode);
  if (err instanceof TimeoutError || e.errno === 'ETIMEDOUT' || e.code === 'ETIMEDOUT' || /timed out/i.test(message)) {
    return fault('timeout', Quality.BadTimeout, message, { reconnect: true });
  }
  if (err instanceof DecodeError || PROTOCOL_MESSAGES.test(message)) {
    return fault('protocol', Quality.BadCommunicationError, message, { reconnect: true });
  }
  if (err instanceof NotConnectedError || typeof e.errno === 'string' || typeof e.code === 'string' || message === 'Port Not Open') {
    return fault('connection', Quality.BadCommunicationError, message, { reconnect: true });
  }
  return fault('error', Quality.BadCommunicationError, message, { reconnect: true });
}
