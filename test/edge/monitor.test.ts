import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { silentLogger } from '../../core/logger.js';
import { emptyHealth, type DeviceHealth } from '../../drivers/driver.js';
import { ClockMonitor, MIN_PLAUSIBLE_WALL_MS } from '../../edge/clock.js';
import { EdgeMonitor, RecentDelta, type MonitorSources } from '../../edge/monitor.js';
import { PORT_SEARCH, startEdgeHttp } from '../../edge/http.js';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createEdgeMetrics } from '../../edge/metrics.js';
import { decodeHealth, encodeHealth, pb } from '../../proto/codec.js';
import { healthData } from '../../edge/health-message.js';
import type { SpoolStats } from '../../edge/spool.js';
import { tempDir } from '../helpers/tmp.js';

const stats = (over: Partial<SpoolStats> = {}): SpoolStats => ({ depth: 0, bytes: 0, oldestTs: null, sealedBatches: 0, appended: 0, acked: 0, dropped: 0, droppedBySource: {}, quarantined: 0, checkpoints: 0, diskFull: false, lastError: '', ...over });

function fakeSources(dir: string) {
  const state = {
    stats: stats() as SpoolStats | Error,
    connected: true,
    device: { ...emptyHealth(), state: 'ok' } as DeviceHealth,
    poll: { cycles: 1, overruns: 0, readings: 1, sinkErrors: 0 },
  };
  const clock = new ClockMonitor({ probe: async () => null });
  const src: MonitorSources = {
    spool: { stats: async () => { if (state.stats instanceof Error) throw state.stats; return state.stats; } },
    spoolPath: join(dir, 'spool.db'),
    forwarder: { counters: { sent: 0, resent: 0, acked: 0, duplicates: 0, rejected: 0, retries: 0, timeouts: 0, ackedReadings: 0, errors: 0, bytesSent: 0 } },
    link: { get connected() { return state.connected; }, counters: { connects: 1, disconnects: 0, publishErrors: 0 }, lastError: '' },
    devices: () => [{ name: 'pump', health: state.device, poll: state.poll }],
    clock,
  };
  return { state, src };
}

const codes = (a: { reasons: { code: string }[] }) => a.reasons.map((r) => r.code).filter((c) => c !== 'clock_unsynced');

