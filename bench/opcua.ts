import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { AttributeIds, MessageSecurityMode, OPCUAClient, SecurityPolicy, TimestampsToReturn, type ClientSubscription } from 'node-opcua-client';
import type { BenchGroup } from './harness.js';
import { spawnJinyun, stopChild } from '../cli/process.js';
import { silentLogger } from '../core/logger.js';
import { opcuaDeviceSchema } from '../drivers/opcua/config.js';
import { OpcuaSubscribingDriver } from '../drivers/opcua/opcua-subscriber.js';
import { Spool, SPOOL_DEFAULTS } from '../edge/spool.js';
import { Subscriber } from '../edge/subscriber.js';
import { startCloudChild } from '../test/helpers/cloud-child.js';
import { tempDir } from '../test/helpers/tmp.js';
import { EDGE_NODE_OPTIONS } from './edge.js';

const ITEMS = Number(process.env.BENCH_OPCUA_ITEMS ?? 10_000);
/** Every bulk variable changes once per tick: ITEMS * 1000 / TICK_MS data changes per second offered (100 ms: more than one client takes on 2 cores). */
const TICK_MS = Number(process.env.BENCH_OPCUA_TICK_MS ?? 100);
const WINDOW_MS = Number(process.env.BENCH_OPCUA_WINDOW_MS ?? 10_000);
const WARMUP_MS = 3000;
const PUBLISHING_MS = 250;
const QUEUE = 10;
const CHUNK = 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nodeIds = (ns: number): string[] => Array.from({ length: ITEMS }, (_, i) => `ns=${ns};s=Bulk.${String(i).padStart(5, '0')}`);

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Window { perS: number; simCpu: number }

/** Counts over WINDOW_MS after WARMUP_MS; also the simulator's CPU share (is the server the ceiling?). */
async function measure(count: () => number, simPid: number): Promise<Window> {
  await sleep(WARMUP_MS);
  const c0 = count();
  const cpu0 = cpuSeconds(simPid);
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const s = (performance.now() - t0) / 1000;
  return { perS: (count() - c0) / s, simCpu: (cpuSeconds(simPid) - cpu0) / s };
}

/**
 * OPC UA figures against the simulator in its own process (`jinyun sim opcua --bulk 10000`): the
 * driver with the edge Subscriber appending into a real SQLite spool, beside a bare node-opcua
 * client subscribed to the same items with the same parameters (sampling 0, queue 10, publishing 250 ms).
 */
export const opcuaGroup: BenchGroup = {
  name: 'opcua',
  description: `OPC UA: data-change notifications/s of ${ITEMS.toLocaleString('en-US')} monitored items through the driver into the spool vs a bare node-opcua client, time to create them, client RSS`,
  async run(report) {
    const tmp = tempDir('jinyun-bench-opcua-');
    const sim = spawnJinyun(['sim', 'opcua', '--port', '0', '--pki', join(tmp.dir, 'sim-pki'), '--bulk', String(ITEMS), '--bulk-tick-ms', String(TICK_MS), '--tick-ms', '1000']);
    try {
      const listening = await sim.waitFor('listening', 120_000);
      const url = listening.endpointUrl as string;
      const ids = nodeIds(listening.namespaceIndex as number);
      const pid = sim.proc.pid!;
      const offered = (ITEMS * 1000) / TICK_MS;

      // Warm-up: the simulator creates (and deletes) 10k monitored items once, so neither client meets a cold server.
      await bareClient(url, ids, join(tmp.dir, 'warm'), pid, false);
      const drv = await driverIntoSpool(url, ids, tmp.dir, pid);
      report({ name: 'opcua.notifications_per_s', value: drv.perS, unit: `notifications/s into the spool (${offered.toLocaleString('en-US')}/s offered; simulator ${drv.simCpu.toFixed(2)} cores)` });
      report({ name: 'opcua.create_10k_items_ms', value: drv.createMs, unit: `ms (subscription + ${ITEMS.toLocaleString('en-US')} monitored items, ${CHUNK} per CreateMonitoredItems)` });

      const bare = await bareClient(url, ids, tmp.dir, pid, true);
      report({ name: 'opcua.bare_notifications_per_s', value: bare.perS, unit: `notifications/s (bare node-opcua client, "changed" events counted; simulator ${bare.simCpu.toFixed(2)} cores)` });
      report({ name: 'opcua.bare_create_10k_items_ms', value: bare.createMs, unit: 'ms (bare node-opcua client, same chunks)' });
      report({ name: 'opcua.driver_over_bare', value: drv.perS / bare.perS, unit: 'ratio (aim >= 0.9)' });

      const rss = await edgeRss(url, ids, join(tmp.dir, 'edge'));
      report({ name: 'opcua.client_rss_mb', value: rss.rssMb, unit: `MB (jinyun edge process, one OPC UA device with ${ITEMS.toLocaleString('en-US')} items subscribed, data flowing to a cloud bridge; NODE_OPTIONS="${EDGE_NODE_OPTIONS}")` });
      report({ name: 'opcua.client_rss_peak_mb', value: rss.peakMb, unit: 'MB (VmHWM of the same process)' });
    } finally {
      await stopChild(sim);
      tmp.cleanup();
    }
  },
};

