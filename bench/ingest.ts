import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import sqlite3 from 'sqlite3';
import { silentLogger } from '../core/logger.js';
import { topicFor } from '../core/topics.js';
import type { SequencedReading } from '../core/reading.js';
import { decodeAck, decodeBatch, encodeBatch, encodeCatalog, type CatalogData } from '../proto/codec.js';
import type { CloudStore } from '../cloud-bridge/store/reading-store.js';
import { hashPassword } from '../cloud-bridge/credentials.js';
import { SqliteStore } from '../cloud-bridge/store/sqlite-store.js';
import { PgStore } from '../cloud-bridge/store/pg-store.js';
import { monthPartition } from '../cloud-bridge/store/pg-schema.js';
import { spawnJinyun, stopChild, type Child } from '../cli/process.js';
import { MOSQUITTO, PG_URL, dropSchemas } from '../test/helpers/services.js';
import { tempDir } from '../test/helpers/tmp.js';
import { commCpuSeconds, cpuSeconds, machineBusy, type BenchGroup, type Figure } from './harness.js';

const READINGS = Number(process.env.BENCH_INGEST_READINGS ?? 1_000_000);
const PG_READINGS = Number(process.env.BENCH_INGEST_PG_READINGS ?? 600_000);
/** Parts to run (sqlite, pg, external); all by default. */
const PARTS = (process.env.BENCH_INGEST_PARTS ?? 'sqlite,pg,external').split(',');
const GATEWAYS = 8;
const TAGS = 250;
const BATCH = 5000;
const IN_FLIGHT = 4;
/** Source times a month ago (inside the ingest's window, one month partition in PostgreSQL). */
const T0 = Math.floor((Date.now() - 30 * 86_400_000) / 86_400_000) * 86_400_000;

interface Gw { id: string; tenant: string; password: string; catalog: CatalogData; batches: Buffer[] }

/** GATEWAYS gateways, each with TAGS float tags and its share of `total` readings as pre-encoded 5,000-reading batches (deflate, as the edge sends). */
export function feed(total: number, run: string): Gw[] {
  const per = Math.ceil(total / GATEWAYS / BATCH);
  return Array.from({ length: GATEWAYS }, (_, g) => {
    const producerId = `bench-${run}-${g}`;
    const catalog: CatalogData = { producerId, version: 1, devices: [], tags: Array.from({ length: TAGS }, (_, t) => ({ id: t + 1, key: `dev${t % 10}/tag${t}`, device: `dev${t % 10}`, unit: 'm/s', dataType: 'float32', description: '' })) };
    const batches: Buffer[] = [];
    let seq = 1;
    for (let b = 0; b < per; b++) {
      const readings: SequencedReading[] = [];
      for (let i = 0; i < BATCH; i++, seq++) readings.push({ tagId: (i % TAGS) + 1, ts: T0 + Math.floor(seq / TAGS) * 1000, value: Math.round(Math.sin(seq / 100) * 1000) / 100, quality: 0, seq });
      batches.push(Buffer.from(encodeBatch({ producerId, epoch: 1, seqFirst: readings[0]!.seq, readings, historical: false }, { compression: 'deflate' })));
    }
    return { id: `bgw-${run}-${g}`, tenant: `bt-${run}`, password: randomBytes(12).toString('base64url'), catalog, batches };
  });
}

type StoreYaml = { type: 'sqlite'; path: string } | { type: 'postgres'; schema: string };

