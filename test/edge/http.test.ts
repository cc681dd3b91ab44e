import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { silentLogger } from '../../core/logger.js';
import { decodeHealth, pb } from '../../proto/codec.js';
import { edgeConfigSchema } from '../../edge/config.js';
import { startEdgeAgent, type EdgeAgent } from '../../edge/agent.js';
import { METRIC_DEFS } from '../../edge/metrics.js';
import { plainBroker } from '../helpers/plain-broker.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/edge-child.js';

interface Healthz { status: string; reasons: { code: string; level: string; detail: string }[]; link: { connected: boolean }; spool: { depth: number }; devices: { name: string; state: string }[] }

async function healthz(port: number, query = ''): Promise<{ code: number; body: Healthz }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz${query}`);
  return { code: res.status, body: (await res.json()) as Healthz };
}

/** A metric sample value from Prometheus text, by name and exact label set text. */
function sample(text: string, nameAndLabels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${nameAndLabels} `));
  return line === undefined ? undefined : Number(line.slice(nameAndLabels.length + 1));
}

/** Clock reasons depend on the host (timedatectl); every other reason is what the test caused. */
const codes = (h: Healthz) => h.reasons.map((r) => r.code).filter((c) => c !== 'clock_unsynced');

describe('edge /healthz, /metrics and the Health message', () => {
  const tmp = tempDir('jinyun-edge-http-');
  let sim: ModbusSimServer;
  let broker: Awaited<ReturnType<typeof plainBroker>>;
  let agent: EdgeAgent;
  let port: number;

  beforeAll(async () => {
    sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
    const simPort = await sim.start();
    broker = await plainBroker();
    const config = edgeConfigSchema.parse({
      gateway: { id: 'gw-h', tenant: 't-1' },
      spool: { path: join(tmp.dir, 'spool.db') },
      uplink: { url: `mqtt://127.0.0.1:${broker.port}`, reconnectInitialMs: 100, reconnectMaxMs: 300, batch: { maxDelayMs: 100 } },
      health: { intervalMs: 1000 },
      http: { port: 0 },
      devices: [{ type: 'modbus-tcp', name: 'gas-monitor', port: simPort, unitId: 1, timeoutMs: 300, pollIntervalMs: 100, reconnectInitialMs: 100, reconnectMaxMs: 300,
        tags: [{ name: 'counter', table: 'holding', address: 100, type: 'uint32' }, { name: 'methane', table: 'holding', address: 0, type: 'float32', wordOrder: 'CDAB' }] }],
    });
    expect(config.http.host).toBe('127.0.0.1');
    agent = await startEdgeAgent(config, { logger: silentLogger() });
    port = agent.httpPort!;
  });

  afterAll(async () => {
    await agent?.close();
    await broker?.close().catch(() => undefined);
    await sim?.stop();
    tmp.cleanup();
  });

  it('reports ok with the link up and the device read, and exports the metrics by gateway and device', async () => {
    const h = await until('healthz without reasons', async () => {
      const r = await healthz(port);
      return r.code === 200 && codes(r.body).length === 0 && r.body.devices[0]?.state === 'ok' ? r.body : null;
    });
    expect(h.link.connected).toBe(true);
    const text = await until('readings appended and a batch sent', async () => {
      const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return (sample(t, 'jinyun_edge_batches_sent_total{gateway="gw-h"}') ?? 0) > 0 ? t : null;
    });
    expect(sample(text, 'jinyun_edge_mqtt_connected{gateway="gw-h"}')).toBe(1);
    expect(sample(text, 'jinyun_edge_device_state{device="gas-monitor",state="ok",gateway="gw-h"}')).toBe(1);
    expect(sample(text, 'jinyun_edge_device_state{device="gas-monitor",state="down",gateway="gw-h"}')).toBe(0);
    expect(sample(text, 'jinyun_edge_spool_appended_readings_total{gateway="gw-h"}')).toBeGreaterThan(0);
    expect(sample(text, 'jinyun_edge_poll_cycles_total{device="gas-monitor",gateway="gw-h"}')).toBeGreaterThan(0);
    expect(sample(text, 'jinyun_edge_batches_sent_total{gateway="gw-h"}')).toBeGreaterThan(0);
    expect(sample(text, 'process_resident_memory_bytes{gateway="gw-h"}')).toBeGreaterThan(1e6);
    expect(text).toContain('# TYPE jinyun_edge_spool_dropped_readings_total counter');
    for (const def of METRIC_DEFS) expect(text).toContain(`# HELP ${def.name} `);
  });

  it('publishes Health messages with the new fields', async () => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'health-watcher' });
    try {
      await client.subscribeAsync('jinyun/v1/t-1/gw-h/health', { qos: 0 });
      const msgs: ReturnType<typeof decodeHealth>[] = [];
      client.on('message', (_t, payload) => msgs.push(decodeHealth(payload)));
      const h = await until('two health messages', async () => (msgs.length >= 2 ? msgs[msgs.length - 1] : null), 15_000);
      expect(Number(h.appended)).toBeGreaterThan(0);
      expect(Number(h.diskTotalBytes)).toBeGreaterThan(0);
      expect(Number(h.spoolFileBytes)).toBeGreaterThan(0);
      expect(Number(h.sentBatches)).toBeGreaterThan(0);
      expect(h.appendedReadingsPerS).toBeGreaterThan(0);
      expect([pb.GatewayStatus.GATEWAY_STATUS_OK, pb.GatewayStatus.GATEWAY_STATUS_DEGRADED]).toContain(h.status);
      expect(Number(h.linkConnects)).toBe(1);
      const dev = h.devices[0]!;
      expect(dev.name).toBe('gas-monitor');
      expect(dev.state).toBe(pb.DeviceState.DEVICE_STATE_OK);
      expect(Number(dev.pollCycles)).toBeGreaterThan(0);
      expect(Number(dev.lastGoodMs)).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      await client.endAsync();
    }
  });

  it('stays 200 but degraded when the link and the device are down; ?strict makes it 503', async () => {
    await broker.close();
    await sim.stop();
    const r = await until('link_down and device_down', async () => {
      const x = await healthz(port);
      return codes(x.body).includes('link_down') && codes(x.body).includes('device_down') ? x : null;
    });
    expect(r.code).toBe(200);
    expect(r.body.status).toBe('degraded');
    expect((await healthz(port, '?strict')).code).toBe(503);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(sample(text, 'jinyun_edge_mqtt_connected{gateway="gw-h"}')).toBe(0);
    expect(sample(text, 'jinyun_edge_health_status{gateway="gw-h"}')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/jinyun_edge_device_read_errors_total\{device="gas-monitor",kind="[a-z_0-9]+",gateway="gw-h"\} [1-9]/);
  });

  it('answers 404 and 405 for anything else', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
  });
});
