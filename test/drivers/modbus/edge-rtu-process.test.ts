import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnJinyun, stopChild, type Child } from '../../../cli/process.js';
import { ModbusSimServer } from '../../../simulators/modbus/modbus-sim-server.js';
import { tempDir } from '../../helpers/tmp.js';
import { until } from '../../helpers/edge-child.js';
import { ptyPair, type PtyPair } from './pty-pair.js';

/** A port nobody listens on: the uplink stays down and the edge keeps its readings in the spool. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function metric(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

/** `jinyun edge` as a real process polls an RTU meter on a serial line and an RTU furnace behind a converter, one of them with a dead neighbour on its line. */
describe('jinyun edge with Modbus RTU devices (real process)', () => {
  const tmp = tempDir('jinyun-edge-rtu-');
  let sim: ModbusSimServer;
  let pty: PtyPair;
  let edge: Child | undefined;

  beforeAll(async () => {
    pty = await ptyPair();
    sim = new ModbusSimServer({ port: 0, profile: 'steel-plant', tickMs: 0, framing: 'rtu' });
    const converterPort = await sim.start();
    await sim.serveSerial(pty.b, { baudRate: 19200, parity: 'even' });
    const file = join(tmp.dir, 'edge.yaml');
    writeFileSync(file, `gateway: { id: gw-rtu, tenant: tenant-a }
spool: { path: ${join(tmp.dir, 'spool.db')} }
uplink: { url: "mqtt://127.0.0.1:${await deadPort()}", password: x, reconnectInitialMs: 1000, reconnectMaxMs: 5000 }
http: { port: 0 }
devices:
  - type: modbus-rtu
    name: meter
    path: ${pty.a}
    baudRate: 19200
    parity: even
    unitId: 3
    pollIntervalMs: 100
    timeoutMs: 300
    tags:
      - { name: energy-wh, register: 300003, type: uint64, unit: Wh }
      - { name: power, register: 300011, type: float32, unit: kW }
  - type: modbus-rtu
    name: dead-drive
    path: ${pty.a}
    baudRate: 19200
    parity: even
    unitId: 9
    pollIntervalMs: 100
    timeoutMs: 300
    tags:
      - { name: speed, register: 40001, type: uint16 }
  - type: modbus-rtu-over-tcp
    name: furnace
    port: ${converterPort}
    unitId: 1
    pollIntervalMs: 100
    tags:
      - { name: zone1, register: 40001, type: float32, unit: degC }
      - { name: nameplate, table: holding, address: 1080, type: string, length: 5 }
`);
    edge = spawnJinyun(['edge', '--config', file], { env: { JINYUN_LOG_LEVEL: 'error' } });
  }, 30_000);

  afterAll(async () => {
    if (edge) await stopChild(edge);
    await sim?.stop();
    await pty?.close();
    tmp.cleanup();
  });

  it('reads both RTU transports Good while the dead unit on the serial line is down', async () => {
    const started = await edge!.waitFor('started', 30_000);
    const url = `http://127.0.0.1:${started.httpPort as number}/metrics`;
    const text = await until('meter and furnace ok, dead-drive down, 10 meter reads', async () => {
      const t = await (await fetch(url)).text();
      const ok = metric(t, 'jinyun_edge_device_state', 'device="meter",state="ok"') === 1
        && metric(t, 'jinyun_edge_device_state', 'device="furnace",state="ok"') === 1
        && metric(t, 'jinyun_edge_device_state', 'device="dead-drive",state="down"') === 1
        && (metric(t, 'jinyun_edge_device_reads_total', 'device="meter"') ?? 0) >= 10;
      return ok ? t : null;
    }, 30_000);
    expect(metric(text, 'jinyun_edge_device_read_errors_total', 'device="dead-drive",kind="timeout"')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'jinyun_edge_device_read_errors_total', 'device="meter"')).toBeUndefined();
    // the serial requests of the dead unit stay few: one timeout per backoff step, not one per 100 ms poll
    expect(sim.stats().ignored).toBeLessThanOrEqual(Math.ceil((metric(text, 'jinyun_edge_device_reads_total', 'device="dead-drive"') ?? 0) / 2));
  }, 40_000);
});
