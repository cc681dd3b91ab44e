import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuSeconds, type BenchGroup } from './harness.js';
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

      const edgeOnly = await throughput(join(tmp.dir, 'e'), 'ackOnly');
      report({ name: 'edge.readings_per_s_ack_only', value: edgeOnly.perS, unit: 'readings/s (no cloud store: an in-process broker ACKs at once)' });
      report({ name: 'edge.readings_per_s_ack_only_over_sqlite_bare', value: edgeOnly.perS / sqliteBare, unit: 'ratio' });
      const sustained = await throughput(join(tmp.dir, 'a'), 'bridge');
      report({ name: 'edge.readings_per_s', value: sustained.perS, unit: 'readings/s' });
      report({ name: 'edge.readings_per_s_over_sqlite_bare', value: sustained.perS / sqliteBare, unit: 'ratio' });
      report({ name: 'edge.bytes_per_reading', value: sustained.bytesPerReading, unit: 'bytes' });
      report({ name: 'edge.batches_per_s_over_aedes_bare', value: sustained.batchesPerS / aedesBare, unit: 'ratio' });
      // Where the time goes: CPU seconds per wall second of the edge parts (this process) and of the cloud bridge process.
      report({ name: 'edge.throughput_edge_cpu_share', value: sustained.edgeCpu, unit: 'cores (edge spool + forwarder)' });
      report({ name: 'edge.throughput_cloud_cpu_share', value: sustained.cloudCpu, unit: 'cores (cloud broker + ingest + SQLite store)' });

      const drainS = await drain(join(tmp.dir, 'b'));
      report({ name: 'edge.drain_1m_s', value: drainS * (1_000_000 / DRAIN_READINGS), unit: 's' });

      const rss = await rss10kTags(join(tmp.dir, 'c'), EDGE_NODE_OPTIONS);
      report({ name: 'edge.rss_10k_tags_mb', value: rss.rssMb, unit: `MB (NODE_OPTIONS="${EDGE_NODE_OPTIONS}", as edge/README.md deploys it)` });
      report({ name: 'edge.rss_10k_tags_peak_mb', value: rss.peakMb, unit: 'MB (VmHWM)' });
      report({ name: 'edge.rss_10k_tags_v8_defaults_mb', value: (await rss10kTags(join(tmp.dir, 'd'), '')).rssMb, unit: 'MB (V8 default heap sizing: grows lazily on a large-RAM host)' });
    } finally {
      tmp.cleanup();
    }
  },
};

async function throughput(dir: string, cloud: 'bridge' | 'ackOnly'): Promise<{ perS: number; bytesPerReading: number; batchesPerS: number; edgeCpu: number; cloudCpu: number }> {
  mkdir(dir);
  const rig = await EdgeRig.start(dir, { cloud });
  try {
    const cloudPid = rig.cloud.pid;
    const cloud0 = cloudPid ? cpuSeconds(cloudPid) : 0;
    const edge0 = process.cpuUsage();
    const t0 = performance.now();
    await rig.append(THROUGHPUT_READINGS);
    await rig.untilAcked(THROUGHPUT_READINGS);
    const s = (performance.now() - t0) / 1000;
    const edge = process.cpuUsage(edge0);
    const c = rig.uplink.forwarder.counters;
    return {
      perS: THROUGHPUT_READINGS / s, bytesPerReading: c.bytesSent / THROUGHPUT_READINGS, batchesPerS: c.sent / s,
      edgeCpu: (edge.user + edge.system) / 1e6 / s, cloudCpu: cloudPid ? (cpuSeconds(cloudPid) - cloud0) / s : 0,
    };
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

/** The V8 heap settings edge/README.md gives for a service unit: a bounded old space and small young generation. */
export const EDGE_NODE_OPTIONS = '--max-old-space-size=128 --max-semi-space-size=2';

/** RSS of a real `jinyun edge` process polling 10 devices x 1,000 holding registers every second. */
export async function rss10kTags(dir: string, nodeOptions: string): Promise<{ rssMb: number; peakMb: number }> {
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
  const edge = spawnJinyun(['edge', '--config', file], { env: { JINYUN_LOG_LEVEL: 'warn', NODE_OPTIONS: nodeOptions } });
  try {
    await edge.waitFor('started', 30_000);
    await new Promise((r) => setTimeout(r, 15_000));
    const status = readFileSync(`/proc/${edge.proc.pid}/status`, 'utf8');
    const mb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
    return { rssMb: mb('VmRSS'), peakMb: mb('VmHWM') };
  } finally {
    await stopChild(edge);
    await cloud.stop();
    await sim.stop();
  }
}

function mkdir(dir: string): void {
  mkdirSync(dir, { recursive: true });
}