export async function writeCloudConfig(file: string, store: StoreYaml, gws: Gw[], external?: { shareGroup: string }): Promise<void> {
  const lines = ['mqtt:', '  host: 127.0.0.1', '  port: 0', 'http:', '  host: 127.0.0.1', '  port: 0', 'store:', `  type: ${store.type}`];
  if (store.type === 'sqlite') lines.push(`  path: ${store.path}`);
  else lines.push(`  url: ${PG_URL}`, `  schema: ${store.schema}`, '  poolSize: 4');
  if (external) lines.push('externalBroker:', `  url: mqtt://${MOSQUITTO.host}:${MOSQUITTO.port}`, `  shareGroup: ${external.shareGroup}`);
  lines.push('ingest:', '  maxQueuedPerGateway: 64', 'gateways:');
  for (const g of gws) lines.push(`  - id: ${g.id}`, `    tenant: ${g.tenant}`, `    passwordHash: "${await hashPassword(g.password)}"`);
  writeFileSync(file, `${lines.join('\n')}\n`);
}

async function startWorkers(file: string, n: number): Promise<{ children: Child[]; mqttPort: number }> {
  const children: Child[] = [];
  let mqttPort = 0;
  for (let i = 0; i < n; i++) {
    const c = spawnJinyun(['cloud', '--config', file], { env: { JINYUN_LOG_LEVEL: 'warn' } });
    children.push(c);
    mqttPort = Number((await c.waitFor('listening', 60_000)).mqttPort);
  }
  return { children, mqttPort };
}

/**
 * Sends every gateway's batches with IN_FLIGHT unacknowledged at most per gateway (as the edge does)
 * and resolves with readings/s from the first timed publish to the last application Ack. A catalog
 * and one warm-up batch per gateway go first (not timed). Any answer but ok fails the run.
 */
export async function drive(url: string, gws: Gw[], auth: boolean): Promise<number> {
  const clients: MqttClient[] = [];
  try {
    const lanes = await Promise.all(gws.map(async (g) => {
      const client = await mqtt.connectAsync(url, { clientId: g.id, ...(auth ? { username: g.id, password: g.password } : {}), protocolVersion: 4, clean: true, reconnectPeriod: 0 });
      clients.push(client);
      const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
      client.on('message', (_t, p) => {
        const a = decodeAck(p);
        const w = waiting.get(a.seqFirst);
        if (!w) return;
        waiting.delete(a.seqFirst);
        if (a.result === 'ok') w.resolve();
        else w.reject(new Error(`gateway ${g.id} batch ${a.seqFirst}: ${a.result} ${a.reasonCode ?? ''} ${a.reason ?? ''}`));
      });
      await client.subscribeAsync(topicFor(g.tenant, g.id, 'ack'), { qos: 1 });
      const send = (i: number): Promise<void> => new Promise<void>((resolve, reject) => {
        waiting.set(1 + i * BATCH, { resolve, reject });
        client.publish(topicFor(g.tenant, g.id, 'data'), g.batches[i]!, { qos: 1 }, (err) => { if (err) reject(err); });
      });
      await client.publishAsync(topicFor(g.tenant, g.id, 'catalog'), Buffer.from(encodeCatalog(g.catalog)), { qos: 1 });
      for (let attempt = 0; ; attempt++) {
        const ok = await send(0).then(() => true, (e: Error) => { if (attempt > 50 || !e.message.includes('unknown_tag')) throw e; return false; });
        if (ok) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      return { g, send };
    }));
    const t0 = performance.now();
    let readings = 0;
    await Promise.all(lanes.map(async ({ g, send }) => {
      let next = 1;
      await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
        while (next < g.batches.length) {
          await send(next++);
          readings += BATCH;
        }
      }));
    }));
    return readings / ((performance.now() - t0) / 1000);
  } finally {
    for (const c of clients) await c.endAsync(true).catch(() => undefined);
  }
}

const READING_COLS = '(series_id, ts, kind, value, value_text, quality, epoch, seq, historical)';

/**
 * Bare SQLite ceilings on the store's own readings table (same indexes, same cache and checkpoint settings), WAL, synchronous=FULL:
 * `jsonb` inserts 5,000 rows per statement from one JSON parameter (as the store does), 20,000 rows
 * per transaction; `bound` runs a prepared 500-row multi-row INSERT with bound parameters, 5,000
 * rows per transaction (the store's former path, for comparison).
 */
