import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { spawnJinyun, stopChild, type Child } from '../../cli/process.js';
import { hashPassword } from '../../cloud-bridge/credentials.js';
import { tempDir } from '../helpers/tmp.js';
import { startCloudChild } from '../helpers/cloud-child.js';
import { edgeSite, getJson, until } from '../helpers/edge-child.js';
import { MOSQUITTO, PG_URL, dropSchemas, haveMosquitto, havePostgres, uniqueSchema } from '../helpers/services.js';

interface Latest { items: { key: string; value: unknown; unit: string; quality: { code: number; name: string } }[] }
interface Series { items: { value: unknown; seq: number; epoch: number; quality: { code: number } }[]; next: string | null }

/** A running cloud side: where the edge publishes, the API to read back, the gateway it knows, and the worker APIs. */
interface Cloud {
  mqttPort: number;
  api: string;
  /** Every ingest worker's API (one for the embedded broker, two behind Mosquitto). */
  workerApis: string[];
  gateway: { id: string; tenant: string; password: string };
  stop(): Promise<void>;
}

/** The default deployment: one `jinyun cloud` with its embedded aedes broker and the SQLite store. */
async function embeddedSqlite(dir: string): Promise<Cloud> {
  const c = await startCloudChild(dir);
  const api = `http://127.0.0.1:${c.httpPort}/api/v1`;
  return { mqttPort: c.mqttPort, api, workerApis: [api], gateway: c.gateway, stop: () => c.stop() };
}

/** The scale-out deployment: two `jinyun cloud` workers sharing the data topics on the machine's Mosquitto (MQTT 5 shared subscription), one PostgreSQL schema. */
async function mosquittoPgTwoWorkers(dir: string): Promise<Cloud> {
  const run = randomBytes(4).toString('hex');
  // Unique ids: the Mosquitto on 1883 is shared with other suites (and keeps retained messages).
  const gateway = { id: `gw-e2e-${run}`, tenant: `t-e2e-${run}`, password: randomBytes(18).toString('base64url') };
  const schema = uniqueSchema('jy_e2e');
  const file = join(dir, 'cloud-pg.yaml');
  writeFileSync(file, [
    'http:', '  host: 127.0.0.1', '  port: 0',
    'store:', '  type: postgres', `  url: ${PG_URL}`, `  schema: ${schema}`, '  poolSize: 3',
    'externalBroker:', `  url: mqtt://${MOSQUITTO.host}:${MOSQUITTO.port}`, `  shareGroup: jy-e2e-${run}`,
    'gateways:', `  - id: ${gateway.id}`, `    tenant: ${gateway.tenant}`, `    passwordHash: "${await hashPassword(gateway.password)}"`, '',
  ].join('\n'));
  const workers: Child[] = [];
  const apis: string[] = [];
  for (let i = 0; i < 2; i++) {
    const w = spawnJinyun(['cloud', '--config', file], { env: { JINYUN_LOG_LEVEL: 'warn' } });
    workers.push(w);
    const ev = await w.waitFor('listening', 30_000).catch((err: Error) => { throw new Error(`${err.message}\n${w.stderr().slice(-2000)}`); });
    apis.push(`http://127.0.0.1:${Number(ev.httpPort)}/api/v1`);
  }
  return {
    mqttPort: MOSQUITTO.port, api: apis[0]!, workerApis: apis, gateway,
    async stop() {
      for (const w of workers) await stopChild(w);
      await dropSchemas([schema]);
    },
  };
}

const scaleOut = (await havePostgres()) && (await haveMosquitto());

