import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Sqlite } from '../../core/sqlite.js';
import { encodeCatalog } from '../../proto/codec.js';
import type { FaultPoint } from '../../cloud-bridge/ingest.js';
import { tempDir } from '../helpers/tmp.js';
import { startCloudChild, type CloudChild } from '../helpers/cloud-child.js';
import { freePort } from '../helpers/ports.js';
import { CATALOG, T0, batchBytes, connectGateway, type TestGateway } from '../cloud-bridge/helpers.js';

const POINTS: FaultPoint[] = ['received', 'decoded', 'before_commit', 'committed', 'acked'];
const BATCHES = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Test C2 (ack-path ordering): the ingest process is SIGKILLed at each instrumented point in turn
 * (after delivery, after decode, inside the transaction before COMMIT, after COMMIT before the Ack,
 * after the Ack). A gateway that resends every batch until it gets an application Ack (as the edge
 * does) drives it; the cloud is restarted on the same ports. Then: zero loss, zero duplicates.
 */
describe('fault C2: ingest killed at each step of decode, commit and ack', () => {
  const tmp = tempDir('jinyun-c2-');
  const children: CloudChild[] = [];
  afterAll(async () => {
    for (const c of children) await c.stop().catch(() => undefined);
    tmp.cleanup();
  });

  for (const point of POINTS) {
    it(`kill at ${point}: every reading stored exactly once`, async () => {
      const dir = join(tmp.dir, point);
      (await import('node:fs')).mkdirSync(dir);
      const ports = { mqttPort: await freePort(), httpPort: await freePort() };
      process.env.JINYUN_FAULT_KILL = `${point}:3`;
      let cloud: CloudChild;
      try {
        cloud = await startCloudChild(dir, ports);
      } finally {
        delete process.env.JINYUN_FAULT_KILL;
      }
      children.push(cloud);
      const password = cloud.gateway.password;
      let killed = 0;
      let gw: TestGateway | undefined;
      const ensure = async (): Promise<TestGateway> => {
        while (!gw || !gw.client.connected) {
          const exit = await Promise.race([cloud.child.exited, sleep(0).then(() => null)]);
          if (exit) {
            expect(exit.signal).toBe('SIGKILL');
            killed++;
            cloud = await startCloudChild(dir, { ...ports, password });
            children.push(cloud);
          }
          gw = await connectGateway(ports.mqttPort, { ...cloud.gateway, password }).catch(async () => { await sleep(100); return undefined; });
          if (gw) void gw.publish('catalog', encodeCatalog(CATALOG), true).catch(() => undefined);
        }
        return gw;
      };
      for (let b = 0; b < BATCHES; b++) {
        const seq = 1 + b * 2;
        const bytes = batchBytes([{ tagId: 1, ts: T0 + seq, value: seq, quality: 0 }, { tagId: 1, ts: T0 + seq + 1, value: seq + 1, quality: 0 }], seq);
        for (;;) {
          const g = await ensure();
          g.acks.length = 0;
          void g.publish('data', bytes).catch(() => undefined); // a QoS 1 publish on a dying link may never settle: the Ack decides
          const ack = await g.nextAck((a) => a.seqFirst === seq, 1500).catch(() => undefined);
          if (ack && (ack.result === 'ok' || ack.result === 'duplicate')) break;
          if (!ack) await g.close(); // no answer: reconnect (and restart the cloud if it died), then resend
        }
      }
      await gw?.close();
      expect(killed).toBe(1);
      const db = await Sqlite.open(join(dir, 'cloud.db'), { readonly: true });
      try {
        const rows = await db.all<{ seq: number; value: number }>('SELECT seq, value FROM readings ORDER BY seq');
        expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: BATCHES * 2 }, (_, i) => i + 1));
        expect(rows.every((r) => r.value === r.seq)).toBe(true);
      } finally {
        await db.close();
      }
    }, 60_000);
  }
});