async function sqliteBare(dir: string, rows: number, mode: 'jsonb' | 'bound'): Promise<number> {
  const path = join(dir, `bare-${mode}.db`);
  await (await SqliteStore.open({ path }, { logger: silentLogger() })).close();
  const db = new sqlite3.Database(path);
  const exec = (sql: string) => new Promise<void>((res, rej) => db.exec(sql, (e) => (e ? rej(e) : res())));
  // The store's own writer settings (sqlite-schema.ts applyPragmas), so the ratio measures the ingest, not the tuning.
  await exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=16384; PRAGMA journal_size_limit=67108864');
  const CH = 500;
  const sql = mode === 'bound'
    ? `INSERT INTO readings ${READING_COLS} VALUES ${new Array(CH).fill('(?,?,?,?,?,?,?,?,?)').join(',')}`
    : `INSERT INTO readings ${READING_COLS} SELECT value->>0, value->>1, 0, value->>2 * pow(2.0, value->>3), NULL, 0, 1, value->>4, 0 FROM jsonb_each(?1)`;
  const stmt = db.prepare(sql);
  const run = (p: unknown[]) => new Promise<void>((res, rej) => stmt.run(p, (e) => (e ? rej(e) : res())));
  const t0 = performance.now();
  for (let seq = 1; seq <= rows; ) {
    await exec('BEGIN IMMEDIATE');
    if (mode === 'bound') {
      for (let k = 0; k < BATCH / CH; k++) {
        const p: (number | null)[] = [];
        for (let i = 0; i < CH; i++, seq++) p.push((seq % TAGS) + 1, T0 + seq, 0, seq * 0.01, null, 0, 1, seq, 0);
        await run(p);
      }
    } else {
      for (let k = 0; k < 4; k++) {
        const a: number[][] = [];
        for (let i = 0; i < BATCH; i++, seq++) a.push([(seq % TAGS) + 1, T0 + seq, seq, -2, seq]);
        await run([JSON.stringify(a)]);
      }
    }
    await exec('COMMIT');
  }
  const rate = rows / ((performance.now() - t0) / 1000);
  await new Promise<void>((r) => stmt.finalize(() => r()));
  await new Promise<void>((r) => db.close(() => r()));
  return rate;
}

/**
 * Bare PostgreSQL ceiling: the store's own partitioned readings table (same indexes and triggers),
 * 4 connections at once (the store's pool), 5,000-row INSERT ... SELECT FROM unnest per
 * transaction, synchronous_commit=on.
 */