async function driverIntoSpool(endpointUrl: string, ids: string[], dir: string, simPid: number): Promise<Window & { createMs: number }> {
  const logger = silentLogger();
  const device = opcuaDeviceSchema.parse({
    type: 'opcua', name: 'bench', endpointUrl, securityMode: 'None', securityPolicy: 'None', pkiDir: join(dir, 'driver-pki'),
    publishingIntervalMs: PUBLISHING_MS, samplingIntervalMs: 0, queueSize: QUEUE, maxItemsPerCall: CHUNK, requestTimeoutMs: 60_000,
    tags: ids.map((nodeId, i) => ({ name: `b${i}`, nodeId })),
  });
  const spool = await Spool.open({ ...SPOOL_DEFAULTS, path: join(dir, 'spool.db'), synchronous: 'FULL', logger });
  const tagIds = await spool.tagIds(device.tags.map((t) => `bench/${t.name}`));
  const points = device.tags.map((t) => ({ tagId: tagIds.get(`bench/${t.name}`)!, key: `bench/${t.name}`, config: t }));
  const driver = new OpcuaSubscribingDriver(device, { logger });
  let spooled = 0;
  const sub = new Subscriber(driver, points, { logger, sink: async (r) => { await spool.append(r, 'bench'); spooled += r.length; } });
  try {
    sub.start();
    const t0 = performance.now();
    while (driver.counters.subscribes === 0) {
      if (performance.now() - t0 > 120_000) throw new Error(`driver did not subscribe: ${driver.health().lastError}`);
      await sleep(20);
    }
    if (driver.counters.badItems > 0) throw new Error(`${driver.counters.badItems} monitored items refused`);
    const w = await measure(() => spooled, simPid);
    return { ...w, createMs: driver.counters.lastCreateMs };
  } finally {
    await sub.stop();
    await driver.close();
    await spool.close();
  }
}

async function bareClient(endpointUrl: string, ids: string[], dir: string, simPid: number, window: boolean): Promise<Window & { createMs: number }> {
  const cm = new OPCUACertificateManager({ rootFolder: join(dir, 'bare-pki'), automaticallyAcceptUnknownCertificate: true });
  await cm.initialize();
  const client = OPCUAClient.create({
    applicationName: 'bench-bare', securityMode: MessageSecurityMode.None, securityPolicy: SecurityPolicy.None, clientCertificateManager: cm,
    endpointMustExist: false, connectionStrategy: { maxRetry: 0 }, defaultTransactionTimeout: 60_000,
  });
  await client.connect(endpointUrl);
  const session = await client.createSession();
  let subscription: ClientSubscription | null = null;
  try {
    let changes = 0;
    const t0 = performance.now();
    subscription = await session.createSubscription2({ requestedPublishingInterval: PUBLISHING_MS, requestedMaxKeepAliveCount: 10, requestedLifetimeCount: 60, maxNotificationsPerPublish: 0, publishingEnabled: true, priority: 10 });
    for (let i = 0; i < ids.length; i += CHUNK) {
      const group = await subscription.monitorItems(ids.slice(i, i + CHUNK).map((nodeId) => ({ nodeId, attributeId: AttributeIds.Value })), { samplingInterval: 0, queueSize: QUEUE, discardOldest: true }, TimestampsToReturn.Both);
      group.on('changed', () => { changes++; });
    }
    const createMs = performance.now() - t0;
    const w = window ? await measure(() => changes, simPid) : { perS: 0, simCpu: 0 };
    return { ...w, createMs };
  } finally {
    await subscription?.terminate().catch(() => undefined);
    await session.close().catch(() => undefined);
    await client.disconnect();
    await cm.dispose();
  }
}

/** RSS of a real edge agent (compiled, as deployed) subscribed to every item, after 15 s of steady flow. */
async function edgeRss(endpointUrl: string, ids: string[], dir: string): Promise<{ rssMb: number; peakMb: number }> {
  mkdirSync(dir, { recursive: true });
  const cloud = await startCloudChild(dir);
  const tags = ids.map((nodeId, i) => `      - { name: b${i}, nodeId: "${nodeId}" }`).join('\n');
  const file = join(dir, 'edge.yaml');
  writeFileSync(file, [
    `gateway: { id: ${cloud.gateway.id}, tenant: ${cloud.gateway.tenant} }`, `spool: { path: ${join(dir, 'spool.db')} }`,
    `uplink: { url: "mqtt://127.0.0.1:${cloud.mqttPort}", password: "${cloud.gateway.password}" }`, 'http: { enabled: false }', 'devices:',
    '  - type: opcua', '    name: bench', `    endpointUrl: ${endpointUrl}`, '    securityMode: None', '    securityPolicy: None', `    pkiDir: ${join(dir, 'pki')}`,
    `    publishingIntervalMs: ${PUBLISHING_MS}`, '    samplingIntervalMs: 0', `    queueSize: ${QUEUE}`, '    requestTimeoutMs: 60000', '    tags:', tags, '',
  ].join('\n'));
  const edge = spawnJinyun(['edge', '--config', file], { env: { JINYUN_LOG_LEVEL: 'warn', NODE_OPTIONS: EDGE_NODE_OPTIONS } });
  try {
    await edge.waitFor('started', 60_000);
    await sleep(15_000);
    const status = readFileSync(`/proc/${edge.proc.pid}/status`, 'utf8');
    const mb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
    if (/"level":50|cannot connect|refused some monitored items/.test(edge.stderr())) throw new Error(`edge reported errors:\n${edge.stderr().slice(-2000)}`);
    return { rssMb: mb('VmRSS'), peakMb: mb('VmHWM') };
  } finally {
    await stopChild(edge);
    await cloud.stop();
  }
}
