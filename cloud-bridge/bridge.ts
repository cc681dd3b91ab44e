import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { LevelWithSilent } from 'pino';
import { createLogger, type Logger } from '../core/logger.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { apiAuthOf, apiOpenToNetwork, loadCloudConfig, retentionWarning, type CloudConfig } from './config.js';
import { startBroker, type Broker, type BrokerMetrics } from './broker.js';
import { AedesBus, MqttBus, type MessageBus } from './message-bus.js';
import { Ingest, type FaultPoint, type IngestMetrics } from './ingest.js';
import { Registry } from './registry.js';
import { PasswordChecker } from './password-checker.js';
import { CloudHealth, type CloudHealthReport } from './health.js';
import type { QuarantineLimits } from './store/quarantine-bounds.js';
import { buildApi } from './api.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { CloudStore } from './store/reading-store.js';
import { AlarmEngine, type AlarmMetrics } from './alarms/engine.js';

export interface CloudContext {
  logger: Logger;
  now?: () => number;
  /** Fault injection for the C2 test (see FaultPoint). */
  fault?: (point: FaultPoint) => void;
}

export interface CloudMetrics {
  /** Absent when attached to an external broker. */
  broker?: BrokerMetrics;
  ingest: IngestMetrics;
  alarms: AlarmMetrics;
  retention: RetentionMetrics;
  /** Password checks of MQTT logins and API tokens: scrypt runs, cached verdicts, unknown ids, refused as busy. */
  auth: PasswordChecker['counters'];
  /** The bridge's own health (what /healthz answers). */
  health: CloudHealthReport;
}

export interface RetentionMetrics {
  /** Retention runs completed (only when retention.rawDays is set). */
  runs: number;
  /** Raw readings deleted by them. */
  readingsDeleted: number;
  /** Runs that failed (logged; the next run tries again). */
  failures: number;
}

const DAY_MS = 86_400_000;

/**
 * Runs store.pruneRaw(now - rawDays) right after start and every intervalMs (one run at a time; the
 * timer does not keep the process alive). Errors are logged and counted, never thrown. Without
 * rawDays nothing is scheduled and nothing is ever deleted.
 */