async function pgBare(schema: string, rows: number): Promise<number> {
  await (await PgStore.open({ url: PG_URL, schema, poolSize: 2 }, { logger: silentLogger() })).close();
  const clients = Array.from({ length: 4 }, () => new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema} -c synchronous_commit=on` }));
  for (const c of clients) await c.connect();
  try {
    const p = monthPartition(T0);
    await clients[0]!.query(`CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF readings FOR VALUES FROM (${p.fromMs}) TO (${p.toMs})`);
    let next = 1;
    const t0 = performance.now();
    await Promise.all(clients.map(async (c) => {
      while (next <= rows) {
        let seq = next;
        next += BATCH;
        const sid: number[] = []; const ts: number[] = []; const v: number[] = []; const sq: number[] = [];
        for (let i = 0; i < BATCH; i++, seq++) { sid.push((seq % TAGS) + 1); ts.push(T0 + seq); v.push(seq * 0.01); sq.push(seq); }
        await c.query('BEGIN');
        await c.query(`INSERT INTO readings ${READING_COLS} SELECT s, t, 0, v, NULL, 0, 1, n, false FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::bigint[]) AS u(s, t, v, n)`, [sid, ts, v, sq]);
        await c.query('COMMIT');
      }
    }));
    return (next - 1) / ((performance.now() - t0) / 1000);
  } finally {
    for (const c of clients) await c.end();
  }
}

/**
 * The store alone: the same pre-encoded batches decoded up front and written with writeBatch from 8
 * concurrent callers (one per gateway, as the ingest's per-gateway chains do), no broker, no decode:
 * what the ingest would reach if the store were its only cost.
 */
async function storeOnly(store: CloudStore, total: number): Promise<number> {
  const gws = feed(total, randomBytes(3).toString('hex'));
  try {
    await store.registerGateways(gws.map((g) => ({ id: g.id, tenant: g.tenant })));
    for (const g of gws) await store.upsertCatalog(g.id, g.catalog);
    const decoded = gws.map((g) => g.batches.map((bytes) => ({ bytes, batch: decodeBatch(bytes) })));
    let readings = 0;
    const t0 = performance.now();
    await Promise.all(decoded.map(async (list, i) => {
      for (const { bytes, batch } of list) {
        const o = await store.writeBatch(gws[i]!.id, batch, { receivedMs: Date.now(), bytes });
        if (o.result !== 'ok') throw new Error(`store answered ${o.result}`);
        readings += batch.count;
      }
    }));
    return readings / ((performance.now() - t0) / 1000);
  } finally {
    await store.close();
  }
}

async function embedded(dir: string, store: StoreYaml, total: number): Promise<number> {
  const gws = feed(total, randomBytes(3).toString('hex'));
  const file = join(dir, `cloud-${store.type}.yaml`);
  await writeCloudConfig(file, store, gws);
  const w = await startWorkers(file, 1);
  try {
    return await drive(`mqtt://127.0.0.1:${w.mqttPort}`, gws, true);
  } finally {
    for (const c of w.children) await stopChild(c);
  }
}

/** One external-broker run: readings/s, the cores the whole machine was busy, and the cores the ingest workers used. */
interface ExternalRun { rate: number; machineCores: number; workerCores: number; pgCores: number; mosquittoCores: number; publisherCores: number }

async function external(dir: string, schema: string, workers: number, total: number): Promise<ExternalRun> {
  const run = randomBytes(3).toString('hex');
  const gws = feed(total, run);
  const file = join(dir, `cloud-ext-${workers}.yaml`);
  await writeCloudConfig(file, { type: 'postgres', schema }, gws, { shareGroup: `jyb-${run}` });
  const w = await startWorkers(file, workers);
  try {
    const pids = w.children.map((c) => c.proc.pid!);
    const cpu = () => ({ workers: pids.reduce((a, p) => a + cpuSeconds(p), 0), pg: commCpuSeconds('postgres'), mosquitto: commCpuSeconds('mosquitto'), self: process.cpuUsage() });
    const c0 = cpu();
    const busy = machineBusy();
    const t0 = performance.now();
    const rate = await drive(`mqtt://${MOSQUITTO.host}:${MOSQUITTO.port}`, gws, false);
    const s = (performance.now() - t0) / 1000;
    const c1 = cpu();
    const self = process.cpuUsage(c0.self);
    return {
      rate, machineCores: busy(), workerCores: (c1.workers - c0.workers) / s, pgCores: (c1.pg - c0.pg) / s,
      mosquittoCores: (c1.mosquitto - c0.mosquitto) / s, publisherCores: (self.user + self.system) / 1e6 / s,
    };
  } finally {
    for (const c of w.children) await stopChild(c);
  }
}

/**
 * Durable ingest throughput: pre-encoded 5,000-reading batches from 8 gateways through a real
 * `jinyun cloud` process (decode, dedupe, commit, then Ack), each beside the bare insert ceiling of
 * the same store measured in the same run; and one vs. two ingest workers on the external Mosquitto
 * with PostgreSQL.
 */
