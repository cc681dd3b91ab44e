import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { cpuSeconds, machineBusy, type BenchGroup } from './harness.js';
import { tempDir } from '../test/helpers/tmp.js';
import { startCloudChild, type CloudChild } from '../test/helpers/cloud-child.js';
import { spawnJinyun, stopChild, type Child } from '../cli/process.js';
import { ModbusSimServer } from '../simulators/modbus/modbus-sim-server.js';
import { Scrape } from '../test/fault/edge-probe.js';
import { EDGE_NODE_OPTIONS } from './edge.js';

/** A workload as a plant engineer runs it: N Modbus TCP devices (one connection each) of R holding registers, one block read per poll. */
interface Workload { name: string; devices: number; registers: number; intervalMs: number }

const WORKLOADS: Workload[] = [
  { name: '10x100@10ms', devices: 10, registers: 100, intervalMs: 10 },
  { name: '100x100@100ms', devices: 100, registers: 100, intervalMs: 100 },
  { name: '10x100@100ms', devices: 10, registers: 100, intervalMs: 100 },
  { name: '1x10@1s', devices: 1, registers: 10, intervalMs: 1000 },
];
const WARMUP_MS = Number(process.env.BENCH_PLANT_WARMUP_MS ?? 5000);
const WINDOW_MS = Number(process.env.BENCH_PLANT_WINDOW_MS ?? 20_000);
/** BENCH_PLANT_PROF=dir: each process writes a V8 CPU profile there (`node --cpu-prof`), for finding where the time per reading goes. */
const PROF = process.env.BENCH_PLANT_PROF;
const profArgs = (name: string) => (PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(PROF, name)}`] : []);

/**
 * The workloads users run, on real processes (issue 28): the project's Modbus simulator, `jinyun
 * edge` with every setting at its default (and the heap flags edge/README.md deploys it with),
 * `jinyun cloud` with the embedded broker and the SQLite store. After a warm-up, over a window:
 * polls done / asked, readings stored per second, outbox depth at the start and end of the window,
 * latency from the poll to the cloud receiving it (each new latest value's receive time minus its
 * source time, of one device, sampled every 200 ms; the edge sends live readings first, so this is the latency of
 * live data, not of a backlog), CPU time per reading of each process, RSS.
 */
export const plantGroup: BenchGroup = {
  name: 'plant',
  description: 'real processes on plant workloads: 10x100 registers @ 10 ms, 100x100 @ 100 ms, 10x100 @ 100 ms, 1x10 @ 1 s (polls done/asked, stored/s, outbox, latency, CPU per reading, RSS)',
  async run(report) {
    const only = process.env.BENCH_PLANT_ONLY?.split(',');
    for (const w of WORKLOADS.filter((x) => !only || only.includes(x.name))) {
      const r = await runWorkload(w);
      const p = `plant.${w.name}`;
      report({ name: `${p}.polls_done_over_asked`, value: r.pollsDone / r.pollsAsked, unit: `ratio (${Math.round(r.pollsDone)} of ${Math.round(r.pollsAsked)} polls)` });
      report({ name: `${p}.stored_per_s`, value: r.storedPerS, unit: `readings/s (asked ${w.devices * w.registers * 1000 / w.intervalMs})` });
      report({ name: `${p}.outbox_start`, value: r.depth0, unit: 'readings' });
      report({ name: `${p}.outbox_end`, value: r.depth1, unit: `readings (1 s of data = ${w.devices * w.registers * 1000 / w.intervalMs})` });
      report({ name: `${p}.latency_p50_ms`, value: r.p50, unit: 'ms (poll to received by the cloud, of the latest values)' });
      report({ name: `${p}.latency_p99_ms`, value: r.p99, unit: 'ms' });
      report({ name: `${p}.edge_cpu_us_per_reading`, value: r.edgeUsPerReading, unit: `µs per stored reading (${r.edgeCores.toFixed(2)} cores)` });
      report({ name: `${p}.edge_cpu_us_per_polled_reading`, value: r.edgeUsPerPolled, unit: 'µs (the edge\'s own work: poll, spool, forward; not slowed by a cloud that stores less than is polled)' });
      report({ name: `${p}.cloud_cpu_us_per_reading`, value: r.cloudUsPerReading, unit: `µs (${r.cloudCores.toFixed(2)} cores)` });
      report({ name: `${p}.sim_and_bench_cores`, value: r.simCores, unit: 'cores (the Modbus simulator and this bench, one process)' });
      report({ name: `${p}.machine_busy_cores`, value: r.machineCores, unit: `cores of ${availableParallelism()} (every process on the machine)` });
      report({ name: `${p}.edge_rss_mb`, value: r.edgeRssMb, unit: 'MB' });
      report({ name: `${p}.cloud_rss_mb`, value: r.cloudRssMb, unit: 'MB' });
    }
  },
};

interface Result { edgeUsPerPolled: number; simCores: number; machineCores: number; pollsDone: number; pollsAsked: number; storedPerS: number; depth0: number; depth1: number; p50: number; p99: number; edgeUsPerReading: number; cloudUsPerReading: number; edgeCores: number; cloudCores: number; edgeRssMb: number; cloudRssMb: number }

async function runWorkload(w: Workload): Promise<Result> {
  const tmp = tempDir('jinyun-bench-plant-');
  const sim = new ModbusSimServer({ port: 0, profile: 'coal-mine' });
  let cloud: CloudChild | undefined;
  let edge: Child | undefined;
  try {
    const simPort = await sim.start();
    cloud = await startCloudChild(tmp.dir, { nodeArgs: profArgs(`cloud-${w.name}`) });
    const file = join(tmp.dir, 'edge.yaml');
    writeFileSync(file, edgeYaml(w, tmp.dir, simPort, cloud.mqttPort));
    edge = spawnJinyun(['edge', '--config', file], { env: { EDGE_PASSWORD: cloud.gateway.password, JINYUN_LOG_LEVEL: 'warn', NODE_OPTIONS: EDGE_NODE_OPTIONS }, nodeArgs: profArgs(`edge-${w.name}`) });
    const httpPort = Number((await edge.waitFor('started', 60_000)).httpPort);
    const api = `http://127.0.0.1:${cloud.httpPort}/api/v1`;
    await new Promise((r) => setTimeout(r, WARMUP_MS));

    const sample = async () => {
      const s = await Scrape.of(httpPort);
      const polls = [...s.byDevice('jinyun_edge_poll_cycles_total').values()].reduce((n, v) => n + v, 0);
      const m = (await (await fetch(`${api}/metrics`)).json()) as { ingest: { readingsStored: number } };
      return { at: performance.now(), polls, depth: s.value('jinyun_edge_spool_depth_readings'), stored: m.ingest.readingsStored, edgeCpu: cpuSeconds(edge!.proc.pid!), cloudCpu: cpuSeconds(cloud!.child.proc.pid!) };
    };
    const busy = machineBusy();
    const simCpu0 = process.cpuUsage();
    const a = await sample();
    // Latency of each newly stored latest value: the cloud's receive time minus the poll's source time (same machine, one clock).
    const lat: number[] = [];
    const seen = new Map<string, number>();
    const end = performance.now() + WINDOW_MS;
    while (performance.now() < end) {
      // One device's latest values (100 at most) every 200 ms: the sampler's own cost stays out of the cloud's CPU per reading.
      const res = (await (await fetch(`${api}/latest?gateway=gw-1&limit=${Math.min(w.registers, 100)}`)).json()) as { items: { key: string; tsMs: number; receivedMs: number | null }[] };
      for (const i of res.items) {
        if (seen.get(i.key) === i.tsMs || i.receivedMs === null) continue;
        seen.set(i.key, i.tsMs);
        lat.push(i.receivedMs - i.tsMs);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const b = await sample();
    const machineCores = busy();
    const simCpu = process.cpuUsage(simCpu0);
    const s = (b.at - a.at) / 1000;
    const stored = b.stored - a.stored;
    lat.sort((x, y) => x - y);
    const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
    return {
      pollsDone: b.polls - a.polls, pollsAsked: (w.devices * s * 1000) / w.intervalMs, storedPerS: stored / s, depth0: a.depth, depth1: b.depth,
      p50: q(0.5), p99: q(0.99),
      edgeUsPerReading: ((b.edgeCpu - a.edgeCpu) * 1e6) / Math.max(1, stored), cloudUsPerReading: ((b.cloudCpu - a.cloudCpu) * 1e6) / Math.max(1, stored),
      edgeUsPerPolled: ((b.edgeCpu - a.edgeCpu) * 1e6) / Math.max(1, (b.polls - a.polls) * w.registers),
      simCores: (simCpu.user + simCpu.system) / 1e6 / s, machineCores,
      edgeCores: (b.edgeCpu - a.edgeCpu) / s, cloudCores: (b.cloudCpu - a.cloudCpu) / s,
      edgeRssMb: rssMb(edge.proc.pid!), cloudRssMb: rssMb(cloud.child.proc.pid!),
    };
  } finally {
    if (edge) await stopChild(edge);
    await cloud?.stop();
    await sim.stop();
    tmp.cleanup();
  }
}

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** An edge config as a plant engineer writes it: only what the workload needs, every other setting at its default. */
function edgeYaml(w: Workload, dir: string, simPort: number, mqttPort: number): string {
  return [
    'gateway:', '  id: gw-1', '  tenant: tenant-a',
    'spool:', `  path: ${join(dir, 'spool.db')}`,
    'uplink:', `  url: mqtt://127.0.0.1:${mqttPort}`, '  password: ${EDGE_PASSWORD}',
    'http:', '  port: 0',
    'devices:',
    ...Array.from({ length: w.devices }, (_, d) => [
      '  - type: modbus-tcp', `    name: dev-${d}`, `    port: ${simPort}`, '    unitId: 1', `    pollIntervalMs: ${w.intervalMs}`, '    tags:',
      ...Array.from({ length: w.registers }, (_, r) => `      - { name: r${r}, table: holding, address: ${300 + r}, type: uint16 }`),
    ].join('\n')),
    '',
  ].join('\n');
}
