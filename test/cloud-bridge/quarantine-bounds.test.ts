import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudBridge } from '../../cloud-bridge/bridge.js';
import { tempDir } from '../helpers/tmp.js';
import { GW1, GW2, connectGateway, startTestBridge, testConfig, until } from './helpers.js';

const MiB = 1024 * 1024;

describe('quarantine bounds: one gateway cannot fill the cloud\'s disk with poison', () => {
  let tmp: ReturnType<typeof tempDir>;
  let bridge: CloudBridge;

  beforeAll(async () => {
    tmp = tempDir('jinyun-quarantine-');
    bridge = await startTestBridge(await testConfig(tmp.dir, { ingest: { maxQuarantineBytesPerGateway: MiB, maxQuarantineBytes: 2 * MiB } }));
  });
  afterAll(async () => {
    await bridge?.close();
    tmp?.cleanup();
  });

  it('keeps at most maxQuarantineBytesPerGateway of a gateway\'s rejected messages, raises one quarantine_full alarm, and leaves other gateways\' entries', async () => {
    const other = await connectGateway(bridge.mqttPort, GW2);
    await other.publish('data', Buffer.alloc(1000, 0xff));
    await until(() => bridge.metrics.ingest.quarantined === 1);
    const gw = await connectGateway(bridge.mqttPort, GW1);
    for (let i = 0; i < 20; i++) await gw.publish('data', Buffer.alloc(300_000, 0xff)); // not a Batch: malformed, quarantined
    await until(() => bridge.metrics.ingest.quarantined === 21, 15_000);
    const usage = await bridge.store.quarantineUsage(GW1.id);
    expect(usage.bytes).toBeLessThanOrEqual(MiB);
    expect(usage).toEqual({ rows: 3, bytes: 900_000, evicted: 17 });
    expect(await bridge.store.quarantineUsage(GW2.id)).toEqual({ rows: 1, bytes: 1000, evicted: 0 });
    expect(bridge.metrics.ingest.quarantineFull).toBe(17); // every entry from the 4th on pushed the oldest out
    await until(async () => (await bridge.store.alarms({ tenant: GW1.tenant, limit: 10 })).some((a) => a.type === 'quarantine_full'));
    const alarms = (await bridge.store.alarms({ tenant: GW1.tenant, limit: 10 })).filter((a) => a.type === 'quarantine_full');
    expect(alarms.map((a) => [a.gateway, a.severity, a.source, a.clearedMs])).toEqual([[GW1.id, 'warning', 'quarantine', null]]);
    expect(alarms[0]!.message).toContain(`the quarantine of ${GW1.id} is full`);
    await Promise.all([gw.close(), other.close()]);
  }, 30_000);
});
