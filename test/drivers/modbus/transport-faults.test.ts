import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Quality, qualityName } from '../../../core/quality.js';
import { TRANSPORTS, TransportRig, pointsOf, untilGood, type TransportKind } from './transport-rig.js';

/** What each exception code means for the points, the health and the next poll. */
/**
 * What each exception code means for the points, the health and the next poll. `nextPollRequests`:
 * requests of the second poll (FC3 a+b, FC4 c): 0 when the device is down; 1 (FC4 only) when the
 * refused FC3 waits its backoff; 2 when it is retried; 3 when exception 2/3 split it into one
 * request per tag (a device that refuses reads across addresses it does not implement).
 */
const EXCEPTIONS: { code: number; quality: string; state: string; nextPollRequests: number; nextQuality: string }[] = [
  { code: 1, quality: 'BadConfigurationError', state: 'degraded', nextPollRequests: 1, nextQuality: 'BadConfigurationError' },
  { code: 2, quality: 'BadConfigurationError', state: 'degraded', nextPollRequests: 3, nextQuality: 'BadConfigurationError' },
  { code: 3, quality: 'BadConfigurationError', state: 'degraded', nextPollRequests: 3, nextQuality: 'BadConfigurationError' },
  { code: 4, quality: 'BadDeviceFailure', state: 'degraded', nextPollRequests: 2, nextQuality: 'BadDeviceFailure' },
  { code: 5, quality: 'BadResourceUnavailable', state: 'degraded', nextPollRequests: 1, nextQuality: 'BadResourceUnavailable' },
  { code: 6, quality: 'BadResourceUnavailable', state: 'degraded', nextPollRequests: 1, nextQuality: 'BadResourceUnavailable' },
  { code: 8, quality: 'BadDeviceFailure', state: 'degraded', nextPollRequests: 2, nextQuality: 'BadDeviceFailure' },
  { code: 10, quality: 'BadNoCommunication', state: 'down', nextPollRequests: 0, nextQuality: 'BadNotConnected' },
  { code: 11, quality: 'BadNoCommunication', state: 'down', nextPollRequests: 0, nextQuality: 'BadNotConnected' },
  { code: 12, quality: 'BadCommunicationError', state: 'degraded', nextPollRequests: 2, nextQuality: 'BadCommunicationError' },
];

const names = (rs: { quality: number }[]): string[] => rs.map((r) => qualityName(r.quality));

