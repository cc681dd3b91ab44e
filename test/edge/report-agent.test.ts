import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { silentLogger } from '../../core/logger.js';
import { Sqlite } from '../../core/sqlite.js';
import { decodeBatch, encodeBatchFromBlocks } from '../../proto/codec.js';
import { edgeConfigSchema } from '../../edge/config.js';
import { startEdgeAgent } from '../../edge/agent.js';
import { toStored, type BlockRow } from '../../edge/spool-blocks.js';
import { createEdgeMetrics } from '../../edge/metrics.js';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { tempDir } from '../helpers/tmp.js';
import { plainBroker } from '../helpers/plain-broker.js';
import { until } from '../helpers/edge-child.js';

const HEARTBEAT_MS = 1000;

/**
 * Report by exception in the running agent, before the spool: a broker that never ACKs keeps every
 * spooled reading in the file, so what the filter let through can be counted there exactly.
 */
describe('report by exception in the edge agent', () => {
  const tmp = tempDir('jinyun-edge-rbe-');
  const sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
  let broker: Awaited<ReturnType<typeof plainBroker>> | undefined;

  afterAll(async () => {
    await broker?.close().catch(() => undefined);
    await sim.stop();
    tmp.cleanup();
  });

  it('spools the changes and the heartbeats only, and counts the rest by device', async () => {
    const simPort = await sim.start();
    broker = await plainBroker();
    const path = join(tmp.dir, 'spool.db');
    const config = edgeConfigSchema.parse({
      gateway: { id: 'gw-r', tenant: 't-1' },
      spool: { path },
      uplink: { url: `mqtt://127.0.0.1:${broker.port}`, ackTimeoutMs: 600_000, batch: { maxDelayMs: 100 } },
      http: { enabled: false },
      devices: [{ type: 'modbus-tcp', name: 'gas-monitor', port: simPort, unitId: 1, timeoutMs: 1000, pollIntervalMs: 100,
        tags: [
          { name: 'counter', table: 'holding', address: 100, type: 'uint32' },
          { name: 'fixed-int16', table: 'holding', address: 200, type: 'int16' },
          { name: 'fixed-uint16', table: 'holding', address: 201, type: 'uint16' },
        ] }],
      reportByException: { 'gas-monitor': { deadband: 0.5, heartbeatMs: HEARTBEAT_MS, tags: { 'fixed-uint16': { enabled: false } } } },
    });
    const agent = await startEdgeAgent(config, { logger: silentLogger() });
    const registry = createEdgeMetrics({ gateway: 'gw-r', monitor: agent.monitor });
    try {
      await until('3 heartbeats of polling', async () => (agent.devices()[0]!.report.heartbeats >= 3 ? true : null), 30_000);
    } finally {
      await agent.close();
    }
    const metrics = await registry.metrics();
    const dev = agent.devices()[0]!;
    const cycles = dev.poll;
    const db = await Sqlite.open(path, { readonly: true });
    const tags = new Map((await db.all<{ id: number; key: string }>('SELECT id, key FROM tags')).map((t) => [t.id, t.key]));
    const rows = await db.all<BlockRow>('SELECT seq_first, seq_last, epoch, count, base_ts, bytes FROM blocks ORDER BY seq_first');
    await db.close();
    const spooled = decodeBatch(encodeBatchFromBlocks({ producerId: 'p', epoch: 1, historical: false }, rows.map(toStored))).readings;
    const byTag = (key: string) => spooled.filter((r) => tags.get(r.tagId) === `gas-monitor/${key}`);

    // Every poll read the three tags; what the filter passed is exactly what the spool holds.
    expect(cycles.readings).toBe(3 * cycles.cycles);
    expect(dev.report.passed + dev.report.suppressed).toBe(cycles.readings);
    expect(spooled.length).toBe(dev.report.passed);
    // The counter moves by 1 per read (> 0.5): every read is a change. The tag without a rule: every read.
    expect(byTag('counter').length).toBe(cycles.cycles);
    expect(byTag('fixed-uint16').length).toBe(cycles.cycles);
    // The flat register: its first read, then one heartbeat per HEARTBEAT_MS of source time.
    const flat = byTag('fixed-int16');
    expect(flat.length).toBe(1 + dev.report.heartbeats);
    expect(new Set(flat.map((r) => r.value)).size).toBe(1);
    for (let i = 1; i < flat.length; i++) expect(flat[i]!.ts - flat[i - 1]!.ts).toBeGreaterThanOrEqual(HEARTBEAT_MS);
    expect(dev.report.suppressed).toBe(cycles.cycles - flat.length);
    expect(metrics).toContain(`jinyun_edge_report_suppressed_readings_total{device="gas-monitor",gateway="gw-r"} ${dev.report.suppressed}`);
    expect(metrics).toContain(`jinyun_edge_report_heartbeats_total{device="gas-monitor",gateway="gw-r"} ${dev.report.heartbeats}`);
  }, 60_000);
});
