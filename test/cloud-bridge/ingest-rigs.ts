import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { silentLogger } from '../../core/logger.js';
import { Sqlite } from '../../core/sqlite.js';
import { topicFor } from '../../core/topics.js';
import { decodeAck, type AckData } from '../../proto/codec.js';
import { cloudConfigSchema } from '../../cloud-bridge/config.js';
import { startCloudBridge, type CloudBridge } from '../../cloud-bridge/bridge.js';
import type { IngestMetrics } from '../../cloud-bridge/ingest.js';
import type { Gap } from '../../cloud-bridge/gap-tracker.js';
import type { CloudStore } from '../../cloud-bridge/store/reading-store.js';
import { MOSQUITTO, PG_URL, dropSchemas, uniqueSchema } from '../helpers/services.js';
import { GW1, connectGateway, gatewayHashes, startTestBridge, testConfig, until, type TestGateway } from './helpers.js';

/**
 * One ingest deployment under test, so the same end-to-end tests run against (a) the embedded aedes
 * broker with the SQLite store and (b) two ingest workers behind the machine's Mosquitto (MQTT 5
 * shared subscription) with one PostgreSQL schema.
 */
export interface IngestRig {
  name: string;
  workers: CloudBridge[];
  /** The store, as the first worker sees it. */
  store: CloudStore;
  /** Gateway identity of the tests (registered, its tenant unique to the run on a shared broker). */
  gw: { id: string; tenant: string; password: string };
  connect(): Promise<TestGateway>;
  /** Puts a message on the bus as the broker would deliver it (no broker ACL in the way). */
  deliver(topic: string, payload: Uint8Array): Promise<void>;
  /** GAP events the workers reported (each worker's alarm observer, captured). */
  gaps: Gap[];
  /** Sum of the workers' ingest counters (counter maps merged). */
  ingest(): IngestMetrics;
  /** Registers a gateway of the rig's tenant and revokes it; resolves once every worker knows. */
  revokedGateway(id: string): Promise<{ id: string; tenant: string }>;
  /** Makes every ingest write fail with a real database error until the returned function is called. */
  breakStore(): Promise<() => Promise<void>>;
  /** True when other tests' traffic may reach the workers (a shared broker): unknown_gateway drops are not exact. */
  sharedBroker: boolean;
  close(): Promise<void>;
}

/** Captures the GAP events a worker hands its alarm engine. */
function captureGaps(workers: CloudBridge[]): Gap[] {
  const gaps: Gap[] = [];
  for (const w of workers) {
    const real = w.alarms.gap.bind(w.alarms);
    w.alarms.gap = (g) => { gaps.push(g); real(g); };
  }
  return gaps;
}

export function sumIngest(ms: IngestMetrics[]): IngestMetrics {
  const out = structuredClone(ms[0]!) as unknown as Record<string, number | Record<string, number>>;
  for (const m of ms.slice(1)) {
    for (const [k, v] of Object.entries(m)) {
      if (typeof v === 'number') out[k] = (out[k] as number) + v;
      else {
        const map = { ...(out[k] as Record<string, number>) };
        for (const [r, n] of Object.entries(v as Record<string, number>)) map[r] = (map[r] ?? 0) + n;
        out[k] = map;
      }
    }
  }
  return out as unknown as IngestMetrics;
}

/** The embedded aedes broker and the SQLite store in this process. */
export async function sqliteRig(dir: string, ingest: Record<string, unknown> = {}): Promise<IngestRig> {
  const bridge = await startTestBridge(await testConfig(dir, { mqtt: { maxPacketBytes: 64 * 1024 }, ingest }));
  return {
    name: 'aedes + SQLite', workers: [bridge], store: bridge.store, gw: GW1, sharedBroker: false, gaps: captureGaps([bridge]),
    connect: () => connectGateway(bridge.mqttPort, GW1),
    deliver: (topic, payload) => bridge.bus.publish(topic, payload, { qos: 1, retain: false }),
    ingest: () => sumIngest([bridge.metrics.ingest]),
    async revokedGateway(id) {
      await bridge.store.applyRegistry({ op: 'addGateway', id, tenant: GW1.tenant, passwordHash: null, atMs: Date.now() });
      await bridge.store.applyRegistry({ op: 'revokeGateway', id, atMs: Date.now() });
      await bridge.registry.poll();
      return { id, tenant: GW1.tenant };
    },
    async breakStore() {
      // A second connection holds the write lock: the ingest's BEGIN IMMEDIATE ends in SQLITE_BUSY after busy_timeout.
      const other = await Sqlite.open(join(dir, 'cloud.db'));
      await other.exec('BEGIN IMMEDIATE');
      return async () => {
        await other.exec('COMMIT');
        await other.close();
      };
    },
    close: () => bridge.close(),
  };
}

