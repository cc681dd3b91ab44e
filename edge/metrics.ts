import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Assessment, EdgeMonitor, EdgeSnapshot } from './monitor.js';

type Labels = Record<string, string>;
type Emit = (value: number, labels?: Labels) => void;

/** One exported metric: where its value comes from in a snapshot. Counters mirror the components' own totals. */
interface MetricDef {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  labels?: string[];
  fill: (s: EdgeSnapshot, a: Assessment, emit: Emit) => void;
}

const LEVEL = { ok: 0, degraded: 1, error: 2 } as const;
const DEVICE_STATES = ['unknown', 'ok', 'degraded', 'down'] as const;
const CLOCK_STATES = ['unknown', 'synced', 'unsynced'] as const;
const perDevice = (f: (d: EdgeSnapshot['devices'][number]) => number) => (s: EdgeSnapshot, _a: Assessment, emit: Emit) => {
  for (const d of s.devices) emit(f(d), { device: d.name });
};

/** Every metric name the edge exports besides prom-client's process_* and nodejs_* defaults (edge/README.md lists them). */
export const METRIC_DEFS: MetricDef[] = [
  { name: 'jinyun_edge_health_status', help: 'Overall health as on /healthz: 0 ok, 1 degraded, 2 error.', type: 'gauge', fill: (_s, a, e) => e(LEVEL[a.status]) },
  { name: 'jinyun_edge_uptime_seconds', help: 'Seconds since the agent started.', type: 'gauge', fill: (s, _a, e) => e(s.uptimeS) },
  { name: 'jinyun_edge_spool_up', help: '1 when the spool answered the last stats query, 0 when it failed.', type: 'gauge', fill: (s, _a, e) => e(s.spool ? 1 : 0) },
  { name: 'jinyun_edge_spool_depth_readings', help: 'Readings in the spool not yet acknowledged by the ingest.', type: 'gauge', fill: (s, _a, e) => e(s.spool?.depth ?? 0) },
  { name: 'jinyun_edge_spool_oldest_unsent_age_seconds', help: 'Age of the oldest unacknowledged reading (source time), 0 when empty.', type: 'gauge', fill: (s, _a, e) => e(s.spool?.oldestTs == null ? 0 : Math.max(0, s.timeMs - s.spool.oldestTs) / 1000) },
  { name: 'jinyun_edge_spool_sealed_batches', help: 'Sealed batches in the spool waiting for their ACK.', type: 'gauge', fill: (s, _a, e) => e(s.spool?.sealedBatches ?? 0) },
  { name: 'jinyun_edge_spool_file_bytes', help: 'Size of the spool file plus its WAL.', type: 'gauge', fill: (s, _a, e) => e(s.spoolFileBytes) },
  { name: 'jinyun_edge_spool_disk_free_bytes', help: 'Free bytes (for the agent) on the filesystem holding the spool.', type: 'gauge', fill: (s, _a, e) => { if (s.disk) e(s.disk.freeBytes); } },
  { name: 'jinyun_edge_spool_disk_total_bytes', help: 'Size of the filesystem holding the spool.', type: 'gauge', fill: (s, _a, e) => { if (s.disk) e(s.disk.totalBytes); } },
  { name: 'jinyun_edge_spool_appended_readings_total', help: 'Readings appended to the spool since start.', type: 'counter', fill: (s, _a, e) => e(s.spool?.appended ?? 0) },
  { name: 'jinyun_edge_spool_acked_readings_total', help: 'Readings acknowledged by the ingest and removed from the spool since start.', type: 'counter', fill: (s, _a, e) => e(s.spool?.acked ?? 0) },
  { name: 'jinyun_edge_spool_dropped_readings_total', help: 'Readings dropped by the spool policy (caps, disk full) since start.', type: 'counter', fill: (s, _a, e) => e(s.spool?.dropped ?? 0) },
  { name: 'jinyun_edge_spool_dropped_readings_by_device_total', help: 'Readings dropped by the spool policy since start, by the device that produced them.', type: 'counter', labels: ['device'],
    fill: (s, _a, e) => { for (const [device, n] of Object.entries(s.spool?.droppedBySource ?? {})) e(n, { device }); } },
  { name: 'jinyun_edge_spool_bytes', help: 'Encoded bytes of the readings held in the spool.', type: 'gauge', fill: (s, _a, e) => e(s.spool?.bytes ?? 0) },
  { name: 'jinyun_edge_spool_disk_full', help: '1 while the spool cannot grow (disk full or file quota reached).', type: 'gauge', fill: (s, _a, e) => e(s.spool?.diskFull ? 1 : 0) },
  { name: 'jinyun_edge_spool_wal_checkpoints_total', help: 'WAL checkpoints that truncated the spool WAL to zero bytes (after drains, and periodically).', type: 'counter', fill: (s, _a, e) => e(s.spool?.checkpoints ?? 0) },
  { name: 'jinyun_edge_spool_quarantined_readings_total', help: 'Readings in batches the ingest rejected for good since start.', type: 'counter', fill: (s, _a, e) => e(s.spool?.quarantined ?? 0) },
  { name: 'jinyun_edge_batches_sent_total', help: 'Batch publishes (first sends and resends).', type: 'counter', fill: (s, _a, e) => e(s.forwarder.sent) },
  { name: 'jinyun_edge_batches_resent_total', help: 'Batch publishes that were resends.', type: 'counter', fill: (s, _a, e) => e(s.forwarder.resent) },
  { name: 'jinyun_edge_batches_acked_total', help: 'Application ACKs received, by result (ok, or duplicate: stored before).', type: 'counter', labels: ['result'], fill: (s, _a, e) => { e(s.forwarder.acked, { result: 'ok' }); e(s.forwarder.duplicates, { result: 'duplicate' }); } },
  { name: 'jinyun_edge_batches_rejected_total', help: 'Batches the ingest NACKed as malformed (quarantined).', type: 'counter', fill: (s, _a, e) => e(s.forwarder.rejected) },
  { name: 'jinyun_edge_ack_timeouts_total', help: 'Batches with no ACK within ackTimeoutMs (then resent).', type: 'counter', fill: (s, _a, e) => e(s.forwarder.timeouts) },
  { name: 'jinyun_edge_batch_retries_total', help: 'Send retries after a failed publish.', type: 'counter', fill: (s, _a, e) => e(s.forwarder.retries) },
  { name: 'jinyun_edge_forwarder_errors_total', help: 'Forwarder errors (encode, spool or publish failures).', type: 'counter', fill: (s, _a, e) => e(s.forwarder.errors) },
  { name: 'jinyun_edge_sent_bytes_total', help: 'Batch bytes published (envelopes, after compression).', type: 'counter', fill: (s, _a, e) => e(s.forwarder.bytesSent) },
  { name: 'jinyun_edge_mqtt_connected', help: '1 while the MQTT link is up.', type: 'gauge', fill: (s, _a, e) => e(s.link.connected ? 1 : 0) },
  { name: 'jinyun_edge_mqtt_connects_total', help: 'MQTT sessions established.', type: 'counter', fill: (s, _a, e) => e(s.link.connects) },
  { name: 'jinyun_edge_mqtt_disconnects_total', help: 'MQTT sessions lost.', type: 'counter', fill: (s, _a, e) => e(s.link.disconnects) },
  { name: 'jinyun_edge_mqtt_publish_errors_total', help: 'MQTT publishes that failed.', type: 'counter', fill: (s, _a, e) => e(s.link.publishErrors) },
  { name: 'jinyun_edge_device_state', help: '1 for the current state of each device (unknown, ok, degraded, down), 0 for the others.', type: 'gauge', labels: ['device', 'state'],
    fill: (s, _a, e) => { for (const d of s.devices) for (const st of DEVICE_STATES) e(d.health.state === st ? 1 : 0, { device: d.name, state: st }); } },
  { name: 'jinyun_edge_device_reads_total', help: 'Read cycles of the device.', type: 'counter', labels: ['device'], fill: perDevice((d) => d.health.reads) },
  { name: 'jinyun_edge_device_read_errors_total', help: 'Read errors by kind (timeout, exception_N, disconnected, ...).', type: 'counter', labels: ['device', 'kind'],
    fill: (s, _a, e) => { for (const d of s.devices) for (const [kind, n] of Object.entries(d.health.errorsByKind)) e(n, { device: d.name, kind }); } },
  { name: 'jinyun_edge_device_consecutive_errors', help: 'Failed reads in a row.', type: 'gauge', labels: ['device'], fill: perDevice((d) => d.health.consecutiveErrors) },
  { name: 'jinyun_edge_device_last_rtt_seconds', help: 'Round-trip time of the last read.', type: 'gauge', labels: ['device'], fill: perDevice((d) => d.health.lastRttMs / 1000) },
  { name: 'jinyun_edge_device_last_good_timestamp_seconds', help: 'Unix time of the last read with a Good value (0 = never).', type: 'gauge', labels: ['device'], fill: perDevice((d) => d.health.lastGoodMs / 1000) },
  { name: 'jinyun_edge_poll_cycles_total', help: 'Poll cycles run.', type: 'counter', labels: ['device'], fill: perDevice((d) => d.poll.cycles) },
  { name: 'jinyun_edge_poll_overruns_total', help: 'Poll slots skipped because a read took longer than the interval.', type: 'counter', labels: ['device'], fill: perDevice((d) => d.poll.overruns) },
  { name: 'jinyun_edge_poll_readings_total', help: 'Readings produced by polling.', type: 'counter', labels: ['device'], fill: perDevice((d) => d.poll.readings) },
  { name: 'jinyun_edge_report_suppressed_readings_total', help: 'Readings held back by deadband / report by exception (not spooled).', type: 'counter', labels: ['device'], fill: perDevice((d) => d.report?.suppressed ?? 0) },
  { name: 'jinyun_edge_report_heartbeats_total', help: 'Unchanged readings reported because their heartbeat was due.', type: 'counter', labels: ['device'], fill: perDevice((d) => d.report?.heartbeats ?? 0) },
  { name: 'jinyun_edge_spool_append_errors_total', help: 'Poll results that could not be appended to the spool (readings lost).', type: 'counter', labels: ['device'], fill: perDevice((d) => d.poll.sinkErrors) },
  { name: 'jinyun_edge_clock_state', help: '1 for the current wall-clock state (unknown, synced, unsynced), 0 for the others.', type: 'gauge', labels: ['state'],
    fill: (s, _a, e) => { for (const st of CLOCK_STATES) e(s.clock.state === st ? 1 : 0, { state: st }); } },
  { name: 'jinyun_edge_clock_jump_seconds', help: 'Largest recent step of the wall clock against the monotonic clock (signed).', type: 'gauge', fill: (s, _a, e) => e(s.clock.jumpMs / 1000) },
];

