import { parseArgs } from 'node:util';
import { createLogger } from '../core/logger.js';
import { ConfigError, UsageError, errorMessage } from '../core/errors.js';
import { loadEdgeConfig } from './config.js';
import { startEdgeAgent } from './agent.js';
import { untilSignal } from '../core/signals.js';


/** `jinyun edge --config FILE`: runs an edge agent until SIGINT/SIGTERM. Exit 2 on a bad config. */
export async function runEdge(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, check: { type: 'boolean' } }, strict: true });
  if (!values.config) throw new UsageError('jinyun edge --config FILE [--check]');
  let config;
  try {
    config = loadEdgeConfig(values.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (values.check) {
    process.stdout.write(`${values.config}: ok (${config.devices.length} devices, ${config.devices.reduce((n, d) => n + d.tags.length, 0)} tags)\n`);
    return;
  }
  const logger = createLogger({ level: config.log.level, base: { gateway: config.gateway.id } });
  const agent = await startEdgeAgent(config, { logger });
  process.stdout.write(`${JSON.stringify({ event: 'started', gateway: config.gateway.id, producerId: agent.spool.producerId, epoch: agent.spool.epoch, httpPort: agent.httpPort })}\n`);
  await untilSignal();
  await agent.close().catch((err) => logger.error({ err: errorMessage(err) }, 'shutdown failed'));
  logger.flush();
}