describe('EdgeMonitor assessment', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('is ok, degraded (link, device, quarantine) or error (spool, append failures, drops, disk full)', async () => {
    const { state, src } = fakeSources(tmp.dir);
    const m = new EdgeMonitor(src, { diskFullBytes: 1 });
    const assess = async () => { await new Promise((r) => setTimeout(r, 300)); return m.assess(await m.snapshot()); };
    expect(codes(await assess())).toEqual([]);
    state.connected = false;
    state.device = { ...state.device, state: 'down', lastError: 'timeout' };
    const a = await assess();
    expect(a.status).toBe('degraded');
    expect(codes(a)).toEqual(['link_down', 'device_down']);
    state.stats = new Error('SQLITE_IOERR');
    state.poll = { ...state.poll, sinkErrors: 1 };
    const b = await assess();
    expect(b.status).toBe('error');
    expect(codes(b)).toEqual(['spool_unavailable', 'spool_write_failing', 'link_down', 'device_down']);
    state.stats = stats({ dropped: 5, droppedBySource: { pump: 5 } });
    expect(codes(await assess())).toContain('spool_dropping');
    state.stats = stats({ diskFull: true, lastError: 'SQLITE_FULL: database or disk is full' });
    expect((await assess()).reasons).toContainEqual({ level: 'error', code: 'spool_disk_full', detail: 'SQLITE_FULL: database or disk is full' });
    const full = new EdgeMonitor(src, { diskFullBytes: Number.MAX_SAFE_INTEGER });
    expect(codes(full.assess(await full.snapshot()))).toContain('disk_full');
  });

  it('serves 503 on /healthz when the status is error, and the metrics say so', async () => {
    const { state, src } = fakeSources(tmp.dir);
    state.stats = new Error('disk I/O error');
    const monitor = new EdgeMonitor(src);
    const http = await startEdgeHttp({ host: '127.0.0.1', port: 0, gateway: 'gw-x', monitor, registry: createEdgeMetrics({ gateway: 'gw-x', monitor }), logger: silentLogger() });
    try {
      const res = await fetch(`http://127.0.0.1:${http.port}/healthz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; reasons: { code: string; detail: string }[] };
      expect(body.status).toBe('error');
      expect(body.reasons[0]).toEqual({ level: 'error', code: 'spool_unavailable', detail: 'disk I/O error' });
      const text = await (await fetch(`http://127.0.0.1:${http.port}/metrics`)).text();
      expect(text).toContain('jinyun_edge_health_status{gateway="gw-x"} 2');
      expect(text).toContain('jinyun_edge_spool_up{gateway="gw-x"} 0');
    } finally {
      await http.close();
    }
  });

  it('a second agent on the same host finds http.port taken: it serves on the next free port up and says which', async () => {
    const { src } = fakeSources(tmp.dir);
    const monitor = new EdgeMonitor(src);
    const registry = createEdgeMetrics({ gateway: 'gw-x', monitor });
    const first = await startEdgeHttp({ host: '127.0.0.1', port: 0, gateway: 'gw-1', monitor, registry, logger: silentLogger() });
    const out: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _enc, cb) { out.push(chunk.toString('utf8')); cb(); } }));
    let second: Awaited<ReturnType<typeof startEdgeHttp>> | undefined;
    try {
      second = await startEdgeHttp({ host: '127.0.0.1', port: first.port, gateway: 'gw-2', monitor, registry, logger });
      expect(second.port).toBeGreaterThan(first.port);
      expect(second.port).toBeLessThan(first.port + PORT_SEARCH);
      expect((await fetch(`http://127.0.0.1:${second.port}/healthz`)).status).toBe(200);
      const warn = out.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 40);
      expect(warn).toMatchObject({ port: second.port, configuredPort: first.port,
        msg: `http.port ${first.port} is in use (another agent on this host?): /healthz and /metrics are on port ${second.port} instead; set http.port to pin it` });
    } finally {
      await second?.close();
      await first.close();
    }
  });

  it('encodes a Health message with rates over the interval', async () => {
    const { src } = fakeSources(tmp.dir);
    const m = new EdgeMonitor(src);
    const s1 = await m.snapshot();
    const s2 = { ...s1, timeMs: s1.timeMs + 2000, spool: stats({ appended: 100 }), forwarder: { ...s1.forwarder, sent: 4, ackedReadings: 50 } };
    const h = decodeHealth(encodeHealth(healthData(s2, { status: 'degraded', reasons: [{ level: 'degraded', code: 'link_down', detail: 'x' }] }, s1)));
    expect(h.status).toBe(pb.GatewayStatus.GATEWAY_STATUS_DEGRADED);
    expect(h.reasons).toEqual(['link_down: x']);
    expect(h.appendedReadingsPerS).toBe(50);
    expect(h.sentBatchesPerS).toBe(2);
    expect(h.ackedReadingsPerS).toBe(25);
    expect(h.devices[0]!.name).toBe('pump');
  });

  it('carries the spool age, CPU, memory, disk and clock state of the gateway, exactly as measured', async () => {
    const { src } = fakeSources(tmp.dir);
    const s1 = await new EdgeMonitor(src).snapshot();
    const base = { ...s1, process: { rssBytes: 100e6, heapUsedBytes: 40e6, cpuUserUs: 1_000_000, cpuSystemUs: 500_000, systemFreeBytes: 8e9 } };
    const s2 = {
      ...base, timeMs: s1.timeMs + 4000,
      spool: stats({ depth: 1234, oldestTs: s1.timeMs + 4000 - 90_000, sealedBatches: 3 }),
      disk: { freeBytes: 5e9, totalBytes: 20e9 }, spoolFileBytes: 7_000_000,
      // 0.6 s of CPU over 4 s: 15 % of one core
      process: { rssBytes: 110e6, heapUsedBytes: 42e6, cpuUserUs: 1_400_000, cpuSystemUs: 700_000, systemFreeBytes: 7.5e9 },
      clock: { state: 'unsynced' as const, detail: 'wall clock stepped', jumpMs: 3600_000 },
    };
    const h = decodeHealth(encodeHealth(healthData(s2, { status: 'ok', reasons: [] }, base)));
    const n = (...v: unknown[]) => v.map(Number); // 64-bit fields decode as Long
    expect(n(h.spoolDepth, h.spoolOldestAgeMs, h.spoolSealedBatches)).toEqual([1234, 90_000, 3]);
    expect(h.cpuPercent).toBeCloseTo(15, 9);
    expect(Number(h.cpuTotalMs)).toBe(2100);
    expect(n(h.rssBytes, h.heapUsedBytes, h.systemFreeMemoryBytes)).toEqual([110e6, 42e6, 7.5e9]);
    expect(n(h.diskFreeBytes, h.diskTotalBytes, h.spoolFileBytes)).toEqual([5e9, 20e9, 7_000_000]);
    expect(n(h.clockState, h.clockJumpMs)).toEqual([pb.ClockState.CLOCK_STATE_UNSYNCED, 3600_000]);
    // An empty spool has no age.
    expect(Number(decodeHealth(encodeHealth(healthData({ ...s2, spool: stats() }, { status: 'ok', reasons: [] }, base))).spoolOldestAgeMs)).toBe(0);
  });
});

describe('RecentDelta', () => {
  it('counts growth within the window only', () => {
    const d = new RecentDelta();
    expect(d.delta(0, 3, 60_000)).toBe(3);
    expect(d.delta(30_000, 3, 60_000)).toBe(3);
    expect(d.delta(70_000, 3, 60_000)).toBe(0);
    expect(d.delta(80_000, 5, 60_000)).toBe(2);
    expect(d.delta(200_000, 5, 60_000)).toBe(0);
  });
});

describe('ClockMonitor', () => {
  it('flags a wall clock before 2020 and a step against the monotonic clock; asks the system otherwise', async () => {
    let wall = Date.UTC(2026, 0, 1);
    let mono = 1000;
    let synced: boolean | null = null;
    const c = new ClockMonitor({ wallNow: () => wall, monoNow: () => mono, probe: async () => synced, windowMs: 60_000 });
    expect(c.check().state).toBe('unknown');
    await c.settled();
    synced = true;
    mono += 61_000; wall += 61_000;
    c.check();
    await c.settled();
    expect(c.check()).toEqual({ state: 'synced', detail: 'timedatectl: NTPSynchronized=yes', jumpMs: 0 });
    wall += 5000;
    expect(c.check()).toMatchObject({ state: 'unsynced', jumpMs: 5000 });
    mono += 61_000; wall += 61_000;
    expect(c.check().state).toBe('synced');
    wall = MIN_PLAUSIBLE_WALL_MS - 1;
    mono = wall;
    expect(c.check().state).toBe('unsynced');
  });
});
