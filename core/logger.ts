import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Base bindings, e.g. { component: 'edge', gateway: 'gw-1' }. */
  base?: Record<string, unknown>;
  /** Destination file descriptor; 1 (stdout) by default, 2 for CLIs whose stdout is data. */
  fd?: number;
}

/** The one place loggers are made. JSON lines, ISO time, level names instead of numbers. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? ((process.env.JINYUN_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info');
  return pino(
    {
      level,
      base: { pid: process.pid, ...opts.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: opts.fd ?? 1, sync: false }),
  );
}

/** A logger that discards everything, for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
