import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModbusTcpDriver } from '../../../drivers/modbus/modbus-driver.js';
import { ModbusSimServer } from '../../../simulators/modbus/modbus-sim-server.js';
import { CoalMineProfile, COAL_MINE_FIXED, COAL_MINE_MAP, coalMineValues } from '../../../simulators/modbus/profiles/coal-mine.js';
import { NotConnectedError } from '../../../core/errors.js';
import { silentLogger } from '../../../core/logger.js';
import { Quality, qualityName } from '../../../core/quality.js';
import { byName, pointsOf, testDevice } from './helpers.js';

let sim: ModbusSimServer;
let profile: CoalMineProfile;
let port: number;
const drivers: ModbusTcpDriver[] = [];

function driverFor(device: ReturnType<typeof testDevice>, now?: () => number): ModbusTcpDriver {
  const d = new ModbusTcpDriver(device, now ? { logger: silentLogger(), now } : { logger: silentLogger() });
  drivers.push(d);
  return d;
}

beforeEach(async () => {
  profile = new CoalMineProfile({ seed: 7 });
  sim = new ModbusSimServer({ port: 0, profile, tickMs: 0 });
  port = await sim.start();
});

afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.close()));
  await sim.stop();
});

describe('ModbusTcpDriver against the simulator', () => {
  it('reads every fixed register with its exact value, type and order', async () => {
    const tags = COAL_MINE_FIXED.map((f) => ({ name: `${f.table}_${f.address}`, table: f.table, address: f.address, type: f.type, ...(f.order ? { wordOrder: f.order } : {}) }));
    const device = testDevice(port, tags);
    const driver = driverFor(device, () => 1_700_000_000_000);
    await driver.connect();
    const readings = await driver.read(pointsOf(device));
    expect(readings.map((r) => r.tagId)).toEqual(device.tags.map((_, i) => i + 1));
    for (const [i, f] of COAL_MINE_FIXED.entries()) {
      expect(readings[i], `${f.table} ${f.address} ${f.type} ${f.order ?? ''}`).toEqual({ tagId: i + 1, ts: 1_700_000_000_000, value: f.value, quality: Quality.Good });
    }
    // coil, discrete, holding and input: one request each
    expect(sim.stats().requests).toBe(4);
    expect(driver.health()).toMatchObject({ state: 'ok', reads: 1, errors: 0 });
  });

  it('reads the live coal-mine values exactly as the profile computes them, scaled', async () => {
    const tags = COAL_MINE_MAP.filter((e) => e.unit === 2).map((e) => ({ name: e.key, table: e.table, address: e.address, type: e.type ?? ('bool' as const), scale: e.scale ?? 1, ...(e.order ? { wordOrder: e.order } : {}) }));
    const device = testDevice(port, tags, { unitId: 2 });
    const driver = driverFor(device);
    const points = pointsOf(device);
    for (const tick of [0, 1234, 5000]) {
      sim.advance(tick - sim.stats().tick);
      const expected = coalMineValues(tick, { seed: 7 });
      const got = byName(device, await driver.read(points));
      for (const t of device.tags) expect(got[t.name], `${t.name} @${tick}`).toMatchObject({ value: expected[t.name as keyof typeof expected], quality: Quality.Good });
    }
  });

  it('sees the sample counter go up by exactly 1 per read', async () => {
    const device = testDevice(port, [{ name: 'counter', table: 'holding', address: 100, type: 'uint32' }, { name: 'co', table: 'holding', address: 2, type: 'uint16' }]);
    const driver = driverFor(device);
    const points = pointsOf(device);
    const values: number[] = [];
    for (let i = 0; i < 50; i++) values.push((await driver.read(points))[0]!.value as number);
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // gap of 97 registers > maxGapRegisters: two requests per read, plan cached per points array
    expect(sim.stats().requests).toBe(100);
  });

  it('maps an exception to its quality while the other requests of the read stay Good, and backs off the bad request', async () => {
    const device = testDevice(port, [
      { name: 'fixed', table: 'holding', address: 200, type: 'int16' },
      { name: 'unmapped', table: 'holding', address: 5000, type: 'uint16' },
      { name: 'flag', table: 'discrete', address: 200, type: 'bool' },
    ], { reconnectInitialMs: 5000, reconnectMaxMs: 10_000 });
    const driver = driverFor(device);
    for (let i = 0; i < 2; i++) {
      const got = byName(device, await driver.read(pointsOf(device)));
      expect(got.fixed).toMatchObject({ value: -1234, quality: Quality.Good });
      expect(got.flag).toMatchObject({ value: true, quality: Quality.Good });
      expect(got.unmapped).toMatchObject({ value: null });
      expect(qualityName(got.unmapped!.quality)).toBe('BadConfigurationError');
    }
    // the second read did not send the illegal-address request again (no hot retries)
    expect(sim.stats()).toMatchObject({ requests: 5, exceptions: 1 });
    expect(driver.health()).toMatchObject({ state: 'degraded', errors: 1, errorsByKind: { exception_2: 1 }, consecutiveErrors: 0 });
  });

  it('reports an unknown unit behind the gateway (exception 11) as BadNoCommunication and the device down', async () => {
    const device = testDevice(port, [{ name: 'x', table: 'holding', address: 0, type: 'uint16' }], { unitId: 9 });
    const driver = driverFor(device);
    const [r] = await driver.read(pointsOf(device));
    expect(qualityName(r!.quality)).toBe('BadNoCommunication');
    expect(driver.health()).toMatchObject({ state: 'down', errorsByKind: { exception_11: 1 } });
  });

  it('gives a NaN float BadSensorFailure and null', async () => {
    sim.unit(1).setNumber('holding', 300, 'float32', Number.NaN);
    const device = testDevice(port, [{ name: 'nan', table: 'holding', address: 300, type: 'float32' }]);
    const [r] = await driverFor(device).read(pointsOf(device));
    expect(r).toMatchObject({ value: null, quality: Quality.BadSensorFailure });
  });

  it('fails fast when the server stops and recovers when it comes back on the same port', async () => {
    const device = testDevice(port, [{ name: 'counter', table: 'holding', address: 100, type: 'uint32' }, { name: 'i', table: 'input', address: 200, type: 'uint16' }], { timeoutMs: 1000 });
    const driver = driverFor(device);
    const points = pointsOf(device);
    expect((await driver.read(points))[0]).toMatchObject({ value: 1, quality: Quality.Good });

    await sim.stop();
    const t0 = performance.now();
    const failed = [];
    for (let i = 0; i < 5; i++) failed.push(...(await driver.read(points)));
    expect(performance.now() - t0).toBeLessThan(500); // refused connections, not 1000 ms timeouts
    expect(failed.every((r) => r.value === null && ['BadCommunicationError', 'BadNotConnected'].includes(qualityName(r.quality)))).toBe(true);
    expect(failed.some((r) => qualityName(r.quality) === 'BadCommunicationError')).toBe(true);
    expect(driver.health().state).toBe('down');

    expect(await sim.start()).toBe(port);
    let back = null;
    for (let i = 0; i < 100 && !back; i++) {
      const rs = await driver.read(points);
      if (rs.every((r) => r.quality === Quality.Good)) back = rs;
      else await new Promise((r) => setTimeout(r, 10));
    }
    expect(back?.[0]?.value).toBe(2); // the counter survived the restart: nothing read twice
    expect(back?.[1]?.value).toBe(4321);
    expect(driver.health()).toMatchObject({ state: 'ok', consecutiveErrors: 0 });
    expect(driver.health().errorsByKind.connection).toBeGreaterThan(0);
  });

  it('times out a silent device once per poll, then backs off, and recovers', async () => {
    const device = testDevice(port, [
      { name: 'a', table: 'holding', address: 0, type: 'uint16' },
      { name: 'b', table: 'input', address: 0, type: 'uint16' },
      { name: 'c', table: 'coil', address: 0, type: 'bool' },
    ], { timeoutMs: 150, reconnectInitialMs: 2000, reconnectMaxMs: 2000 });
    const driver = driverFor(device);
    const points = pointsOf(device);
    await driver.connect();
    sim.setFaults({ silent: true });
    const t0 = performance.now();
    const rs = await driver.read(points);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(sim.stats().ignored).toBe(1); // one timeout, not three: the rest of the poll was not sent
    expect(rs.map((r) => qualityName(r.quality))).toEqual(['BadTimeout', 'BadTimeout', 'BadTimeout']);
    expect(driver.health()).toMatchObject({ state: 'degraded', errorsByKind: { timeout: 1 } });
    // while backing off, polls cost nothing and touch no socket
    const ignored = sim.stats().ignored;
    const skipped = await driver.read(points);
    expect(sim.stats().ignored).toBe(ignored);
    expect(skipped.map((r) => qualityName(r.quality))).toEqual(['BadNotConnected', 'BadNotConnected', 'BadNotConnected']);

    sim.setFaults({ silent: false });
    let ok = false;
    for (let i = 0; i < 400 && !ok; i++) {
      ok = (await driver.read(points)).every((r) => r.quality === Quality.Good);
      if (!ok) await new Promise((r) => setTimeout(r, 20));
    }
    expect(ok).toBe(true);
    expect(driver.health().state).toBe('ok');
  });

  it('connect() rejects with NotConnectedError when nothing listens; read() never rejects', async () => {
    await sim.stop();
    const device = testDevice(port, [{ name: 'a', table: 'holding', address: 0, type: 'uint16' }]);
    const driver = driverFor(device);
    await expect(driver.connect()).rejects.toBeInstanceOf(NotConnectedError);
    expect(driver.health().state).toBe('down');
    const [r] = await driver.read(pointsOf(device));
    expect(r!.value).toBeNull();
  });

  it('rejects only when the signal aborts, and drops the request in flight', async () => {
    const device = testDevice(port, [{ name: 'a', table: 'holding', address: 0, type: 'uint16' }], { timeoutMs: 2000 });
    const driver = driverFor(device);
    await driver.connect();
    sim.setFaults({ delayMs: 1000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop polling')), 30);
    const t0 = performance.now();
    await expect(driver.read(pointsOf(device), ac.signal)).rejects.toThrow('stop polling');
    expect(performance.now() - t0).toBeLessThan(500);
    await expect(driver.read(pointsOf(device), ac.signal)).rejects.toThrow('stop polling');
  });

  it('gives points with an invalid tag config BadConfigurationError instead of rejecting', async () => {
    const device = testDevice(port, [{ name: 'a', table: 'holding', address: 200, type: 'int16' }]);
    const points = [...pointsOf(device), { tagId: 99, key: 'dev/bad', config: { name: 'bad', table: 'holding', address: 0, type: 'bool' } as never }];
    const rs = await driverFor(device).read(points);
    expect(rs.map((r) => [r.tagId, r.value, qualityName(r.quality)])).toEqual([
      [1, -1234, 'Good'],
      [99, null, 'BadConfigurationError'],
    ]);
  });

  it('after close() reads report BadNotConnected without touching the network', async () => {
    const device = testDevice(port, [{ name: 'a', table: 'holding', address: 0, type: 'uint16' }]);
    const driver = driverFor(device);
    await driver.read(pointsOf(device));
    await driver.close();
    const before = sim.stats().requests;
    const [r] = await driver.read(pointsOf(device));
    expect(qualityName(r!.quality)).toBe('BadNotConnected');
    expect(sim.stats().requests).toBe(before);
  });
});
