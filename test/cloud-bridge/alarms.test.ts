import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { silentLogger } from '../../core/logger.js';
import { Sqlite } from '../../core/sqlite.js';
import { edgeConfigSchema } from '../../edge/config.js';
import { startEdgeAgent, type EdgeAgent } from '../../edge/agent.js';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { CoalMineProfile } from '../../simulators/modbus/profiles/coal-mine.js';
import type { CloudBridge } from '../../cloud-bridge/bridge.js';
import { cloudConfigSchema } from '../../cloud-bridge/config.js';
import { alarmRuleSchema, expandPreset, presetSchema } from '../../cloud-bridge/alarms/rules.js';
import { newValueState, stepValue } from '../../cloud-bridge/alarms/evaluate.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/edge-child.js';
import { GW1, startTestBridge, testConfig } from './helpers.js';

describe('alarm rules (pure)', () => {
  it('high with hysteresis and delay: raised once after the delay, cleared only below limit - hysteresis', () => {
    const rule = alarmRuleSchema.parse({ name: 'h', type: 'high', tag: 'x', limit: 10, hysteresis: 1, delayMs: 2000 });
    if (rule.type !== 'high') throw new Error('type');
    const s = newValueState();
    const steps = [[0, 10], [1000, 12], [1999, 11], [2000, 10.5], [3000, 20], [4000, 9.5], [5000, 9.0], [6000, 8.99], [7000, 20]].map(([ts, v]) => stepValue(rule, s, ts!, v!)?.action ?? '-');
    expect(steps).toEqual(['-', '-', '-', 'raise', '-', '-', '-', 'clear', '-']);
  });

  it('low and rate of change', () => {
    const low = alarmRuleSchema.parse({ name: 'l', type: 'low', tag: 'x', limit: 2, hysteresis: 0.5 });
    if (low.type !== 'low') throw new Error('type');
    const s = newValueState();
    expect([3, 2, 1, 2.5, 2.51].map((v, i) => stepValue(low, s, i * 1000, v)?.action ?? '-')).toEqual(['-', 'raise', '-', '-', 'clear']);
    const rate = alarmRuleSchema.parse({ name: 'r', type: 'rate', tag: 'x', maxPerS: 1, hysteresis: 0.5 });
    if (rate.type !== 'rate') throw new Error('type');
    const r = newValueState();
    // +1/s, +3/s (raise), +0.8/s (still above 0.5), +0.5/s (clear)
    expect([[0, 0], [1000, 1], [2000, 4], [3000, 4.8], [5000, 5.8]].map(([ts, v]) => stepValue(rate, r, ts!, v!)?.action ?? '-')).toEqual(['-', '-', 'raise', '-', 'clear']);
  });

  it('coal-mine methane preset: alarm and power-cut levels by location (AQ 1029 table)', () => {
    const rules = expandPreset(presetSchema.parse({ preset: 'coal-mine-methane', location: 'coal-face', tag: '*/methane' }));
    expect(rules.map((r) => [r.name, r.type === 'rate' ? null : r.limit, r.hysteresis, r.severity])).toEqual([
      ['methane-coal-face-alarm', 1.0, 0.1, 'alarm'], ['methane-coal-face-power-cut', 1.5, 0.5, 'critical']]);
    const ret = expandPreset(presetSchema.parse({ preset: 'coal-mine-methane', location: 'intake-airway', tag: 'm' }));
    expect(ret.map((r) => (r.type === 'rate' ? null : r.limit))).toEqual([0.5, 0.5]);
    expect(() => cloudConfigSchema.parse({ store: { type: 'sqlite', path: 'x' }, alarms: { presets: [{ preset: 'coal-mine-methane', location: 'face', tag: 'm' }] } })).toThrow(/location/);
  });
});

