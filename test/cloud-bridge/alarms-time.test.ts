import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { silentLogger } from '../../core/logger.js';
import { Quality } from '../../core/quality.js';
import type { Reading } from '../../core/reading.js';
import { decodeBatch } from '../../proto/codec.js';
import { SqliteStore } from '../../cloud-bridge/store/sqlite-store.js';
import { AlarmEngine } from '../../cloud-bridge/alarms/engine.js';
import { alarmsConfigSchema } from '../../cloud-bridge/alarms/rules.js';
import { tempDir } from '../helpers/tmp.js';
import { CATALOG, T0, batchBytes } from './helpers.js';

const GW = { id: 'gw-1', tenant: 'ta' };
const CONFIG = alarmsConfigSchema.parse({
  tickMs: 60_000,
  rules: [
    { name: 'flow-stale', type: 'stale', tag: 'pump/flow', afterMs: 5000 },
    { name: 'dev-down', type: 'device_down', device: 'pump', afterMs: 10_000, severity: 'warning' },
    { name: 'gw-offline', type: 'gateway_offline', afterMs: 3000 },
    { name: 'gap', type: 'data_gap' },
  ],
});

describe('time-based alarms (stale, device down, gateway offline) and data gaps, on a real SQLite store with a controlled clock', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let clock = T0;
  let seq = 1;
  const open = async () => {
    const e = new AlarmEngine(store, CONFIG, { logger: silentLogger(), now: () => clock, tenantOf: (g) => (g === GW.id ? GW.tenant : undefined) });
    await e.start();
    return e;
  };
  const feed = async (e: AlarmEngine, readings: Reading[]) => {
    const bytes = batchBytes(readings, seq);
    seq += readings.length;
    const batch = decodeBatch(bytes);
    await store.writeBatch(GW.id, batch, { receivedMs: clock, bytes });
    e.committed(GW, batch, clock);
    await e.settled();
  };
  const active = async () => (await store.alarms({ active: true, limit: 100 })).map((a) => `${a.rule}:${a.source}`).sort();

  beforeAll(async () => {
    tmp = tempDir('jinyun-alarms-time-');
    store = await SqliteStore.open({ path: join(tmp.dir, 'cloud.db') }, { logger: silentLogger() });
    await store.registerGateways([GW]);
    await store.upsertCatalog(GW.id, CATALOG);
    await store.setPresence(GW.id, { online: true, atMs: clock });
  });
  afterAll(async () => {
    await store?.close();
    tmp?.cleanup();
  });

  it('raises each once when the silence reaches afterMs, clears on the next (good) reading or reconnect, survives a restart without raising again', async () => {
    let e = await open();
    await feed(e, [{ tagId: 1, ts: clock, value: 1, quality: 0 }, { tagId: 2, ts: clock, value: true, quality: 0 }]);
    clock += 4999;
    await e.check();
    expect(await active()).toEqual([]);
    clock += 1;
    await e.check();
    await e.check();
    expect(await active()).toEqual(['flow-stale:pump/flow']);
    clock += 5000; // pump: 10 s without a good reading
    await e.check();
    expect(await active()).toEqual(['dev-down:pump', 'flow-stale:pump/flow']);
    const down = (await store.alarms({ active: true, limit: 10 })).find((a) => a.rule === 'dev-down')!;
    expect(down).toMatchObject({ type: 'device_down', severity: 'warning', tenant: 'ta', gateway: 'gw-1', limit: 10_000, message: 'device pump gave no good reading for 10 s' });

    // A bad reading: the tag is not stale any more, but the device is still down.
    await feed(e, [{ tagId: 1, ts: clock, value: null, quality: Quality.BadTimeout }]);
    expect(await active()).toEqual(['dev-down:pump']);
    await e.stop();

    // Restart: the active alarm is loaded, not raised a second time.
    e = await open();
    clock += 20_000;
    await e.check();
    expect(await active()).toEqual(['dev-down:pump', 'flow-stale:pump/flow']);
    expect((await store.alarms({ limit: 100 })).filter((a) => a.rule === 'dev-down')).toHaveLength(1);
    await feed(e, [{ tagId: 1, ts: clock, value: 2, quality: 0 }]);
    expect(await active()).toEqual([]);
    expect(e.metrics).toMatchObject({ raised: 1, cleared: 2, errors: 0 });
    await e.stop();
  });

  it('gateway offline after afterMs, cleared when back online; a data gap is raised and cleared by its acknowledgement', async () => {
    const e = await open();
    await store.setPresence(GW.id, { online: true, atMs: clock });
    await e.check();
    await store.setPresence(GW.id, { online: false, atMs: clock + 1000 });
    clock += 3999;
    await e.check();
    expect(await active()).toEqual([]);
    clock += 1;
    await e.check();
    expect(await active()).toEqual(['gw-offline:']);
    await store.setPresence(GW.id, { online: true, atMs: clock });
    await e.check();
    expect(await active()).toEqual([]);

    e.gap({ gateway: GW.id, producerId: 'prod-1', seqFirst: 100, seqLast: 104, sinceMs: clock });
    e.gap({ gateway: 'gw-unknown', producerId: 'p', seqFirst: 1, seqLast: 1, sinceMs: clock });
    await e.settled();
    const [gap] = await store.alarms({ active: true, limit: 10 });
    expect(gap).toMatchObject({ rule: 'gap', type: 'data_gap', source: 'prod-1:100-104', value: 5, message: 'readings lost before the cloud: seqs 100-104 of producer prod-1 never arrived' });
    expect(await e.ack(gap!.id, 'zhang', 'tb')).toBeNull();
    const acked = await e.ack(gap!.id, 'zhang', 'ta');
    expect(acked).toMatchObject({ ackBy: 'zhang', ackMs: clock, clearedMs: clock });
    expect(await active()).toEqual([]);
    await e.stop();
  });
});
