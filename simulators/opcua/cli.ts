import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { UsageError } from '../../core/errors.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { OpcuaSimServer } from './opcua-sim-server.js';
import { opcuaProfileNames } from './profiles.js';

export const OPCUA_SIM_USAGE = `usage: jinyun sim opcua [--profile coal-mine|steel-plant] [--port 4840] [--pki DIR] [--tick-ms 100] [--bulk N [--bulk-tick-ms 1000]] [--secure-only] [--faults]
  --port 0 picks a free port; the JSON line printed on stdout once listening has the endpoint URL.
  --pki DIR keeps the server certificate (created on first start) and trusted/rejected client certificates (default ./pki-sim).
  --bulk N adds N Double variables Bulk.00000 ... (ns=2;s=Bulk.00000), all changing every --bulk-tick-ms (benchmarks).
  --secure-only drops the None endpoint; users: operator/operator-pw, engineer/engineer-pw, any X.509 user certificate.
  --faults reads fault commands, one JSON line each, on stdin: {"fault":"restart","downMs":2000}, {"fault":"stopPublishing"},
           {"fault":"status","path":"Mine.MainFan1.Speed","code":2156658688} (code null clears).`;

const usage = (message: string): UsageError => new UsageError(`${message}\n${OPCUA_SIM_USAGE}`);

function intOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw usage(`--${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  return n;
}

export interface OpcuaSimCliIo {
  stdout?: { write(line: string): unknown };
  logger?: Logger;
  signal?: AbortSignal;
  onStarted?: (server: OpcuaSimServer) => void;
}

async function applyFault(server: OpcuaSimServer, line: string, log: Logger): Promise<void> {
  const cmd = JSON.parse(line) as { fault?: string; downMs?: number; path?: string; code?: number | null };
  if (cmd.fault === 'restart') await server.restart(cmd.downMs ?? 1000);
  else if (cmd.fault === 'stopPublishing') server.stopPublishing();
  else if (cmd.fault === 'status' && cmd.path) server.setStatus(cmd.path, cmd.code ?? null);
  else throw new Error(`unknown fault ${line}`);
  log.info({ fault: cmd }, 'fault injected');
}

/**
 * `jinyun sim opcua ...`: runs the OPC UA simulator until SIGINT/SIGTERM. Prints one JSON line on
 * stdout when listening: {"event":"listening","protocol":"opcua","endpointUrl":"opc.tcp://127.0.0.1:4840","port":4840,"profile":"coal-mine","namespaceIndex":2}
 * and logs to stderr.
 */
export async function runOpcuaSim(argv: string[], io: OpcuaSimCliIo = {}): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      profile: { type: 'string', default: 'coal-mine' }, port: { type: 'string' }, pki: { type: 'string', default: './pki-sim' },
      'tick-ms': { type: 'string' }, bulk: { type: 'string' }, 'bulk-tick-ms': { type: 'string' }, 'secure-only': { type: 'boolean', default: false }, faults: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!opcuaProfileNames().includes(values.profile)) throw usage(`unknown profile "${values.profile}"; known: ${opcuaProfileNames().join(', ')}`);
  const logger = io.logger ?? createLogger({ fd: 2 });
  const server = new OpcuaSimServer({
    port: intOption('port', values.port, 4840, 0, 65535), profile: values.profile, pkiDir: values.pki, logger,
    tickMs: intOption('tick-ms', values['tick-ms'], 100, 10, 3_600_000), bulk: intOption('bulk', values.bulk, 0, 0, 100_000), bulkTickMs: intOption('bulk-tick-ms', values['bulk-tick-ms'], 1000, 10, 3_600_000), allowNone: !values['secure-only'],
  });
  const port = await server.start();
  const line = { event: 'listening', protocol: 'opcua', endpointUrl: server.endpointUrl, port, profile: values.profile, namespaceIndex: server.nsIndex };
  (io.stdout ?? process.stdout).write(`${JSON.stringify(line)}\n`);
  io.onStarted?.(server);
  const rl = values.faults ? createInterface({ input: process.stdin }) : null;
  rl?.on('line', (l) => { if (l.trim()) applyFault(server, l, logger).catch((err: unknown) => logger.error({ err: String(err) }, 'fault command failed')); });
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
  rl?.close();
  await server.stop();
}
