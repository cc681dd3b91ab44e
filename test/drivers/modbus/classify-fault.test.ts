import { describe, expect, it } from 'vitest';
import { classifyFault } from '../../../drivers/modbus/classify-fault.js';
import { HealthTracker } from '../../../drivers/modbus/health-tracker.js';
import { DecodeError, NotConnectedError, TimeoutError } from '../../../core/errors.js';
import { Quality, qualityName } from '../../../core/quality.js';

const exc = (code: number) => Object.assign(new Error(`Modbus exception ${code}`), { modbusCode: code });
const errno = (code: string, message: string) => Object.assign(new Error(message), { errno: code, code });

describe('classifyFault', () => {
  it('maps Modbus exception codes', () => {
    const cases: [number, number, Partial<ReturnType<typeof classifyFault>>][] = [
      [1, Quality.BadConfigurationError, { configProblem: true, reconnect: false }],
      [2, Quality.BadConfigurationError, { configProblem: true }],
      [3, Quality.BadConfigurationError, { configProblem: true }],
      [4, Quality.BadDeviceFailure, { configProblem: false }],
      [5, Quality.BadResourceUnavailable, {}],
      [6, Quality.BadResourceUnavailable, {}],
      [10, Quality.BadNoCommunication, { deviceDown: true }],
      [11, Quality.BadNoCommunication, { deviceDown: true, reconnect: false }],
      [9, Quality.BadCommunicationError, {}],
    ];
    for (const [code, quality, flags] of cases) {
      const f = classifyFault(exc(code));
      expect(qualityName(f.quality), `exception ${code}`).toBe(qualityName(quality));
      expect(f).toMatchObject({ kind: `exception_${code}`, exceptionCode: code, reconnect: false, ...flags });
    }
  });

  it('maps timeouts, socket errors and garbled answers, all of which drop the connection', () => {
    expect(classifyFault(new TimeoutError('FC3 0+1: no answer within 100 ms'))).toMatchObject({ kind: 'timeout', quality: Quality.BadTimeout, reconnect: true });
    // modbus-serial's own timeout: a plain object with errno ETIMEDOUT and message "Timed out"
    expect(classifyFault({ name: 'TransactionTimedOutError', message: 'Timed out', errno: 'ETIMEDOUT' })).toMatchObject({ kind: 'timeout', quality: Quality.BadTimeout });
    expect(classifyFault(errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'))).toMatchObject({ kind: 'connection', quality: Quality.BadCommunicationError, reconnect: true });
    expect(classifyFault({ name: 'PortNotOpenError', message: 'Port Not Open', errno: 'ECONNREFUSED' })).toMatchObject({ kind: 'connection' });
    expect(classifyFault(new NotConnectedError('connection closed by the device'))).toMatchObject({ kind: 'connection', reconnect: true });
    expect(classifyFault(new Error('Data length error, expected 7 got 5'))).toMatchObject({ kind: 'protocol', reconnect: true });
    expect(classifyFault(new Error('Unexpected data error, expected address 1 got 2'))).toMatchObject({ kind: 'protocol' });
    expect(classifyFault(new DecodeError('short_response', 'short'))).toMatchObject({ kind: 'protocol' });
    expect(classifyFault('weird')).toMatchObject({ kind: 'error', quality: Quality.BadCommunicationError, reconnect: true });
  });
});

describe('HealthTracker', () => {
  const read = (good: number, points = 2, extra: { unreachable?: boolean; deviceDown?: boolean } = {}) => ({ points, good, nowMs: 1000, unreachable: false, deviceDown: false, ...extra });

  it('goes ok -> degraded -> down after 3 failed reads, and back', () => {
    const h = new HealthTracker();
    expect(h.snapshot().state).toBe('unknown');
    h.read(read(2));
    expect(h.snapshot()).toMatchObject({ state: 'ok', reads: 1, lastGoodMs: 1000, consecutiveErrors: 0 });
    h.read(read(1));
    expect(h.snapshot()).toMatchObject({ state: 'degraded', consecutiveErrors: 0 });
    h.read(read(0));
    h.read(read(0));
    expect(h.snapshot()).toMatchObject({ state: 'degraded', consecutiveErrors: 2 });
    h.read(read(0));
    expect(h.snapshot()).toMatchObject({ state: 'down', consecutiveErrors: 3 });
    h.read(read(2));
    expect(h.snapshot()).toMatchObject({ state: 'ok', consecutiveErrors: 0, reads: 6 });
  });

  it('is down at once when unreachable or the gateway reports the device gone', () => {
    const h = new HealthTracker();
    h.read(read(0, 2, { unreachable: true }));
    expect(h.snapshot().state).toBe('down');
    h.read(read(0, 2, { deviceDown: true }));
    expect(h.snapshot().state).toBe('down');
  });

  it('counts errors by kind and keeps snapshots independent', () => {
    const h = new HealthTracker();
    h.error('timeout', 'FC3 0+2: no answer');
    h.error('timeout', 'again');
    h.error('exception_2', 'Modbus exception 2');
    h.note('nan_value');
    const s = h.snapshot();
    expect(s).toMatchObject({ errors: 3, errorsByKind: { timeout: 2, exception_2: 1, nan_value: 1 }, lastError: 'Modbus exception 2' });
    s.errorsByKind.timeout = 99;
    expect(h.snapshot().errorsByKind.timeout).toBe(2);
  });
});