export function startRetention(store: CloudStore, retention: CloudConfig['retention'], ctx: { logger: Logger; now: () => number }): { metrics: RetentionMetrics; stop(): Promise<void> } {
  const metrics: RetentionMetrics = { runs: 0, readingsDeleted: 0, failures: 0 };
  const rawDays = retention.rawDays;
  if (rawDays === undefined) return { metrics, stop: async () => undefined };
  const log = ctx.logger.child({ component: 'retention' });
  let running: Promise<void> | null = null;
  let stopped = false;
  const run = (): void => {
    if (running || stopped) return;
    const started = Date.now();
    const cutoff = ctx.now() - rawDays * DAY_MS;
    running = store.pruneRaw(cutoff).then(
      ({ deleted }) => {
        metrics.runs++;
        metrics.readingsDeleted += deleted;
        log.info({ deleted, cutoff: new Date(cutoff).toISOString(), rawDays, durationMs: Date.now() - started }, 'retention run');
      },
      (err: unknown) => {
        metrics.failures++;
        log.error({ err: errorMessage(err), cutoff: new Date(cutoff).toISOString(), durationMs: Date.now() - started }, 'retention run failed');
      },
    ).finally(() => { running = null; });
  };
  const first = setTimeout(run, 0);
  const timer = setInterval(run, retention.intervalMs);
  first.unref();
  timer.unref();
  log.info({ rawDays, intervalMs: retention.intervalMs }, 'retention on');
  return {
    metrics,
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}

export interface CloudBridge {
  /** Plain MQTT port of the embedded broker (0 when off or external). */
  mqttPort: number;
  /** TLS port of the embedded broker (0 when none). */
  mqttTlsPort: number;
  httpPort: number;
  metrics: CloudMetrics;
  store: CloudStore;
  registry: Registry;
  ingest: Ingest;
  alarms: AlarmEngine;
  /** The ingest's side of MQTT (tests publish through it as the broker would). */
  bus: MessageBus;
  close(): Promise<void>;
}

export async function openStore(config: CloudConfig, ctx: { logger: Logger }): Promise<CloudStore> {
  const s = config.store;
  switch (s.type) {
    case 'sqlite': return SqliteStore.open({ path: s.path, insertChunkRows: config.ingest.insertChunkRows, quarantine: quarantineLimits(config) }, ctx);
    case 'postgres': {
      const { PgStore } = await import('./store/pg-store.js');
      return PgStore.open({ url: s.url, schema: s.schema, poolSize: s.poolSize, quarantine: quarantineLimits(config) }, ctx);
    }
  }
}

interface Messaging { bus: MessageBus; broker?: Broker; close(): Promise<void> }

/** The embedded broker with the ingest subscribed before the port opens, or a client of the external broker. */
async function startMessaging(config: CloudConfig, registry: Registry, ctx: CloudContext & { passwords: PasswordChecker }, attach: (bus: MessageBus) => Promise<Ingest>): Promise<Messaging> {
  const ext = config.externalBroker;
  if (ext) {
    const bus = await MqttBus.connect({
      url: ext.url, clientId: `${ext.clientId}-${process.pid}-${randomBytes(3).toString('hex')}`, username: ext.username, password: ext.password,
      ca: ext.caFile ? readFileSync(ext.caFile) : undefined, shareGroup: ext.shareGroup,
    });
    await attach(bus);
    return { bus, close: () => bus.close() };
  }
  let ingest: Ingest | undefined;
  let bus: MessageBus | undefined;
  const broker = await startBroker({ mqtt: config.mqtt, registry }, {
    logger: ctx.logger, now: ctx.now, passwords: ctx.passwords,
    onPresence: (e) => ingest?.onPresence(e),
    beforeListen: async (aedes) => {
      bus = new AedesBus(aedes);
      ingest = await attach(bus);
    },
  });
  return { bus: bus!, broker, close: () => broker.close() };
}

const quarantineLimits = (c: CloudConfig): QuarantineLimits => ({
  rowsPerGateway: c.ingest.maxQuarantinePerGateway, bytesPerGateway: c.ingest.maxQuarantineBytesPerGateway, bytesTotal: c.ingest.maxQuarantineBytes,
});

/** Store, registry, broker (or external bus), ingest and HTTP API wired together and listening. close() stops them in order. */
export async function startCloudBridge(config: CloudConfig, ctx: CloudContext): Promise<CloudBridge> {
  const log = ctx.logger.child({ component: 'cloud' });
  const now = ctx.now ?? Date.now;
  const store = await openStore(config, ctx);
  const registry = new Registry(store, ctx);
  // One bounded scrypt pool for MQTT logins and API tokens: together they never hold more than hashConcurrency of libuv's threads.
  const passwords = new PasswordChecker({ hashConcurrency: config.mqtt.hashConcurrency, maxQueued: config.mqtt.maxConcurrentAuth });
  let messaging: Messaging | undefined;
  let ingest: Ingest | undefined;
  let retention: ReturnType<typeof startRetention> | undefined;
  let health: CloudHealth | undefined;
  const alarms = new AlarmEngine(store, config.alarms, { logger: ctx.logger, now: ctx.now, tenantOf: (gw) => registry.gateway(gw)?.tenant, clockSkewAlarmMs: config.ingest.clockSkewAlarmMs });
  try {
    if (!config.externalBroker) await store.registerGateways(config.gateways);
    if (config.gateways.length > 0) await store.applyRegistry({ op: 'seedGateways', gateways: config.gateways, atMs: now() });
    await registry.start(config.registry.pollMs);
    messaging = await startMessaging(config, registry, { ...ctx, passwords }, async (bus) => {
      alarms.attach(bus);
      await alarms.start();
      // SQLite writes the batches queued at once in one transaction, one after another: a gateway's batches may be written
      // together. PostgreSQL runs each in a transaction of its own, and overlapping ranges of one gateway must not race.
      ingest = new Ingest(store, bus, { ingest: config.ingest, registry, parallelWrites: config.store.type === 'sqlite' ? config.ingest.maxParallelWritesPerGateway : 1 }, { ...ctx, observer: alarms });
      await ingest.start();
      return ingest;
    });
    const i = ingest!;
    retention = startRetention(store, config.retention, { logger: ctx.logger, now });
    const msg = messaging;
    health = new CloudHealth({ store, writes: i.writes, brokerUp: () => (msg.broker ? msg.broker.listening() : msg.bus.up()) }, config.health, { logger: log, now });
    health.start();
    const h = health;
    const metrics: CloudMetrics = {
      broker: messaging.broker?.metrics, ingest: i.metrics, alarms: alarms.metrics, retention: retention.metrics, auth: passwords.counters,
      get health() { return h.report(); },
    };
    const api = buildApi(store, { http: config.http }, { logger: ctx.logger, metrics: () => metrics, registry, alarms, passwords, health: () => h.report(), clockToleranceMs: config.ingest.clockSkewAlarmMs });
    await api.listen({ host: config.http.host, port: config.http.port });
    const httpPort = (api.server.address() as AddressInfo).port;
    const m = messaging;
    log.info({ mqttPort: m.broker?.port, mqttTlsPort: m.broker?.tlsPort, external: config.externalBroker?.url, httpPort, apiAuth: apiAuthOf(config.http) }, 'cloud bridge started');
    if (apiOpenToNetwork(config.http)) log.warn({ host: config.http.host }, 'the HTTP API listens beyond this machine WITHOUT authentication (http.auth: none); every tenant\'s data is readable by anyone who reaches it');
    const short = retentionWarning(config.retention);
    if (short) log.warn({ rawDays: config.retention.rawDays }, short);
    const r = retention;
    return {
      mqttPort: m.broker?.port ?? 0, mqttTlsPort: m.broker?.tlsPort ?? 0, httpPort, metrics, store, registry, ingest: i, alarms, bus: m.bus,
      async close() {
        // Finish (commit and acknowledge) what was received, then disconnect the clients.
        await i.drain();
        await m.close();
        await i.drain(); // presence updates of the clients just disconnected
        await r.stop();
        await h.stop();
        await alarms.stop();
        await registry.stop();
        await api.close();
        await store.close();
        log.info('cloud bridge stopped');
      },
    };
  } catch (err) {
    await retention?.stop().catch(() => undefined);
    await health?.stop().catch(() => undefined);
    await ingest?.drain().catch(() => undefined);
    await alarms.stop().catch(() => undefined);
    await messaging?.close().catch(() => undefined);
    await registry.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw err;
  }
}

/** JINYUN_FAULT_KILL=point:n (tests only): SIGKILL this process the n-th time the ingest reaches point. */
function faultFromEnv(): ((p: FaultPoint) => void) | undefined {
  const spec = process.env.JINYUN_FAULT_KILL;
  if (!spec) return undefined;
  const [point, nth] = spec.split(':');
  let left = Number(nth ?? '1');
  return (p) => {
    if (p === point && --left === 0) {
      process.stdout.write(`${JSON.stringify({ event: 'fault', point })}\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  };
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function portFromEnv(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new ConfigError(`environment ${name}`, [{ path: [], message: `${name} must be a port number 0-65535, got "${v.slice(0, 20)}"` }]);
  return Number(v);
}

/** `jinyun cloud --config FILE [--check]`: runs the cloud bridge until SIGINT/SIGTERM (--check: validate only). Exit 2 on a bad config. */
export async function runCloud(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, check: { type: 'boolean' } }, strict: true });
  if (!values.config) {
    process.stderr.write('usage: jinyun cloud --config FILE [--check]\n');
    process.exitCode = 64;
    return;
  }
  let config: CloudConfig;
  try {
    config = loadCloudConfig(values.config);
    const mqttPort = portFromEnv('MQTT_PORT');
    const httpPort = portFromEnv('HTTP_PORT');
    if (mqttPort !== undefined) config.mqtt.port = mqttPort;
    if (httpPort !== undefined) config.http.port = httpPort;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (values.check) {
    const rules = config.alarms.rules.length + config.alarms.presets.length;
    process.stdout.write(`${values.config}: ok (${config.store.type} store, ${config.externalBroker ? 'external broker' : 'embedded broker'}, API auth ${apiAuthOf(config.http)}${config.http.tls ? ' over TLS' : ''}, ${config.gateways.length} seeded gateways, ${rules} alarm rules and presets)\n`);
    if (apiOpenToNetwork(config.http)) process.stdout.write(`warning: the HTTP API on ${config.http.host} has no authentication (http.auth: none)\n`);
    const short = retentionWarning(config.retention);
    if (short) process.stdout.write(`warning: ${short}\n`);
    return;
  }
  const envLevel = process.env.JINYUN_LOG_LEVEL;
  const level = (envLevel && LEVELS.includes(envLevel) ? envLevel : config.log.level) as LevelWithSilent;
  const logger = createLogger({ level, fd: 2 });
  const bridge = await startCloudBridge(config, { logger, fault: faultFromEnv() });
  const host = ['0.0.0.0', '::', '127.0.0.1'].includes(config.http.host) ? '127.0.0.1' : config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  process.stdout.write(`${JSON.stringify({ event: 'listening', mqttPort: bridge.mqttPort, ...(bridge.mqttTlsPort ? { mqttTlsPort: bridge.mqttTlsPort } : {}), httpPort: bridge.httpPort, api: `${config.http.tls ? 'https' : 'http'}://${host}:${bridge.httpPort}/api/v1` })}\n`);
  const sig = await untilSignal();
  logger.info({ signal: sig }, 'stopping');
  await bridge.close().catch((err: unknown) => {
    logger.error({ err: errorMessage(err) }, 'shutdown failed');
    process.exitCode = 1;
  });
  logger.flush();
}

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
