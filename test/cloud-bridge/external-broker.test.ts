import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { silentLogger } from '../../core/logger.js';
import { topicFor } from '../../core/topics.js';
import { decodeAck, encodeCatalog, type AckData } from '../../proto/codec.js';
import { cloudConfigSchema } from '../../cloud-bridge/config.js';
import { startCloudBridge, type CloudBridge } from '../../cloud-bridge/bridge.js';
import { MOSQUITTO, PG_URL, dropSchemas, haveMosquitto, havePostgres, uniqueSchema } from '../helpers/services.js';
import { CATALOG, T0, batchBytes, gatewayHashes, until } from './helpers.js';

const ok = (await havePostgres()) && (await haveMosquitto());

/**
 * Scale-out: two ingest workers attached to the machine's Mosquitto (MQTT 5 shared subscription,
 * unique tenant and share group per run), one PostgreSQL schema. Every batch is stored exactly once
 * and both workers take part.
 */
describe.skipIf(!ok)('two ingest workers behind an external Mosquitto with PostgreSQL', () => {
  const run = randomBytes(4).toString('hex');
  const tenant = `t-${run}`;
  const gwId = `gw-${run}`;
  const schema = uniqueSchema('jy_ext');
  const workers: CloudBridge[] = [];

  beforeAll(async () => {
    const [h1] = await gatewayHashes();
    const config = cloudConfigSchema.parse({
      http: { port: 0 },
      store: { type: 'postgres', url: PG_URL, schema, poolSize: 4 },
      externalBroker: { url: `mqtt://${MOSQUITTO.host}:${MOSQUITTO.port}`, shareGroup: `jy-${run}` },
      gateways: [{ id: gwId, tenant, passwordHash: h1 }],
      log: { level: 'silent' },
    });
    for (let i = 0; i < 2; i++) workers.push(await startCloudBridge(config, { logger: silentLogger() }));
  });
  afterAll(async () => {
    for (const w of workers) await w.close().catch(() => undefined);
    await dropSchemas([schema]);
  });

  it('stores every batch exactly once, and both workers ingest', async () => {
    const client = await mqtt.connectAsync(`mqtt://${MOSQUITTO.host}:${MOSQUITTO.port}`, { clientId: gwId, protocolVersion: 4, clean: true, reconnectPeriod: 0 });
    const acks: AckData[] = [];
    client.on('message', (_t, p) => acks.push(decodeAck(p)));
    await client.subscribeAsync(topicFor(tenant, gwId, 'ack'), { qos: 1 });
    try {
      await client.publishAsync(topicFor(tenant, gwId, 'catalog'), Buffer.from(encodeCatalog(CATALOG)), { qos: 1 });
      await until(async () => (await workers[0]!.store.tags({ gateway: gwId })).length > 0);
      const N = 40;
      const pending = new Set(Array.from({ length: N }, (_, i) => 1 + i * 10));
      for (let round = 0; round < 5 && pending.size > 0; round++) {
        for (const seq of pending) {
          const readings = Array.from({ length: 10 }, (_, k) => ({ tagId: 1, ts: T0 + seq + k, value: seq + k, quality: 0 }));
          await client.publishAsync(topicFor(tenant, gwId, 'data'), Buffer.from(batchBytes(readings, seq)), { qos: 1 });
        }
        await until(() => [...pending].every((s) => acks.some((a) => a.seqFirst === s)), 10_000).catch(() => undefined);
        for (const a of acks) if (a.result === 'ok' || a.result === 'duplicate') pending.delete(a.seqFirst);
        acks.length = 0;
      }
      expect(pending.size).toBe(0);
      const rows = (await workers[0]!.store.query({ gateway: gwId, key: 'pump/flow', limit: 10_000 }))!.readings;
      expect(rows.length).toBe(N * 10);
      expect(new Set(rows.map((r) => r.seq)).size).toBe(N * 10);
      expect(workers.every((w) => w.metrics.ingest.batchesOk > 0)).toBe(true);
    } finally {
      await client.endAsync(true);
    }
  }, 60_000);
});
