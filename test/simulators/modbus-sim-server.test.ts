import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import modbusSerial from 'modbus-serial';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { encodeFrame } from '../../simulators/modbus/mbap.js';
import { CoalMineProfile, coalMineValues, METHANE_SPIKE_COIL, METHANE_SPIKE_PCT } from '../../simulators/modbus/profiles/coal-mine.js';
import { setMethaneSpike } from '../../simulators/modbus/methane-spike.js';
import { runModbusSim } from '../../simulators/modbus/cli.js';
import { silentLogger } from '../../core/logger.js';
import { UsageError } from '../../core/errors.js';

const servers: ModbusSimServer[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function startSim(opts: Partial<ConstructorParameters<typeof ModbusSimServer>[0]> = {}): Promise<{ sim: ModbusSimServer; port: number }> {
  const sim = new ModbusSimServer({ port: 0, profile: 'coal-mine', tickMs: 0, ...opts });
  servers.push(sim);
  return { sim, port: await sim.start() };
}

/** Opens a raw socket and collects response bytes. */
async function rawClient(port: number): Promise<{ socket: Socket; received: () => Buffer; waitFor: (bytes: number) => Promise<Buffer> }> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  await new Promise((resolve) => socket.once('connect', resolve));
  let buf = Buffer.alloc(0);
  const waiters: (() => void)[] = [];
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    waiters.splice(0).forEach((w) => w());
  });
  const waitFor = async (bytes: number): Promise<Buffer> => {
    while (buf.length < bytes) await new Promise<void>((r) => waiters.push(r));
    return buf;
  };
  return { socket, received: () => buf, waitFor };
}

describe('ModbusSimServer over TCP', () => {
  it('answers pipelined and fragmented frames in order, per unit', async () => {
    const { port } = await startSim();
    const c = await rawClient(port);
    const req = (tid: number, unitId: number, start: number, count: number) => encodeFrame(tid, unitId, Buffer.from([3, start >> 8, start & 0xff, 0, count]));
    const all = Buffer.concat([req(1, 1, 200, 1), req(2, 1, 202, 2), req(3, 9, 0, 1)]);
    c.socket.write(all.subarray(0, 5));
    c.socket.write(all.subarray(5, 20));
    c.socket.write(all.subarray(20));
    const got = await c.waitFor(11 + 13 + 9);
    expect(got.toString('hex')).toBe(['0001000000050103' + '02fb2e', '000200000007010304' + '40600000', '00030000000309830b'].join(''));
  });

  it('drops a connection that sends garbage', async () => {
    const { sim, port } = await startSim();
    const c = await rawClient(port);
    const closed = new Promise((r) => c.socket.once('close', r));
    c.socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await closed;
    expect(sim.stats().frameErrors).toBe(1);
  });

  it('serves 1000 sequential requests from a modbus-serial client, and 1000 pipelined ones', async () => {
    const { sim, port } = await startSim();
    const client = new modbusSerial.default();
    client.setTimeout(1000);
    await client.connectTCP('127.0.0.1', { port });
    client.setID(1);
    for (let i = 0; i < 1000; i++) await client.readHoldingRegisters(200, 2);
    expect((await client.readHoldingRegisters(200, 1)).data).toEqual([0xfb2e]);
    await new Promise<void>((r) => client.close(() => r()));
    expect(sim.stats().requests).toBe(1001);

    const c = await rawClient(port);
    const frames = Array.from({ length: 1000 }, (_, i) => encodeFrame(i, 1, Buffer.from([4, 0, 200, 0, 1])));
    c.socket.write(Buffer.concat(frames));
    const got = await c.waitFor(1000 * 11);
    expect(got.length).toBe(11000);
    expect(got.readUInt16BE(999 * 11)).toBe(999);
    expect(sim.stats()).toMatchObject({ requests: 2001, exceptions: 0 });
  });

  it('increments the sample counter once per read request that covers it', async () => {
    const { sim, port } = await startSim();
    const client = new modbusSerial.default();
    client.setTimeout(1000);
    await client.connectTCP('127.0.0.1', { port });
    client.setID(1);
    const counter = () => sim.unit(1).getNumber('holding', 100, 'uint32');
    expect(counter()).toBe(0);
    expect((await client.readHoldingRegisters(100, 2)).data).toEqual([0, 1]);
    expect((await client.readHoldingRegisters(95, 10)).data.slice(5, 7)).toEqual([0, 2]);
    await client.readHoldingRegisters(101, 1);
    await client.readHoldingRegisters(102, 10); // does not cover it
    await client.readInputRegisters(100, 2); // other table
    expect(counter()).toBe(3);
    await client.writeRegisters(100, [0xffff, 0xffff]);
    expect((await client.readHoldingRegisters(100, 2)).data).toEqual([0, 0]); // wraps
    client.setID(2);
    await client.readHoldingRegisters(0, 10);
    expect(counter()).toBe(0);
    await new Promise<void>((r) => client.close(() => r()));
  });

  it('restarts on the same port with its registers kept, and answers late or not at all on request', async () => {
    const { sim, port } = await startSim();
    sim.unit(1).holding[500] = 42;
    await sim.stop();
    expect(sim.listening).toBe(false);
    expect(await sim.start()).toBe(port);
    const c = await rawClient(port);
    sim.setFaults({ delayMs: 80 });
    const t0 = performance.now();
    c.socket.write(encodeFrame(5, 1, Buffer.from([3, 0x01, 0xf4, 0, 1])));
    expect((await c.waitFor(11)).readUInt16BE(9)).toBe(42);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(70);
    sim.setFaults({ delayMs: 0, silent: true });
    c.socket.write(encodeFrame(6, 1, Buffer.from([3, 0, 0, 0, 1])));
    await new Promise((r) => setTimeout(r, 50));
    expect(c.received().length).toBe(11);
    expect(sim.stats()).toMatchObject({ ignored: 1, openConnections: 1 });
  });
});

