import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchGroup } from './harness.js';
import { tempDir } from '../test/helpers/tmp.js';
import { startCloudChild } from '../test/helpers/cloud-child.js';
import { spawnJinyun, stopChild } from '../cli/process.js';
import { ModbusSimServer } from '../simulators/modbus/modbus-sim-server.js';
import { EdgeRig } from './edge-pipeline.js';
import { aedesBareMsgsPerS, sqliteBareRowsPerS } from './ceilings.js';

const THROUGHPUT_READINGS = Number(process.env.BENCH_EDGE_READINGS ?? 500_000);
const DRAIN_READINGS = Number(process.env.BENCH_DRAIN_READINGS ?? 1_000_000);

/** Edge outbox figures, each beside the bare library ceilings measured in the same run. */
export const edgeGroup: BenchGroup = {
  name: 'edge',
  description: 'edge outbox: sustained throughput, 1M-reading backlog drain, bytes per reading, RSS with 10k Modbus tags; bare SQLite and aedes ceilings',
  async run(report) {
    const tmp = tempDir('jinyun-bench-edge-');
    try {
      const sqliteBare = await sqliteBareRowsPerS(tmp.dir);
      report({ name: 'sqlite.bare_rows_per_s', value: sqliteBare, unit: 'rows/s' });
      const aedesBare = await aedesBareMsgsPerS();
      report({ name: 'aedes.bare_msgs_per_s', value: aedesBare, unit: 'msgs/s (8 KB, QoS 1)' });

      const sustained = await throughput(join(tmp.dir, 'a'));
      report({ name: 'edge.readings_per_s', value: sustained.perS, unit: 'readings/s' });
      report({ name: 'edge.readings_per_s_over_sqlite_bare', value: sustained.perS / sqliteBare, unit: 'ratio' });
      report({ name: 'edge.bytes_per_reading', value: sustained.bytesPerReading, unit: 'bytes' });
      report({ name: 'edge.batches_per_s_over_aedes_bare', value: sustained.batchesPerS / aedesBare, unit: 'ratio' });

      const drainS = await drain(join(tmp.dir, 'b'));
      report({ name: 'edge.drain_1m_s', value: drainS * (1_000_000 / DRAIN_READINGS), unit: 's' });

      report({ name: 'edge.rss_10k_tags_mb', value: await rss10kTags(join(tmp.dir, 'c')), unit: 'MB' });
    } finally {
      tmp.cleanup();
    }
  },
};

async function throughput(dir: string): Promise<{ perS: number; bytesPerReading: number; batchesPerS: number }> {
  mkdir(dir);
  const rig = await EdgeRig.start(dir);
  try {
    const t0 = performance.now();
    await rig.append(THROUGHPUT_READINGS);
    await rig.untilAcked(THROUGHPUT_READINGS);
    const s = (performance.now() - t0) / 1000;
    const c = rig.uplink.forwarder.counters;
    return { perS: THROUGHPUT_READINGS / s, bytesPerReading: c.bytesSent / THROUGHPUT_READINGS, batchesPerS: c.sent / s };
  } finally {
    await rig.close();
  }
}

/** The cloud is down while DRAIN_READINGS are spooled; time from its return until all are ACKed. */
async function drain(dir: string): Promise<number> {
  mkdir(dir);
  const rig = await EdgeRig.start(dir);
  const { mqttPort, httpPort, gateway } = rig.cloud;
  await rig.cloud.stop();
  await rig.append(DRAIN_READINGS);
  const cloud = await startCloudChild(dir, { mqttPort, httpPort, password: gateway.password });
  const t0 = performance.now();
  try {
    await rig.untilAcked(DRAIN_READINGS);
    return (performance.now() - t0) / 1000;
  } finally {
    await rig.uplink.close();
    await rig.spool.close();
    await cloud.stop();
  }
}

/** RSS of a real `jinyun edge` process polling 10 devices x 1,000 holding registers every second. */
export async function rss10kTags(dir: string): Promise<number> {
  mkdir(dir);
  const sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
  const simPort = await sim.start();
  const cloud = await startCloudChild(dir);
  const devices = Array.from({ length: 10 }, (_, d) => [
    `  - type: modbus-tcp`, `    name: dev-${d}`, `    port: ${simPort}`, `    unitId: 1`, `    pollIntervalMs: 1000`, `    tags:`,
    ...Array.from({ length: 1000 }, (_, a) => `      - { name: r${a}, table: holding, address: ${a}, type: uint16 }`),
  ].join('\n'));
  const file = join(dir, 'edge.yaml');
  writeFileSync(file, `gateway: { id: ${cloud.gateway.id}, tenant: ${cloud.gateway.tenant} }\nspool: { path: ${join(dir, 'spool.db')} }\nuplink: { url: "mqtt://127.0.0.1:${cloud.mqttPort}", password: "${cloud.gateway.password}" }\nhttp: { enabled: false }\ndevices:\n${devices.join('\n')}\n`);
  const edge = spawnJinyun(['edge', '--config', file], { env: { JINYUN_LOG_LEVEL: 'warn' } });
  try {
    await edge.waitFor('started', 30_000);
    await new Promise((r) => setTimeout(r, 10_000));
    const status = readFileSync(`/proc/${edge.proc.pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return kb / 1024;
  } finally {
    await stopChild(edge);
    await cloud.stop();
    await sim.stop();
  }
}

function mkdir(dir: string): void {
  mkdirSync(dir, { recursive: true });
}