/** Two ingest workers (in this process) attached to Mosquitto on 127.0.0.1:1883, one PostgreSQL schema. */
export async function pgMosquittoRig(ingest: Record<string, unknown> = {}): Promise<IngestRig> {
  const run = randomBytes(4).toString('hex');
  const gw = { id: `gw-${run}`, tenant: `t-${run}`, password: '' };
  const schema = uniqueSchema('jy_rig');
  const [h1] = await gatewayHashes();
  const config = cloudConfigSchema.parse({
    http: { port: 0 },
    store: { type: 'postgres', url: PG_URL, schema, poolSize: 4 },
    externalBroker: { url: `mqtt://${MOSQUITTO.host}:${MOSQUITTO.port}`, shareGroup: `jy-${run}` },
    registry: { pollMs: 200 },
    gateways: [{ id: gw.id, tenant: gw.tenant, passwordHash: h1 }],
    ingest,
    log: { level: 'silent' },
  });
  const workers: CloudBridge[] = [];
  for (let i = 0; i < 2; i++) workers.push(await startCloudBridge(config, { logger: silentLogger() }));
  const raw = await mqtt.connectAsync(`mqtt://${MOSQUITTO.host}:${MOSQUITTO.port}`, { clientId: `raw-${run}`, protocolVersion: 4, reconnectPeriod: 0 });
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  return {
    name: 'Mosquitto + PostgreSQL, two workers', workers, store: workers[0]!.store, gw, sharedBroker: true, gaps: captureGaps(workers),
    connect: () => pgMosquittoGateway(gw),
    deliver: async (topic, payload) => { await raw.publishAsync(topic, Buffer.from(payload), { qos: 1 }); },
    ingest: () => sumIngest(workers.map((w) => w.metrics.ingest)),
    async revokedGateway(id) {
      await workers[0]!.store.applyRegistry({ op: 'addGateway', id, tenant: gw.tenant, passwordHash: null, atMs: Date.now() });
      await workers[0]!.store.applyRegistry({ op: 'revokeGateway', id, atMs: Date.now() });
      for (const w of workers) await w.registry.poll();
      return { id, tenant: gw.tenant };
    },
    async breakStore() {
      // A real PostgreSQL error (SQLSTATE 53100 disk_full) raised inside the ingest's transaction.
      await admin.query(`CREATE FUNCTION ${schema}.jy_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$`);
      await admin.query(`CREATE TRIGGER jy_fail BEFORE INSERT ON ${schema}.batches FOR EACH ROW EXECUTE FUNCTION ${schema}.jy_fail()`);
      return async () => {
        await admin.query(`DROP TRIGGER jy_fail ON ${schema}.batches`);
        await admin.query(`DROP FUNCTION ${schema}.jy_fail()`);
      };
    },
    async close() {
      await raw.endAsync(true).catch(() => undefined);
      for (const w of workers) await w.close().catch(() => undefined);
      await admin.end().catch(() => undefined);
      await dropSchemas([schema]);
    },
  };
}

/** A gateway on the shared Mosquitto (anonymous there; the broker's ACL is the operator's). */
export async function pgMosquittoGateway(gw: { id: string; tenant: string }): Promise<TestGateway> {
  const client: MqttClient = await mqtt.connectAsync(`mqtt://${MOSQUITTO.host}:${MOSQUITTO.port}`, { clientId: gw.id, protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 3000 });
  const acks: AckData[] = [];
  const topic = (kind: Parameters<TestGateway['topic']>[0]): string => topicFor(gw.tenant, gw.id, kind);
  client.on('message', (t, p) => { if (t === topic('ack')) acks.push(decodeAck(p)); });
  client.on('error', () => undefined);
  await client.subscribeAsync(topic('ack'), { qos: 1 });
  return {
    client, acks, topic,
    async publish(kind, payload, retain = false) { await client.publishAsync(topic(kind), Buffer.from(payload), { qos: 1, retain }); },
    async nextAck(match, ms = 5000) {
      await until(() => acks.some(match), ms);
      return acks.find(match)!;
    },
    async close() { await client.endAsync(true).catch(() => undefined); },
  };
}