describe('coal-mine profile', () => {
  it('is a pure function of seed and tick, with plausible values', () => {
    expect(coalMineValues(1234, { seed: 3 })).toEqual(coalMineValues(1234, { seed: 3 }));
    expect(coalMineValues(1234, { seed: 3 })).not.toEqual(coalMineValues(1234, { seed: 4 }));
    const range: Record<string, [number, number]> = {};
    const see = (k: string, x: number) => {
      const r = (range[k] ??= [Infinity, -Infinity]);
      r[0] = Math.min(r[0], x);
      r[1] = Math.max(r[1], x);
    };
    let pumping = 0;
    let alarms = 0;
    for (let t = 0; t < 40_000; t += 7) {
      const v = coalMineValues(t);
      see('methanePct', v.methanePct);
      see('coPpm', v.coPpm);
      see('windSpeedMs', v.windSpeedMs);
      see('sumpLevelM', v.sumpLevelM);
      see('temperatureC', v.temperatureC);
      if (v.methaneAlarm || v.powerCut) alarms++;
      if (v.pump1Running) pumping++;
    }
    const within = (k: string, lo: number, hi: number) => {
      expect(range[k]![0], `${k} min`).toBeGreaterThanOrEqual(lo);
      expect(range[k]![1], `${k} max`).toBeLessThanOrEqual(hi);
    };
    within('methanePct', 0.2, 0.6);
    within('coPpm', 0, 24);
    within('windSpeedMs', 1, 4);
    within('sumpLevelM', 1.1, 3.3);
    within('temperatureC', 18, 26);
    expect(range.methanePct![1] - range.methanePct![0]).toBeGreaterThan(0.2); // it does move
    expect(alarms).toBe(0);
    expect(pumping / (40_000 / 7)).toBeCloseTo(1 / 3, 1);
  });

  it('moves smoothly from tick to tick', () => {
    for (let t = 0; t < 5000; t++) {
      const a = coalMineValues(t);
      const b = coalMineValues(t + 1);
      expect(Math.abs(a.methanePct - b.methanePct)).toBeLessThan(0.01);
      expect(Math.abs(a.windSpeedMs - b.windSpeedMs)).toBeLessThan(0.05);
    }
  });

  it('writes the values of each tick into the registers, and spikes methane on request', async () => {
    const profile = new CoalMineProfile({ seed: 11 });
    const { sim } = await startSim({ profile });
    sim.advance(777);
    const v = coalMineValues(777, { seed: 11 });
    const u1 = sim.unit(1);
    expect(Math.fround(u1.getNumber('holding', 0, 'float32', 'CDAB'))).toBe(Math.fround(v.methanePct));
    expect(u1.holding[2]).toBe(v.coPpm);
    expect(u1.getNumber('holding', 3, 'int16')).toBe(Math.round(v.temperatureC * 10));
    expect(sim.unit(3).getBit('coil', 0)).toBe(v.pump1Running);

    profile.methaneSpike(true);
    const spiked = u1.getNumber('holding', 0, 'float32', 'CDAB');
    expect(spiked).toBeCloseTo(v.methanePct + METHANE_SPIKE_PCT, 5);
    expect(u1.getBit('discrete', 0)).toBe(true);
    expect(u1.getBit('coil', 0)).toBe(true);
    profile.methaneSpike(false);
    expect(u1.getBit('discrete', 0)).toBe(false);

    profile.force('coPpm', 30);
    expect(u1.holding[2]).toBe(30);
    expect(u1.getBit('discrete', 1)).toBe(true);
    profile.force('coPpm', undefined);
    expect(u1.holding[2]).toBe(v.coPpm);
    expect(() => sim.unit(4)).toThrow(RangeError);
  });

  it('setMethaneSpike (the demo\'s m key, the browser test) switches the spike of a simulator in another process over Modbus TCP', async () => {
    const profile = new CoalMineProfile({ seed: 5 });
    const { sim, port } = await startSim({ profile });
    sim.advance(100);
    const u1 = sim.unit(1);
    const base = coalMineValues(100, { seed: 5 }).methanePct;
    await setMethaneSpike(port, true);
    sim.advance(0);
    expect(u1.getBit('coil', METHANE_SPIKE_COIL)).toBe(true);
    expect(u1.getNumber('holding', 0, 'float32', 'CDAB')).toBeCloseTo(base + METHANE_SPIKE_PCT, 5);
    await setMethaneSpike(port, false);
    sim.advance(0);
    expect(u1.getBit('coil', METHANE_SPIKE_COIL)).toBe(false);
    expect(u1.getNumber('holding', 0, 'float32', 'CDAB')).toBeCloseTo(base, 5);
  });
});