/**
 * A Prometheus registry of the edge agent (its own, never the global one): prom-client's default
 * process and Node.js metrics plus METRIC_DEFS, all labelled with the gateway id, every value read
 * from one monitor snapshot per scrape.
 */
export function createEdgeMetrics(opts: { gateway: string; monitor: EdgeMonitor }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ gateway: opts.gateway });
  collectDefaultMetrics({ register: registry });
  let memo: { snap: Promise<EdgeSnapshot>; view: Promise<{ s: EdgeSnapshot; a: Assessment }> } | null = null;
  const view = (): Promise<{ s: EdgeSnapshot; a: Assessment }> => {
    const snap = opts.monitor.snapshot();
    if (memo?.snap !== snap) memo = { snap, view: snap.then((s) => ({ s, a: opts.monitor.assess(s) })) };
    return memo.view;
  };
  for (const def of METRIC_DEFS) register(registry, def, view);
  return registry;
}

function register(registry: Registry, def: MetricDef, view: () => Promise<{ s: EdgeSnapshot; a: Assessment }>): void {
  const common = { name: def.name, help: def.help, labelNames: def.labels ?? [], registers: [registry] };
  if (def.type === 'gauge') {
    new Gauge({ ...common, async collect() {
      const { s, a } = await view();
      this.reset();
      def.fill(s, a, (v, l) => (l ? this.set(l, v) : this.set(v)));
    } });
  } else {
    new Counter({ ...common, async collect() {
      const { s, a } = await view();
      this.reset();
      def.fill(s, a, (v, l) => (l ? this.inc(l, v) : this.inc(v)));
    } });
  }
}