describe('methane alarm end to end: Modbus simulator → edge → MQTT → ingest → alarm (stored, published, cleared with hysteresis)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let sim: ModbusSimServer;
  const profile = new CoalMineProfile();
  let bridge: CloudBridge;
  let edge: EdgeAgent;
  const sse = new AbortController();
  const streamed: { event: string; alarm: { rule: string } }[] = [];
  const published: { atMs: number; event: string; alarm: { id: number; rule: string; value: number; active: boolean } }[] = [];

  beforeAll(async () => {
    tmp = tempDir('jinyun-alarms-');
    sim = new ModbusSimServer({ port: 0, profile, tickMs: 100 });
    const simPort = await sim.start();
    const config = await testConfig(tmp.dir);
    config.alarms = cloudConfigSchema.parse({ store: { type: 'sqlite', path: 'x' }, alarms: { presets: [{ preset: 'coal-mine-methane', location: 'coal-face', tag: 'gas-monitor/methane' }] } }).alarms;
    bridge = await startTestBridge(config);
    await bridge.bus.subscribe(`jinyun/v1/${GW1.tenant}/${GW1.id}/alarm`, (_t, payload) => {
      published.push({ atMs: Date.now(), ...(JSON.parse(payload.toString()) as { event: string; alarm: never }) });
    });
    // The dashboard's live feed: server-sent events from the API.
    const res = await fetch(`http://127.0.0.1:${bridge.httpPort}/api/v1/events`, { signal: sse.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    void (async () => {
      const dec = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^event: alarm\ndata: (.*)$/s.exec(frame)?.[1];
          if (data) streamed.push(JSON.parse(data) as { event: string; alarm: { rule: string } });
        }
      }
    })().catch(() => undefined);
    edge = await startEdgeAgent(edgeConfigSchema.parse({
      gateway: { id: GW1.id, tenant: GW1.tenant }, spool: { path: join(tmp.dir, 'spool.db') },
      uplink: { url: `mqtt://127.0.0.1:${bridge.mqttPort}`, password: GW1.password, batch: { maxDelayMs: 100 } }, http: { enabled: false },
      devices: [{ type: 'modbus-tcp', name: 'gas-monitor', port: simPort, unitId: 1, timeoutMs: 2000, pollIntervalMs: 200,
        tags: [{ name: 'methane', table: 'holding', address: 0, type: 'float32', wordOrder: 'CDAB', unit: '%CH4' }] }],
    }), { logger: silentLogger() });
  }, 60_000);

  afterAll(async () => {
    sse.abort();
    await edge?.close().catch(() => undefined);
    await bridge?.close().catch(() => undefined);
    await sim?.stop().catch(() => undefined);
    tmp?.cleanup();
  });

  const latest = async () => (await bridge.store.latest({ gateway: GW1.id })).find((l) => l.key === 'gas-monitor/methane');
  const events = (rule: string, event: string) => published.filter((p) => p.alarm.rule === rule && p.event === event);

  it('raises the alarm and the power-cut alarm once within 2 s of the reading reaching the cloud, publishes them, clears each past its hysteresis', async () => {
    await until('normal methane readings stored', async () => ((await latest())?.value as number) < 1.0, 30_000);
    expect(published).toEqual([]);
    profile.methaneSpike(true);
    const raised = await until('both alarms published', async () => (events('methane-coal-face-power-cut', 'raised').length > 0 && events('methane-coal-face-alarm', 'raised').length > 0 ? true : null), 20_000);
    expect(raised).toBe(true);
    // The first stored reading at or above 1.0 and the time its batch reached the cloud.
    const db = await Sqlite.open(join(tmp.dir, 'cloud.db'), { readonly: true });
    const first = (await db.get<{ ts: number; value: number; received_ms: number }>(
      `SELECT r.ts, r.value, b.received_ms FROM readings r JOIN series s ON s.id = r.series_id JOIN batches b ON b.epoch = r.epoch AND r.seq BETWEEN b.seq_first AND b.seq_last
       WHERE s.key = 'gas-monitor/methane' AND r.value >= 1.0 ORDER BY r.seq LIMIT 1`))!;
    await db.close();
    const alarm = events('methane-coal-face-alarm', 'raised')[0]!;
    expect(alarm.alarm.value).toBe(first.value);
    expect(alarm.atMs - first.received_ms).toBeGreaterThanOrEqual(0);
    expect(alarm.atMs - first.received_ms).toBeLessThan(2000);
    // Several more readings above both limits: still raised once, one row each in the store.
    const seen = (await latest())!.ts;
    await until('3 more readings', async () => ((await latest())!.ts >= seen + 600 ? true : null), 20_000);
    expect(events('methane-coal-face-alarm', 'raised')).toHaveLength(1);
    expect(events('methane-coal-face-power-cut', 'raised')).toHaveLength(1);
    const active = await bridge.store.alarms({ tenant: GW1.tenant, active: true, limit: 10 });
    expect(active.map((a) => [a.rule, a.type, a.severity, a.source]).sort()).toEqual([
      ['methane-coal-face-alarm', 'high', 'alarm', 'gas-monitor/methane'], ['methane-coal-face-power-cut', 'high', 'critical', 'gas-monitor/methane']]);

    // 0.95: below the power-cut restore level (1.0) but inside the alarm's hysteresis (clears below 0.9).
    profile.methaneSpike(false);
    profile.force('methanePct', 0.95);
    await until('power-cut cleared', async () => (events('methane-coal-face-power-cut', 'cleared').length > 0 ? true : null), 20_000);
    const at = (await latest())!.ts;
    await until('3 readings at 0.95', async () => ((await latest())!.ts >= at + 600 ? true : null), 20_000);
    expect(events('methane-coal-face-alarm', 'cleared')).toEqual([]);
    expect((await bridge.store.alarms({ active: true, limit: 10 })).map((a) => a.rule)).toEqual(['methane-coal-face-alarm']);
    profile.force('methanePct', 0.85);
    await until('alarm cleared', async () => (events('methane-coal-face-alarm', 'cleared').length > 0 ? true : null), 20_000);
    const cleared = events('methane-coal-face-alarm', 'cleared')[0]!;
    expect(cleared.alarm).toMatchObject({ id: alarm.alarm.id, active: false });
    expect(events('methane-coal-face-alarm', 'cleared')[0]!.alarm).toMatchObject({ clearValue: 0.85 });
    expect(await bridge.store.alarms({ active: true, limit: 10 })).toEqual([]);
    expect(bridge.alarms.metrics).toMatchObject({ raised: 2, cleared: 2, errors: 0 });
    // The same four changes went to the live feed, in order.
    await until('4 streamed events', async () => (streamed.length >= 4 ? true : null), 10_000);
    expect(streamed.map((e) => `${e.event} ${e.alarm.rule}`)).toEqual(published.map((p) => `${p.event} ${p.alarm.rule}`));
    expect(streamed).toHaveLength(4);
  }, 120_000);
});