describe('runModbusSim (jinyun sim modbus)', () => {
  it('prints one listening line, serves, and stops when aborted', async () => {
    const lines: string[] = [];
    const ac = new AbortController();
    let server: ModbusSimServer | undefined;
    const done = runModbusSim(['--profile', 'coal-mine', '--port', '0', '--host', '127.0.0.1'], {
      stdout: { write: (l: string) => lines.push(l) },
      logger: silentLogger(),
      signal: ac.signal,
      onStarted: (s) => (server = s),
    });
    while (!server) await new Promise((r) => setTimeout(r, 5));
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toEqual({ event: 'listening', protocol: 'modbus-tcp', host: '127.0.0.1', port: expect.any(Number), profile: 'coal-mine' });
    expect(lines[0]!.endsWith('}\n')).toBe(true);
    const c = await rawClient(line.port as number);
    c.socket.write(encodeFrame(1, 1, Buffer.from([3, 0, 200, 0, 1])));
    expect((await c.waitFor(11)).readUInt16BE(9)).toBe(0xfb2e);
    ac.abort();
    await done;
    expect(server.listening).toBe(false);
  });

  it('rejects bad arguments with a usage error', async () => {
    const steel = runModbusSim(['--profile', 'steel-mill'], { logger: silentLogger() });
    await expect(steel).rejects.toBeInstanceOf(UsageError);
    await expect(steel).rejects.toThrow(/unknown profile "steel-mill"; known: coal-mine/);
    await expect(runModbusSim(['--port', '70000'], { logger: silentLogger() })).rejects.toThrow(/--port must be an integer from 0 to 65535/);
    await expect(runModbusSim(['--port=-1'], { logger: silentLogger() })).rejects.toBeInstanceOf(UsageError);
    await expect(runModbusSim(['--bogus'], { logger: silentLogger() })).rejects.toMatchObject({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
  });
});
