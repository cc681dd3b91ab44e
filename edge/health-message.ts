import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';
import { encodeHealth, pb, type HealthData } from '../proto/codec.js';
import type { jinyun } from '../proto/generated/jinyun.js';
import type { DeviceHealth } from '../drivers/driver.js';
import type { Assessment, DeviceSnapshot, EdgeMonitor, EdgeSnapshot } from './monitor.js';
import type { ClockState } from './clock.js';

const stateCode: Record<DeviceHealth['state'], jinyun.v1.DeviceState> = { unknown: pb.DeviceState.DEVICE_STATE_UNKNOWN, ok: pb.DeviceState.DEVICE_STATE_OK, degraded: pb.DeviceState.DEVICE_STATE_DEGRADED, down: pb.DeviceState.DEVICE_STATE_DOWN };
const statusCode: Record<Assessment['status'], jinyun.v1.GatewayStatus> = { ok: pb.GatewayStatus.GATEWAY_STATUS_OK, degraded: pb.GatewayStatus.GATEWAY_STATUS_DEGRADED, error: pb.GatewayStatus.GATEWAY_STATUS_ERROR };
const clockCode: Record<ClockState, jinyun.v1.ClockState> = { unknown: pb.ClockState.CLOCK_STATE_UNKNOWN, synced: pb.ClockState.CLOCK_STATE_SYNCED, unsynced: pb.ClockState.CLOCK_STATE_UNSYNCED };

/** Per-second rate of a total between two snapshots (0 without a previous one). */
function rate(cur: number, prev: number | undefined, seconds: number): number {
  return prev === undefined || seconds <= 0 ? 0 : Math.max(0, cur - prev) / seconds;
}

function deviceHealth(d: DeviceSnapshot): jinyun.v1.IDeviceHealth {
  const h = d.health;
  return {
    name: d.name, state: stateCode[h.state], lastGoodMs: h.lastGoodMs, consecutiveErrors: h.consecutiveErrors, reads: h.reads, errors: h.errors,
    lastRttMs: Math.round(h.lastRttMs), lastError: h.lastError, errorsByKind: { ...h.errorsByKind },
    pollCycles: d.poll.cycles, pollOverruns: d.poll.overruns, readings: d.poll.readings,
  };
}

/** The periodic Health message from a snapshot; rates are over the time since `prev`. */
export function healthData(s: EdgeSnapshot, a: Assessment, prev: EdgeSnapshot | null): HealthData {
  const secs = prev ? (s.timeMs - prev.timeMs) / 1000 : 0;
  const cpuUs = s.process.cpuUserUs + s.process.cpuSystemUs;
  const prevCpuUs = prev ? prev.process.cpuUserUs + prev.process.cpuSystemUs : undefined;
  const sp = s.spool;
  const f = s.forwarder;
  return {
    timeMs: s.timeMs, uptimeS: s.uptimeS, status: statusCode[a.status], reasons: a.reasons.map((r) => `${r.code}: ${r.detail}`),
    spoolDepth: sp?.depth ?? 0, spoolOldestAgeMs: sp?.oldestTs == null ? 0 : Math.max(0, s.timeMs - sp.oldestTs), spoolSealedBatches: sp?.sealedBatches ?? 0,
    dropped: sp?.dropped ?? 0, appended: sp?.appended ?? 0, quarantined: sp?.quarantined ?? 0,
    ackedBatches: f.acked + f.duplicates, ackedReadings: sp?.acked ?? f.ackedReadings, sentBatches: f.sent, resentBatches: f.resent, ackTimeouts: f.timeouts,
    sentBatchesPerS: rate(f.sent, prev?.forwarder.sent, secs), ackedReadingsPerS: rate(f.ackedReadings, prev?.forwarder.ackedReadings, secs),
    appendedReadingsPerS: rate(sp?.appended ?? 0, prev?.spool?.appended, secs),
    cpuPercent: rate(cpuUs, prevCpuUs, secs) / 10_000, cpuTotalMs: Math.round(cpuUs / 1000),
    rssBytes: s.process.rssBytes, heapUsedBytes: s.process.heapUsedBytes, systemFreeMemoryBytes: s.process.systemFreeBytes,
    diskFreeBytes: s.disk?.freeBytes ?? 0, diskTotalBytes: s.disk?.totalBytes ?? 0, spoolFileBytes: s.spoolFileBytes,
    clockState: clockCode[s.clock.state], clockJumpMs: s.clock.jumpMs, linkConnects: s.link.connects, linkDisconnects: s.link.disconnects,
    devices: s.devices.map(deviceHealth),
  };
}

export interface HealthPublisherOptions {
  monitor: EdgeMonitor;
  link: { readonly connected: boolean; publish(topic: string, payload: Uint8Array, opts: { qos: 0 | 1 }): Promise<void> };
  topic: string;
  intervalMs: number;
  logger: Logger;
}

/** Publishes a Health message every interval while the link is up (QoS 0: the next one replaces a lost one). */
export function startHealthPublisher(o: HealthPublisherOptions): { stop(): void } {
  let prev: EdgeSnapshot | null = null;
  let busy = false;
  const tick = async (): Promise<void> => {
    const snap = await o.monitor.snapshot();
    const payload = encodeHealth(healthData(snap, o.monitor.assess(snap), prev));
    prev = snap;
    if (o.link.connected) await o.link.publish(o.topic, payload, { qos: 0 });
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    tick().catch((err) => o.logger.debug({ err: errorMessage(err) }, 'health publish failed')).finally(() => { busy = false; });
  }, o.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
