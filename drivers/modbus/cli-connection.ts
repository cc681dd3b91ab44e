import { UsageError } from '../../core/errors.js';
import { modbusDeviceSchemas, PARITIES, type ModbusDevice } from './config.js';

/** Connection options shared by `jinyun read` and `jinyun scan` (node:util parseArgs format). */
export const CONNECTION_OPTIONS = {
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '502' },
  unit: { type: 'string', default: '1' },
  'rtu-over-tcp': { type: 'boolean', default: false },
  serial: { type: 'string' },
  baud: { type: 'string', default: '9600' },
  parity: { type: 'string', default: 'none' },
  'data-bits': { type: 'string', default: '8' },
  'stop-bits': { type: 'string', default: '1' },
  timeout: { type: 'string', default: '1000' },
} as const;

export const CONNECTION_USAGE = `  where:  --host H --port P (Modbus TCP, default 127.0.0.1:502) [--rtu-over-tcp] (RTU frames over TCP, serial-to-Ethernet converter)
          or --serial /dev/ttyUSB0 [--baud 9600] [--parity none|even|odd] [--data-bits 8] [--stop-bits 1]
          --unit N (unit id, default 1), --timeout MS (per request, default 1000)`;

export type ConnectionValues = { [K in keyof typeof CONNECTION_OPTIONS]?: (typeof CONNECTION_OPTIONS)[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined };

export function intArg(name: string, raw: string | undefined, min: number, max: number, usage: (m: string) => UsageError): number {
  const n = Number(raw);
  if (raw === undefined || !/^\d+$/.test(raw) || n < min || n > max) throw usage(`--${name} must be an integer from ${min} to ${max} (got "${raw ?? ''}")`);
  return n;
}

/**
 * A validated device for the command line: the same schema as the edge config, so a command that
 * works is a config that works. Tags are the command's own; unitId and timeouts come from the flags.
 */
export function cliDevice(v: ConnectionValues, tags: unknown[], usage: (m: string) => UsageError, extra: Record<string, unknown> = {}): ModbusDevice {
  const unitId = intArg('unit', v.unit, 0, 255, usage);
  const timeoutMs = intArg('timeout', v.timeout, 50, 60_000, usage);
  const common = { name: 'cli', unitId, timeoutMs, reconnectInitialMs: 10, reconnectMaxMs: 10, maxGapRegisters: 0, tags, ...extra };
  let input: Record<string, unknown>;
  if (v.serial !== undefined) {
    if (!(PARITIES as readonly string[]).includes(v.parity ?? '')) throw usage(`--parity must be one of ${PARITIES.join(', ')}`);
    input = {
      type: 'modbus-rtu', path: v.serial, baudRate: intArg('baud', v.baud, 300, 921_600, usage), parity: v.parity,
      dataBits: intArg('data-bits', v['data-bits'], 7, 8, usage), stopBits: intArg('stop-bits', v['stop-bits'], 1, 2, usage), ...common,
    };
  } else {
    input = { type: v['rtu-over-tcp'] ? 'modbus-rtu-over-tcp' : 'modbus-tcp', host: v.host, port: intArg('port', v.port, 1, 65535, usage), ...common };
  }
  const schema = modbusDeviceSchemas[input.type as ModbusDevice['type']];
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw usage(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data as ModbusDevice;
}