/** A reading's whole way: simulator registers -> edge process -> broker -> ingest -> store -> API, in both deployments. */
for (const [name, start, skip] of [
  ['embedded aedes broker, SQLite store', embeddedSqlite, false],
  ['Mosquitto, two ingest workers, PostgreSQL', mosquittoPgTwoWorkers, !scaleOut],
] as const) {
  describe.skipIf(skip)(`end to end: Modbus simulator to the cloud API (${name})`, () => {
    const tmp = tempDir('jinyun-e2e-');
    let sim: ModbusSimServer;
    let cloud: Cloud;
    let edge: Child;
    let gw: string;

    beforeAll(async () => {
      sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
      const simPort = await sim.start();
      cloud = await start(tmp.dir);
      gw = cloud.gateway.id;
      edge = edgeSite(tmp.dir, { simPort, mqttPort: cloud.mqttPort, password: cloud.gateway.password, gatewayId: gw, tenant: cloud.gateway.tenant, pollIntervalMs: 100 }).start();
      await edge.waitFor('started');
    }, 90_000);

    afterAll(async () => {
      if (edge) await stopChild(edge);
      if (cloud) await cloud.stop();
      await sim?.stop();
      tmp.cleanup();
    });

    it('serves the exact register values, decoded in every word order, with Good quality', async () => {
      const latest = await until('all tags in /latest', async () => {
        const l = await getJson<Latest>(`${cloud.api}/latest?gateway=${gw}`);
        return l.items.length === 13 ? l : null;
      });
      const byKey = Object.fromEntries(latest.items.map((i) => [i.key, i]));
      expect(Object.fromEntries(Object.entries(byKey).filter(([k]) => k.includes('fixed')).map(([k, v]) => [k, v.value]))).toEqual({
        'gas-monitor/fixed-int16': -1234,
        'gas-monitor/fixed-uint16': 54321,
        'gas-monitor/fixed-float-abcd': 3.5,
        'gas-monitor/fixed-uint32-cdab': 123456789,
        'gas-monitor/fixed-int32': -2,
        'gas-monitor/fixed-float-cdab': 123.456,
        'gas-monitor/fixed-float-badc': 123.456,
        'gas-monitor/fixed-float-dcba': 123.456,
        'gas-monitor/fixed-input-scaled': 432.1,
        'gas-monitor/fixed-discrete': true,
        'gas-monitor/fixed-coil': false,
      });
      expect(new Set(latest.items.map((i) => i.quality.name))).toEqual(new Set(['Good']));
      expect(byKey['gas-monitor/fixed-input-scaled']!.unit).toBe('degC');
      const methane = byKey['gas-monitor/methane']!.value as number;
      expect(methane).toBeGreaterThan(0.1);
      expect(methane).toBeLessThan(1);
    });

    it('stores the sample counter as 1, 2, 3, ... with one sequence number per reading', async () => {
      const series = await until('20 counter readings', async () => {
        const s = await getJson<Series>(`${cloud.api}/series?gateway=${gw}&tag=gas-monitor/counter&limit=100000`);
        return s.items.length >= 20 ? s : null;
      });
      const values = series.items.map((i) => i.value as number);
      expect(values.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(new Set(series.items.map((i) => i.seq)).size).toBe(series.items.length);
    });

    it('lists the gateway online, its device and its catalog', async () => {
      const gws = await until('gateway online', async () => {
        const g = await getJson<{ items: { id: string; tenant: string; online: boolean }[] }>(`${cloud.api}/gateways`);
        return g.items.find((x) => x.online) ? g : null;
      });
      expect(gws.items.map((g) => [g.id, g.tenant, g.online])).toEqual([[gw, cloud.gateway.tenant, true]]);
      const devices = await getJson<{ items: { name: string; driver: string; endpoint: string }[] }>(`${cloud.api}/devices?gateway=${gw}`);
      expect(devices.items.map((d) => [d.name, d.driver])).toEqual([['gas-monitor', 'modbus-tcp']]);
      const tags = await getJson<{ items: { key: string; dataType: string }[] }>(`${cloud.api}/tags?gateway=${gw}`);
      expect(tags.items.find((t) => t.key === 'gas-monitor/fixed-float-cdab')?.dataType).toBe('float32');
      expect(tags.items.length).toBe(13);
    });

    it('every ingest worker takes a share of the batches, and every worker\'s API serves the same data', async () => {
      const stored = await until('every worker stored batches', async () => {
        const m = await Promise.all(cloud.workerApis.map((a) => getJson<{ ingest: { batchesOk: number } }>(`${a}/metrics`)));
        return m.every((x) => x.ingest.batchesOk > 0) ? m.map((x) => x.ingest.batchesOk) : null;
      });
      expect(stored).toHaveLength(cloud.workerApis.length);
      const firstTen = await Promise.all(cloud.workerApis.map(async (a) => (await getJson<Series>(`${a}/series?gateway=${gw}&tag=gas-monitor/counter&limit=10`)).items.map((i) => [i.value, i.seq])));
      for (const f of firstTen) expect(f).toEqual(firstTen[0]);
    });
  });
}
