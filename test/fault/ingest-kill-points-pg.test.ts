import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { encodeCatalog } from '../../proto/codec.js';
import type { FaultPoint } from '../../cloud-bridge/ingest.js';
import { hashPassword } from '../../cloud-bridge/credentials.js';
import { spawnJinyun, stopChild, type Child } from '../../cli/process.js';
import { tempDir } from '../helpers/tmp.js';
import { MOSQUITTO, PG_URL, dropSchemas, haveMosquitto, havePostgres, uniqueSchema } from '../helpers/services.js';
import { pgMosquittoGateway } from '../cloud-bridge/ingest-rigs.js';
import { CATALOG, T0, batchBytes } from '../cloud-bridge/helpers.js';

const POINTS: FaultPoint[] = ['received', 'decoded', 'before_commit', 'committed', 'acked'];
const ok = (await havePostgres()) && (await haveMosquitto());

/**
 * Test C2 in the scale-out deployment: two `jinyun cloud` worker processes share the data topics on
 * the machine's Mosquitto (MQTT 5 shared subscription) and write one PostgreSQL schema. Worker A is
 * SIGKILLed the 2nd time it reaches each instrumented point in turn; the gateway resends every batch
 * until an application Ack arrives (as the edge does), worker B (and A, restarted) take over. Then:
 * zero loss, zero duplicates in PostgreSQL.
 */
describe.skipIf(!ok)('fault C2 with two workers behind Mosquitto and PostgreSQL: a worker killed at each step', () => {
  const tmp = tempDir('jinyun-c2pg-');
  const children: Child[] = [];
  const schemas: string[] = [];
  afterAll(async () => {
    for (const c of children) await stopChild(c).catch(() => undefined);
    await dropSchemas(schemas);
    tmp.cleanup();
  });

  async function worker(file: string, fault?: string): Promise<Child> {
    const child = spawnJinyun(['cloud', '--config', file], { env: { JINYUN_LOG_LEVEL: 'warn', JINYUN_FAULT_KILL: fault ?? '' } });
    children.push(child);
    await child.waitFor('listening', 30_000).catch((err: Error) => { throw new Error(`${err.message}\n${child.stderr().slice(-2000)}`); });
    return child;
  }

  for (const point of POINTS) {
    it(`kill a worker at ${point}: every reading stored exactly once`, async () => {
      const run = randomBytes(4).toString('hex');
      const gwId = `gw-${run}`;
      const tenant = `t-${run}`;
      const schema = uniqueSchema('jy_c2');
      schemas.push(schema);
      const file = join(tmp.dir, `${point}.yaml`);
      writeFileSync(file, [
        'http:', '  host: 127.0.0.1', '  port: 0',
        'store:', '  type: postgres', `  url: ${PG_URL}`, `  schema: ${schema}`, '  poolSize: 3',
        'externalBroker:', `  url: mqtt://${MOSQUITTO.host}:${MOSQUITTO.port}`, `  shareGroup: jy-${run}`,
        'gateways:', `  - id: ${gwId}`, `    tenant: ${tenant}`, `    passwordHash: "${await hashPassword('unused-on-mosquitto')}"`, '',
      ].join('\n'));
      let a = await worker(file, `${point}:2`);
      const b = await worker(file);
      const gw = await pgMosquittoGateway({ id: gwId, tenant });
      let killed = 0;
      let sent = 0;
      try {
        await gw.publish('catalog', encodeCatalog(CATALOG));
        await new Promise((r) => setTimeout(r, 300)); // both workers store the catalog (idempotent upsert)
        for (let batch = 0; batch < 40 && (batch < 8 || killed === 0); batch++) {
          const seq = 1 + batch * 2;
          const bytes = batchBytes([{ tagId: 1, ts: T0 + seq, value: seq, quality: 0 }, { tagId: 1, ts: T0 + seq + 1, value: seq + 1, quality: 0 }], seq);
          for (let attempt = 0; ; attempt++) {
            expect(attempt).toBeLessThan(20);
            gw.acks.length = 0;
            await gw.publish('data', bytes);
            const ack = await gw.nextAck((x) => x.seqFirst === seq, 1500).catch(() => undefined);
            const exit = await Promise.race([a.exited, Promise.resolve(null)]);
            if (exit) {
              expect(exit.signal).toBe('SIGKILL');
              killed++;
              a = await worker(file); // restarted without the fault; it rejoins the share group
            }
            if (ack && (ack.result === 'ok' || ack.result === 'duplicate')) break;
            if (ack && ack.result === 'retry' && ack.reasonCode === 'unknown_tag') await gw.publish('catalog', encodeCatalog(CATALOG));
          }
          sent += 2;
        }
      } finally {
        await gw.close();
      }
      expect(killed).toBe(1);
      await stopChild(a);
      await stopChild(b);
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        const rows = (await c.query<{ seq: string; value: number }>(`SELECT seq, value FROM ${schema}.readings ORDER BY seq`)).rows;
        expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
        expect(rows.every((r) => r.value === Number(r.seq))).toBe(true);
      } finally {
        await c.end();
      }
    }, 60_000);
  }
});
