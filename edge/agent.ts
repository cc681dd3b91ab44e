import { getHeapStatistics } from 'node:v8';
import type { Logger } from '../core/logger.js';
import type { Reading } from '../core/reading.js';
import { errorMessage } from '../core/errors.js';
import type { CatalogData } from '../proto/codec.js';
import { createDriver, describeEndpoint, tagInfo } from '../drivers/index.js';
import { isSubscribingDriver, type Driver, type Point, type DeviceHealth } from '../drivers/driver.js';
import { tagKey, type EdgeConfig } from './config.js';
import { Spool, SPOOL_DEFAULTS } from './spool.js';
import { Poller } from './poller.js';
import { ReportFilter, type ReportCounters, type ReportRule } from './report-filter.js';
import { reportRules } from './report-config.js';
import { Subscriber } from './subscriber.js';
import { startUplink, type Uplink } from './uplink.js';
import { EdgeMonitor } from './monitor.js';
import { startHealthPublisher } from './health-message.js';
import { createEdgeMetrics } from './metrics.js';
import { startEdgeHttp, type EdgeHttpServer } from './http.js';

export interface EdgeContext {
  logger: Logger;
}

export interface EdgeAgent {
  readonly spool: Spool;
  readonly uplink: Uplink;
  readonly monitor: EdgeMonitor;
  /** Port of the local /healthz and /metrics endpoint; null when http.enabled is false. */
  readonly httpPort: number | null;
  devices(): { name: string; health: DeviceHealth; poll: Poller['counters']; report: ReportCounters }[];
  close(): Promise<void>;
}

/** Starts a site: spool first (nothing is read before it can be kept), then the uplink, drivers and pollers. */
export async function startEdgeAgent(config: EdgeConfig, ctx: EdgeContext): Promise<EdgeAgent> {
  const log = ctx.logger.child({ component: 'edge', gateway: config.gateway.id });
  const spool = await Spool.open({ ...SPOOL_DEFAULTS, ...config.spool, maxBlockReadings: Math.min(SPOOL_DEFAULTS.maxBlockReadings, config.uplink.batch.maxReadings), maxBlockBytes: Math.min(SPOOL_DEFAULTS.maxBlockBytes, config.uplink.batch.maxBytes / 2), logger: log.child({ component: 'spool' }) });

  const keys = config.devices.flatMap((d) => d.tags.map((t) => tagKey(d.name, t.name)));
  const ids = await spool.tagIds(keys);
  const idOf = (device: string, tag: string): number => ids.get(tagKey(device, tag))!;
  const catalog: CatalogData = {
    producerId: spool.producerId,
    version: spool.epoch,
    tags: config.devices.flatMap((d) => tagInfo(d).map((t) => ({ id: idOf(d.name, t.name), key: tagKey(d.name, t.name), device: d.name, unit: t.unit, dataType: t.dataType, description: t.description }))),
    devices: config.devices.map((d) => ({ name: d.name, driver: d.type, endpoint: describeEndpoint(d) })),
  };
  const uplink = startUplink({ gateway: config.gateway, uplink: config.uplink, spool, catalog, logger: log });

  const drivers: { name: string; driver: Driver; filter: ReportFilter }[] = [];
  const pollers: (Poller | Subscriber)[] = [];
  for (const device of config.devices) {
    const dlog = log.child({ device: device.name });
    const driver = await createDriver(device, { logger: dlog });
    // Deadband and report by exception come before the spool: what is held back is counted, not spooled.
    const byName = reportRules(config.reportByException, device.name, device.tags.map((t) => t.name));
    const filter = new ReportFilter(new Map<number, ReportRule>([...byName].map(([tag, rule]) => [idOf(device.name, tag), rule])));
    drivers.push({ name: device.name, driver, filter });
    const points: Point[] = device.tags.map((t) => ({ tagId: idOf(device.name, t.name), key: tagKey(device.name, t.name), config: t }));
    await driver.connect().catch((err) => dlog.warn({ err: errorMessage(err) }, 'device not reachable at start; will keep trying'));
    const sink = async (all: Reading[]): Promise<void> => {
      const readings = filter.apply(all);
      if (readings.length === 0) return;
      await spool.append(readings, device.name);
      uplink.forwarder.notifyAppended();
    };
    // A driver that pushes (OPC UA subscriptions) gets a Subscriber; the others are polled.
    pollers.push(isSubscribingDriver(driver) ? new Subscriber(driver, points, { logger: dlog, sink }) : new Poller(driver, points, { intervalMs: device.pollIntervalMs, logger: dlog, sink }));
  }
  for (const p of pollers) p.start();

  const devices = () => drivers.map(({ name, driver, filter }, i) => ({ name, health: driver.health(), poll: pollers[i]!.counters, report: filter.counters }));
  const monitor = new EdgeMonitor({ spool, spoolPath: config.spool.path, forwarder: uplink.forwarder, link: uplink.link, devices });
  const health = startHealthPublisher({ monitor, link: uplink.link, topic: uplink.topics.health, intervalMs: config.health.intervalMs, logger: log });
  let http: EdgeHttpServer | null = null;

  // The V8 heap limit decides how far RSS grows above the live heap (edge/README.md, service memory).
  const heapLimitMb = Math.round(getHeapStatistics().heap_size_limit / 1024 / 1024);
  log.info({ devices: config.devices.length, tags: keys.length, producerId: spool.producerId, epoch: spool.epoch, heapLimitMb }, 'edge agent started');

  const agent: EdgeAgent = {
    spool, uplink, monitor, devices,
    get httpPort() { return http?.port ?? null; },
    async close() {
      health.stop();
      await http?.close();
      const stopping = Promise.all(pollers.map((p) => p.stop()));
      spool.releaseWaiting();
      await stopping;
      await uplink.close();
      await Promise.all(drivers.map(({ driver }) => driver.close().catch(() => undefined)));
      await spool.close();
      log.info('edge agent stopped');
    },
  };
  if (config.http.enabled) {
    const registry = createEdgeMetrics({ gateway: config.gateway.id, monitor });
    // Observability never stops data collection: a taken port is an error to fix, not a reason to stop reading.
    http = await startEdgeHttp({ host: config.http.host, port: config.http.port, gateway: config.gateway.id, monitor, registry, logger: log })
      .catch((err: unknown) => { log.error({ err: errorMessage(err), host: config.http.host, port: config.http.port }, 'http endpoint could not listen; running without /healthz and /metrics'); return null; });
  }
  return agent;
}