export const ingestGroup: BenchGroup = {
  name: 'ingest',
  description: `${READINGS.toLocaleString('en-US')} readings into SQLite, ${PG_READINGS.toLocaleString('en-US')} into PostgreSQL (embedded broker, then 1 vs 2 workers on Mosquitto), in 5,000-reading batches from ${GATEWAYS} gateways, until every Ack`,
  async run(report) {
    const tmp = tempDir('jinyun-bench-ingest-');
    const schemas: string[] = [];
    const schema = (): string => {
      const s = `jy_bench_${process.pid}_${schemas.length}`;
      schemas.push(s);
      return s;
    };
    const fig = (name: string, value: number, unit = 'readings/s'): void => report({ name: `ingest.${name}`, value, unit } satisfies Figure);
    try {
      if (PARTS.includes('sqlite')) {
        const sqliteBareRate = await sqliteBare(tmp.dir, READINGS, 'jsonb');
        fig('sqlite_bare_rows_per_s', sqliteBareRate, 'rows/s');
        fig('sqlite_bare_bound_rows_per_s', await sqliteBare(tmp.dir, READINGS / 2, 'bound'), 'rows/s');
        fig('sqlite_store_only_readings_per_s', await storeOnly(await SqliteStore.open({ path: join(tmp.dir, 'store-only.db') }, { logger: silentLogger() }), READINGS));
        const sqliteRate = await embedded(tmp.dir, { type: 'sqlite', path: join(tmp.dir, 'cloud.db') }, READINGS);
        fig('sqlite_readings_per_s', sqliteRate);
        fig('sqlite_over_bare', sqliteRate / sqliteBareRate, 'ratio');
      }
      if (PARTS.includes('pg')) {
        const pgBareRate = await pgBare(schema(), PG_READINGS);
        fig('pg_bare_rows_per_s', pgBareRate, 'rows/s');
        fig('pg_store_only_readings_per_s', await storeOnly(await PgStore.open({ url: PG_URL, schema: schema(), poolSize: 4 }, { logger: silentLogger() }), PG_READINGS));
        const pgRate = await embedded(tmp.dir, { type: 'postgres', schema: schema() }, PG_READINGS);
        fig('pg_readings_per_s', pgRate);
        fig('pg_over_bare', pgRate / pgBareRate, 'ratio');
      }
      if (PARTS.includes('external')) {
        // Workers, Mosquitto, PostgreSQL and the 8 publishing gateways share this machine's cores: the
        // busy-cores figures say whether a second worker had any CPU left to use.
        const cores = `cores busy of ${availableParallelism()} (whole machine: workers, Mosquitto, PostgreSQL, publishers)`;
        const one = await external(tmp.dir, schema(), 1, PG_READINGS);
        fig('external_one_worker_readings_per_s', one.rate);
        fig('external_one_worker_machine_busy_cores', one.machineCores, cores);
        fig('external_one_worker_cores', one.workerCores, 'cores (the ingest worker process)');
        fig('external_one_worker_pg_cores', one.pgCores, 'cores (every postgres process)');
        fig('external_one_worker_mosquitto_cores', one.mosquittoCores, 'cores (mosquitto)');
        fig('external_one_worker_publisher_cores', one.publisherCores, 'cores (the 8 publishing gateways, this process)');
        const two = await external(tmp.dir, schema(), 2, PG_READINGS);
        fig('external_two_workers_readings_per_s', two.rate);
        fig('external_two_workers_machine_busy_cores', two.machineCores, cores);
        fig('external_two_workers_cores', two.workerCores, 'cores (both ingest worker processes)');
        fig('external_two_workers_pg_cores', two.pgCores, 'cores (every postgres process)');
        fig('external_two_workers_mosquitto_cores', two.mosquittoCores, 'cores (mosquitto)');
        fig('two_workers_over_one', two.rate / one.rate, 'ratio');
        // CPU the workers spend per reading, two vs one: near 1 means a second worker adds no
        // overhead, so the pair scales where it gets cores of its own.
        fig('two_workers_cpu_per_reading_over_one', (two.workerCores / two.rate) / (one.workerCores / one.rate), 'ratio');
      }
    } finally {
      await dropSchemas(schemas).catch(() => undefined);
      tmp.cleanup();
    }
  },
};
