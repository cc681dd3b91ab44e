import { parseArgs } from 'node:util';
import { UsageError } from '../../core/errors.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { ModbusSimServer } from './modbus-sim-server.js';
import { profileNames } from './profiles/index.js';

export const MODBUS_SIM_USAGE = `usage: jinyun sim modbus [--profile coal-mine|steel-plant] [--port 5020] [--host 127.0.0.1] [--seed 1] [--tick-ms 100]
         [--rtu-over-tcp] [--serial PATH [--baud 9600] [--parity none|even|odd]]
  --port 0 picks a free port; the port is in the JSON line printed on stdout once listening.
  --rtu-over-tcp answers RTU frames on the TCP port (as a serial-to-Ethernet converter passes them);
  --serial also answers as an RTU slave on that serial port (e.g. one end of a socat pty pair), same registers.`;

const usage = (message: string): UsageError => new UsageError(`${message}\n${MODBUS_SIM_USAGE}`);

export interface SimCliIo {
  /** Where the one "listening" JSON line goes (process.stdout by default). */
  stdout?: { write(line: string): unknown };
  logger?: Logger;
  /** Stops the simulator when aborted (SIGINT/SIGTERM do the same). */
  signal?: AbortSignal;
  /** Receives the running server (tests). */
  onStarted?: (server: ModbusSimServer) => void;
}

function intOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw usage(`--${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  return n;
}

/**
 * `jinyun sim modbus ...`: runs a Modbus TCP simulator until SIGINT/SIGTERM. Prints exactly one
 * JSON line on stdout when listening:
 * {"event":"listening","protocol":"modbus-tcp","host":"127.0.0.1","port":5020,"profile":"coal-mine"}
 * and logs to stderr.
 */
export async function runModbusSim(argv: string[], io: SimCliIo = {}): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      profile: { type: 'string', default: 'coal-mine' },
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      seed: { type: 'string' },
      'tick-ms': { type: 'string' },
      'rtu-over-tcp': { type: 'boolean', default: false },
      serial: { type: 'string' },
      baud: { type: 'string' },
      parity: { type: 'string', default: 'none' },
    },
    strict: true,
    allowPositionals: false,
  });
  const profile = values.profile;
  if (!profileNames().includes(profile)) throw usage(`unknown profile "${profile}"; known: ${profileNames().join(', ')}`);
  const port = intOption('port', values.port, 5020, 0, 65535);
  const seed = intOption('seed', values.seed, 1, 0, 2 ** 31 - 1);
  const tickMs = intOption('tick-ms', values['tick-ms'], 100, 0, 3_600_000);
  const baudRate = intOption('baud', values.baud, 9600, 300, 921_600);
  const parity = values.parity;
  if (parity !== 'none' && parity !== 'even' && parity !== 'odd') throw usage(`--parity must be none, even or odd (got "${parity}")`);
  const logger = io.logger ?? createLogger({ fd: 2 });

  const framing = values['rtu-over-tcp'] ? 'rtu' : 'mbap';
  const server = new ModbusSimServer({ port, host: values.host, profile, seed, tickMs, logger, framing });
  const actualPort = await server.start();
  if (values.serial !== undefined) {
    await server.serveSerial(values.serial, { baudRate, parity }).catch(async (err: unknown) => {
      await server.stop();
      throw err;
    });
  }
  const line = {
    event: 'listening', protocol: framing === 'rtu' ? 'modbus-rtu-over-tcp' : 'modbus-tcp', host: values.host, port: actualPort, profile,
    ...(values.serial === undefined ? {} : { serial: values.serial, baudRate, parity }),
  };
  (io.stdout ?? process.stdout).write(`${JSON.stringify(line)}\n`);
  io.onStarted?.(server);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop, { once: true });
  });
  await server.stop();
}