describe.each(TRANSPORTS)('exceptions and injected faults over %s', (kind: TransportKind) => {
  let rig: TransportRig;
  beforeAll(async () => {
    rig = await TransportRig.start(kind);
  }, 20_000);
  afterEach(async () => {
    rig.sim.clearFaults();
    await rig.closeDrivers();
  });
  afterAll(() => rig.stop());

  /** Three tags in two requests (holding 1500-1501, input 1500) of unit 2, scratch registers set by the test. */
  function scratchDevice(extra: Record<string, unknown> = {}) {
    const u = rig.sim.unit(2);
    u.holding[1500] = 111;
    u.holding[1501] = 112;
    u.input[1500] = 113;
    return rig.device([
      { name: 'a', table: 'holding', address: 1500, type: 'uint16' },
      { name: 'b', table: 'holding', address: 1501, type: 'uint16' },
      { name: 'c', table: 'input', address: 1500, type: 'uint16' },
    ], { unitId: 2, ...extra });
  }

  it('maps every exception code to its quality, health and retry behaviour; the other request of the poll stays Good', async () => {
    for (const x of EXCEPTIONS) {
      rig.sim.setFaults({ exception: { code: x.code, unitId: 2, fc: 3 } });
      const device = scratchDevice({ reconnectInitialMs: 5000, reconnectMaxMs: 10_000 });
      const driver = rig.driver(device);
      const points = pointsOf(device);
      const first = await driver.read(points);
      const what = `exception ${x.code}`;
      // the FC4 request is still sent unless the FC3 answer said the device is gone (then it gets the same quality, unsent)
      expect(names(first), what).toEqual(x.state === 'down' ? [x.quality, x.quality, x.quality] : [x.quality, x.quality, 'Good']);
      expect(first.slice(0, 2).map((r) => r.value), what).toEqual([null, null]);
      expect(driver.health(), what).toMatchObject({ state: x.state, errors: 1, errorsByKind: { [`exception_${x.code}`]: 1 } });
      const sent = rig.sim.stats().requests;
      const second = await driver.read(points);
      expect(rig.sim.stats().requests - sent, `${what}: requests of the second poll`).toBe(x.nextPollRequests);
      expect(names(second)[0], what).toBe(x.nextQuality);
      await driver.close();
    }
  });

  it('a device that refuses reads across unmapped addresses: the refused read is split from the next poll on (or maxGapRegisters 0 from the start)', async () => {
    const u = rig.sim.unit(3);
    u.holding.set([7, 0, 0, 0, 0, 0, 8, 9], 1700);
    u.unmap('holding', 1701, 1705);
    try {
      const tags = [
        { name: 'below', table: 'holding', address: 1700, type: 'uint16' },
        { name: 'above', table: 'holding', address: 1706, type: 'uint32' },
        { name: 'in-hole', table: 'holding', address: 1703, type: 'uint16' },
      ];
      const merged = rig.device(tags, { unitId: 3, name: 'merged', reconnectInitialMs: 5000, reconnectMaxMs: 5000 });
      const driver = rig.driver(merged);
      const show = (rs: { value: unknown; quality: number }[]) => rs.map((r) => [r.value, qualityName(r.quality)]);
      let before = rig.sim.stats().requests;
      expect(show(await driver.read(pointsOf(merged)))).toEqual([[null, 'BadConfigurationError'], [null, 'BadConfigurationError'], [null, 'BadConfigurationError']]);
      expect(rig.sim.stats().requests - before).toBe(1); // 1700+8 refused
      before = rig.sim.stats().requests;
      expect(show(await driver.read(pointsOf(merged)))).toEqual([[7, 'Good'], [8 * 65536 + 9, 'Good'], [null, 'BadConfigurationError']]);
      expect(rig.sim.stats().requests - before).toBe(3); // 1700+1, 1703+1 (refused), 1706+2
      before = rig.sim.stats().requests;
      expect(show(await driver.read(pointsOf(merged)))).toEqual([[7, 'Good'], [8 * 65536 + 9, 'Good'], [null, 'BadConfigurationError']]);
      expect(rig.sim.stats().requests - before).toBe(2); // the tag in the hole waits its backoff: no hot retries
      expect(driver.health()).toMatchObject({ state: 'degraded', errorsByKind: { exception_2: 2 } });

      const gapless = rig.device(tags.slice(0, 2), { unitId: 3, name: 'gapless', maxGapRegisters: 0 });
      before = rig.sim.stats().requests;
      expect(show(await rig.driver(gapless).read(pointsOf(gapless)))).toEqual([[7, 'Good'], [8 * 65536 + 9, 'Good']]);
      expect(rig.sim.stats().requests - before).toBe(2);
    } finally {
      u.holes.holding.length = 0;
    }
  });

  it('busy (exception 6) is retried after a backoff step and then reads Good', async () => {
    rig.sim.setFaults({ exception: { code: 6 } });
    const device = scratchDevice({ reconnectInitialMs: 300, reconnectMaxMs: 300 });
    const driver = rig.driver(device);
    const points = pointsOf(device);
    expect(names(await driver.read(points))).toEqual(['BadResourceUnavailable', 'BadResourceUnavailable', 'BadResourceUnavailable']);
    rig.sim.clearFaults();
    const back = await untilGood(driver, points);
    expect(back?.map((r) => r.value)).toEqual([111, 112, 113]);
    expect(driver.health().errorsByKind).toEqual({ exception_6: 2 });
  });

  it('a slow answer within the timeout is Good, with its round-trip time', async () => {
    rig.sim.setFaults({ delayMs: 150 });
    const device = scratchDevice({ timeoutMs: 3000 });
    const driver = rig.driver(device);
    const rs = await driver.read(pointsOf(device));
    expect(rs.map((r) => [r.value, qualityName(r.quality)])).toEqual([[111, 'Good'], [112, 'Good'], [113, 'Good']]);
    expect(driver.health().lastRttMs).toBeGreaterThanOrEqual(140);
  });

  it('a missing answer times out once per poll (the rest of the poll is skipped), then recovers', async () => {
    const device = scratchDevice({ timeoutMs: 200, reconnectInitialMs: 2000, reconnectMaxMs: 2000 });
    const driver = rig.driver(device);
    const points = pointsOf(device);
    expect(names(await driver.read(points))).toEqual(['Good', 'Good', 'Good']);
    rig.sim.setFaults({ silent: true });
    const ignored = rig.sim.stats().ignored;
    expect(names(await driver.read(points))).toEqual(['BadTimeout', 'BadTimeout', 'BadTimeout']);
    expect(rig.sim.stats().ignored - ignored).toBe(1);
    // during the backoff: no request at all
    expect(names(await driver.read(points))).toEqual(['BadNotConnected', 'BadNotConnected', 'BadNotConnected']);
    expect(rig.sim.stats().ignored - ignored).toBe(1);
    expect(driver.health()).toMatchObject({ errorsByKind: { timeout: 1 }, consecutiveErrors: 2 });
    rig.sim.clearFaults();
    expect((await untilGood(driver, points))?.map((r) => r.value)).toEqual([111, 112, 113]);
    expect(driver.health()).toMatchObject({ state: 'ok', consecutiveErrors: 0 });
  });

  it('a dead unit id (no answer for that unit only) times out while another unit on the same line reads Good', async () => {
    rig.sim.setFaults({ deadUnits: [2] });
    const dead = scratchDevice({ name: 'dead', timeoutMs: 200, reconnectInitialMs: 2000, reconnectMaxMs: 2000 });
    const alive = rig.device([{ name: 'wh', table: 'input', address: 2, type: 'uint64' }], { name: 'meter', unitId: 3 });
    const [dd, da] = [rig.driver(dead), rig.driver(alive)];
    const [rd, ra] = await Promise.all([dd.read(pointsOf(dead)), da.read(pointsOf(alive))]);
    expect(names(rd)).toEqual(['BadTimeout', 'BadTimeout', 'BadTimeout']);
    expect(ra[0]).toMatchObject({ value: 5_000_000_000n, quality: Quality.Good });
    expect(rig.lines.size).toBe(1);
  });

  it('a late answer (after the timeout) is discarded: the next poll gets the current value, never the stale one', async () => {
    // RTU has no transaction id: a late answer is told apart only because it arrives while no request
    // waits (the device backoff after a timeout, at least reconnectInitialMs / 2, outlasts it).
    const device = scratchDevice({ timeoutMs: 150, reconnectInitialMs: 1200, reconnectMaxMs: 1200 });
    const driver = rig.driver(device);
    const points = pointsOf(device);
    rig.sim.setFaults({ delayMs: 500 });
    expect(names(await driver.read(points))).toEqual(['BadTimeout', 'BadTimeout', 'BadTimeout']);
    rig.sim.clearFaults();
    rig.sim.unit(2).holding.set([221, 222], 1500);
    rig.sim.unit(2).input[1500] = 223;
    const seen: unknown[] = [];
    const end = performance.now() + 2500; // well past the late answer (500 ms) and the backoff
    while (performance.now() < end) {
      for (const r of await driver.read(points)) if (r.quality === Quality.Good) seen.push(r.value);
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set([221, 222, 223]));
  });

  it('a garbled answer fails its request without parsing any of it, and the line recovers', async () => {
    const device = scratchDevice();
    const driver = rig.driver(device);
    const points = pointsOf(device);
    rig.sim.setFaults({ garble: true });
    const rs = await driver.read(points);
    expect(rs.map((r) => [r.value, qualityName(r.quality)])).toEqual([[null, 'BadCommunicationError'], [null, 'BadCommunicationError'], [null, 'BadCommunicationError']]);
    expect(driver.health().errorsByKind.protocol).toBeGreaterThanOrEqual(1);
    rig.sim.clearFaults();
    expect((await untilGood(driver, points))?.map((r) => r.value)).toEqual([111, 112, 113]);
  });

  it('a short (truncated) answer is never parsed: BadTimeout, then recovery', async () => {
    const device = scratchDevice({ timeoutMs: 200 });
    const driver = rig.driver(device);
    const points = pointsOf(device);
    rig.sim.setFaults({ short: true });
    const rs = await driver.read(points);
    expect(rs.map((r) => r.value)).toEqual([null, null, null]);
    expect(names(rs)).toEqual(['BadTimeout', 'BadTimeout', 'BadTimeout']);
    rig.sim.clearFaults();
    expect((await untilGood(driver, points))?.map((r) => r.value)).toEqual([111, 112, 113]);
  });

  it(kind === 'modbus-tcp' ? 'an answer with the wrong transaction id is discarded (BadTimeout), then recovery' : 'an answer from the wrong unit id is discarded (BadTimeout), then recovery', async () => {
    const device = scratchDevice({ timeoutMs: 200 });
    const driver = rig.driver(device);
    const points = pointsOf(device);
    rig.sim.setFaults({ wrongId: true });
    const rs = await driver.read(points);
    expect(rs.map((r) => r.value)).toEqual([null, null, null]);
    expect(names(rs)).toEqual(['BadTimeout', 'BadTimeout', 'BadTimeout']);
    rig.sim.clearFaults();
    expect((await untilGood(driver, points))?.map((r) => r.value)).toEqual([111, 112, 113]);
  });

  it('several devices on the line: one request in flight at a time, every answer to its own device', async () => {
    rig.sim.setFaults({ delayMs: 150 });
    const devices = [1, 2, 3].map((unitId) => rig.device([{ name: 'bits', table: 'holding', address: 5, type: 'uint16' }, { name: 'c', table: 'coil', address: 0, type: 'bool' }], { name: `u${unitId}`, unitId, timeoutMs: 3000 }));
    rig.sim.unit(1).holding[5] = 0b011;
    rig.sim.unit(2).holding[5] = 222;
    rig.sim.unit(3).holding[5] = 333;
    const drivers = devices.map((d) => rig.driver(d));
    const t0 = performance.now();
    const all = await Promise.all(drivers.map((d, i) => d.read(pointsOf(devices[i]!))));
    // 6 requests answered 150 ms late each: sequential on the line takes >= 900 ms (in parallel it would be ~150)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(6 * 150 - 20);
    expect(all.map((rs) => rs.map((r) => r.value))).toEqual([[0b011, true], [222, false], [333, false]]);
    expect(rig.lines.size).toBe(1);
  });

  it.runIf(kind !== 'modbus-tcp')('keeps the inter-frame silence (interFrameDelayMs) between an answer and the next request', async () => {
    const tags = [
      { name: 'c', table: 'coil', address: 0, type: 'bool' },
      { name: 'd', table: 'discrete', address: 0, type: 'bool' },
      { name: 'h', table: 'holding', address: 0, type: 'uint16' },
      { name: 'h2', table: 'holding', address: 500, type: 'uint16' },
      { name: 'i', table: 'input', address: 0, type: 'uint16' },
    ];
    const read = async (interFrameDelayMs: number): Promise<number> => {
      const device = rig.device(tags, { unitId: 2, interFrameDelayMs, name: `ifd${interFrameDelayMs}` });
      const driver = rig.driver(device);
      await driver.read(pointsOf(device)); // the line's last answer is now fresh
      const t0 = performance.now();
      const rs = await driver.read(pointsOf(device));
      expect(rs.every((r) => r.quality === Quality.Good)).toBe(true);
      await driver.close();
      return performance.now() - t0;
    };
    // five requests, each sent at least 60 ms after the previous answer
    expect(await read(60)).toBeGreaterThanOrEqual(5 * 60 - 10);
  });

  it.runIf(kind === 'modbus-rtu')('a serial port that vanishes (adapter unplugged) reads Bad, and is reopened when it is back', async () => {
    const device = scratchDevice({ timeoutMs: 300, reconnectInitialMs: 100, reconnectMaxMs: 200 });
    const driver = rig.driver(device);
    const points = pointsOf(device);
    expect(names(await driver.read(points))).toEqual(['Good', 'Good', 'Good']);
    await rig.unplug();
    let bad = 0;
    for (let i = 0; i < 5; i++) {
      const rs = await driver.read(points);
      if (rs.every((r) => r.value === null && r.quality !== Quality.Good)) bad++;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(bad).toBe(5);
    expect(driver.health().state).toBe('down');
    await rig.plugIn();
    expect((await untilGood(driver, points))?.map((r) => r.value)).toEqual([111, 112, 113]);
    expect(driver.health().state).toBe('ok');
  }, 30_000);

  it.skipIf(kind === 'modbus-rtu')('a connection dropped mid-answer fails the request at once and reconnects with backoff', async () => {
    const device = scratchDevice({ timeoutMs: 3000 });
    const driver = rig.driver(device);
    const points = pointsOf(device);
    expect(names(await driver.read(points))).toEqual(['Good', 'Good', 'Good']);
    const connections = rig.sim.stats().connections;
    rig.sim.setFaults({ dropConnection: true });
    const t0 = performance.now();
    const rs = await driver.read(points);
    expect(performance.now() - t0).toBeLessThan(2500); // the close, not the 3000 ms timeout
    expect(rs.map((r) => [r.value, qualityName(r.quality)])).toEqual([[null, 'BadCommunicationError'], [null, 'BadCommunicationError'], [null, 'BadCommunicationError']]);
    expect(driver.health().errorsByKind.connection).toBe(1);
    rig.sim.clearFaults();
    expect((await untilGood(driver, points))?.map((r) => r.value)).toEqual([111, 112, 113]);
    expect(rig.sim.stats().connections - connections).toBe(1);
  });
});
