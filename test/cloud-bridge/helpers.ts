import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { silentLogger } from '../../core/logger.js';
import { topicFor } from '../../core/topics.js';
import type { Reading, SequencedReading } from '../../core/reading.js';
import { decodeAck, encodeBatch, encodeCatalog, type AckData, type CatalogData } from '../../proto/codec.js';
import { cloudConfigSchema, type CloudConfig } from '../../cloud-bridge/config.js';
import { hashPassword } from '../../cloud-bridge/credentials.js';
import { startCloudBridge, type CloudBridge } from '../../cloud-bridge/bridge.js';
import { runAdmin } from '../../cloud-bridge/admin.js';
import { SqliteStore } from '../../cloud-bridge/store/sqlite-store.js';

/** A minute boundary a day ago: inside the ingest's timestamp window (no clock_skew) whatever today is. */
export const T0 = Math.floor((Date.now() - 86_400_000) / 60_000) * 60_000;

export const GW1 = { id: 'gw-1', tenant: 'tenant-a', password: 'pw-one-secret' };
export const GW2 = { id: 'gw-2', tenant: 'tenant-b', password: 'pw-two-secret' };

/** Hashes are slow on purpose (scrypt); compute them once per test file. */
let hashes: Promise<[string, string]> | null = null;
export function gatewayHashes(): Promise<[string, string]> {
  hashes ??= Promise.all([hashPassword(GW1.password), hashPassword(GW2.password)]);
  return hashes;
}

export async function testConfig(dir: string, over: { mqtt?: Record<string, unknown>; ingest?: Record<string, unknown> } = {}): Promise<CloudConfig> {
  const [h1, h2] = await gatewayHashes();
  return cloudConfigSchema.parse({
    mqtt: { port: 0, connectTimeoutMs: 2000, ...over.mqtt },
    http: { port: 0 },
    store: { type: 'sqlite', path: join(dir, 'cloud.db') },
    gateways: [{ id: GW1.id, tenant: GW1.tenant, passwordHash: h1 }, { id: GW2.id, tenant: GW2.tenant, passwordHash: h2 }],
    ingest: over.ingest ?? {},
    log: { level: 'silent' },
  });
}

export function startTestBridge(config: CloudConfig): Promise<CloudBridge> {
  return startCloudBridge(config, { logger: silentLogger() });
}

export const CATALOG: CatalogData = {
  producerId: 'prod-1',
  version: 1,
  tags: [
    { id: 1, key: 'pump/flow', device: 'pump', unit: 'm3/h', dataType: 'float32', description: 'flow' },
    { id: 2, key: 'pump/running', device: 'pump', unit: '', dataType: 'bool', description: '' },
    { id: 3, key: 'pump/label', device: 'pump', unit: '', dataType: 'string', description: '' },
    { id: 4, key: 'meter/energy', device: 'meter', unit: 'Wh', dataType: 'uint64', description: '' },
    { id: 5, key: 'gas/methane', device: 'gas', unit: '%CH4', dataType: 'float32', description: '' },
  ],
  devices: [{ name: 'pump', driver: 'modbus-tcp', endpoint: '127.0.0.1:502 unit 1' }, { name: 'meter', driver: 'modbus-tcp', endpoint: '127.0.0.1:502 unit 2' }],
};

export function sequence(readings: Reading[], seqFirst: number): SequencedReading[] {
  return readings.map((r, i) => ({ ...r, seq: seqFirst + i }));
}

export function batchBytes(readings: Reading[], seqFirst: number, opts: { producerId?: string; epoch?: number; historical?: boolean } = {}): Uint8Array {
  return encodeBatch({ producerId: opts.producerId ?? CATALOG.producerId, epoch: opts.epoch ?? 1, seqFirst, readings: sequence(readings, seqFirst), historical: opts.historical ?? false }, { compression: 'deflate' });
}

/** A gateway connection with its ack subscription; acks are collected in order. */
export interface TestGateway {
  client: MqttClient;
  acks: AckData[];
  topic(kind: 'data' | 'catalog' | 'status' | 'health' | 'ack' | 'cmd'): string;
  publish(kind: 'data' | 'catalog' | 'status' | 'health', payload: Uint8Array, retain?: boolean): Promise<void>;
  nextAck(match: (a: AckData) => boolean, ms?: number): Promise<AckData>;
  close(): Promise<void>;
}

export async function connectGateway(port: number, gw: { id: string; tenant: string; password: string }, opts: { subscribeAck?: boolean } = {}): Promise<TestGateway> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: gw.id, username: gw.id, password: gw.password, reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 3000 });
  const acks: AckData[] = [];
  const topic = (kind: Parameters<TestGateway['topic']>[0]): string => topicFor(gw.tenant, gw.id, kind);
  client.on('message', (t, payload) => {
    if (t === topic('ack')) acks.push(decodeAck(payload));
  });
  client.on('error', () => undefined);
  if (opts.subscribeAck !== false) {
    const granted = await client.subscribeAsync(topic('ack'), { qos: 1 });
    if (granted[0]?.qos !== 1) throw new Error('ack subscription refused');
  }
  return {
    client, acks, topic,
    async publish(kind, payload, retain = false) {
      await client.publishAsync(topic(kind), Buffer.from(payload), { qos: 1, retain });
    },
    async nextAck(match, ms = 5000) {
      await until(() => acks.some(match), ms);
      return acks.find(match)!;
    },
    async close() {
      await client.endAsync(true).catch(() => undefined);
    },
  };
}

export async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs `jinyun admin` in this process and captures what it writes and its exit code. */
export async function runAdminCaptured(args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  process.exitCode = 0;
  await runAdmin(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, code };
}

/** API tokens of the two-tenant API tests: tenant ta, tenant tb, and a platform (operator) token. */
export const API_TOKENS = { a: 'tok-a.secret-of-tenant-a-000', b: 'tok-b.secret-of-tenant-b-000', ops: 'tok-ops.secret-of-the-operator' } as const;

/**
 * A SQLite store for the API tests: gateways gw-a (tenant ta) and gw-b (tb), a token of each tenant
 * and a platform token (API_TOKENS), and the test catalog on gw-a.
 */
export async function twoTenantApiStore(dir: string): Promise<SqliteStore> {
  const store = await SqliteStore.open({ path: join(dir, 'cloud.db') }, { logger: silentLogger() });
  await store.registerGateways([{ id: 'gw-a', tenant: 'ta' }, { id: 'gw-b', tenant: 'tb' }]);
  for (const [t, tok] of [['ta', API_TOKENS.a], ['tb', API_TOKENS.b]] as const) {
    await store.applyRegistry({ op: 'addTenant', id: t, atMs: T0 });
    const [id, secret] = tok.split('.') as [string, string];
    await store.applyRegistry({ op: 'addToken', id, tenant: t, scope: 'tenant', tokenHash: await hashPassword(secret), atMs: T0 });
  }
  const [opsId, opsSecret] = API_TOKENS.ops.split('.') as [string, string];
  await store.applyRegistry({ op: 'addToken', id: opsId, tenant: '', scope: 'platform', tokenHash: await hashPassword(opsSecret), atMs: T0 });
  await store.applyRegistry({ op: 'seedGateways', gateways: [], atMs: T0 });
  await store.upsertCatalog('gw-a', CATALOG);
  return store;
}
