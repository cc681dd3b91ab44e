/**
 * Coal-mine profile: a gas monitoring substation, the main ventilation fan and the main water pump
 * station of one mine, each behind its own Modbus unit id. Values move smoothly with noise around
 * plausible underground figures and are a pure function of (seed, tick); one tick is 100 ms when
 * the server runs its own timer.
 *
 * Register map (0-based protocol addresses; holding 0 = 40001, input 0 = 30001). Data in
 * COAL_MINE_MAP (coal-mine-map.ts); engineering value = register * scale.
 *
 * | unit | table    | addr    | type    | order | scale | value (typical)                                  |
 * |------|----------|---------|---------|-------|-------|--------------------------------------------------|
 * | 1    | holding  | 0-1     | float32 | CDAB  |       | methane %CH4 (0.2-0.6; spike: +1.6)               |
 * | 1    | holding  | 2       | uint16  |       |       | CO ppm (0-24)                                     |
 * | 1    | holding  | 3       | int16   |       | 0.1   | air temperature degC (20-24)                      |
 * | 1    | holding  | 4       | uint16  |       | 0.1   | O2 % (20.4-20.8)                                  |
 * | 1    | input    | 0       | uint16  |       | 0.1   | humidity %RH (83-93)                              |
 * | 1    | input    | 1       | uint16  |       | 0.01  | barometric pressure kPa (103.9-104.5)             |
 * | 1    | discrete | 0       | bool    |       |       | methane alarm (methane >= 1.0)                    |
 * | 1    | discrete | 1       | bool    |       |       | CO alarm (CO >= 24)                               |
 * | 1    | coil     | 0       | bool    |       |       | power-cut relay (methane >= 1.5)                  |
 * | 1    | holding  | 100-101 | uint32  | ABCD  |       | SAMPLE COUNTER: +1 per read request covering it   |
 * | 1    | holding  | 200     | int16   |       |       | fixed -1234                                       |
 * | 1    | holding  | 201     | uint16  |       |       | fixed 54321                                       |
 * | 1    | holding  | 202-203 | float32 | ABCD  |       | fixed 3.5                                         |
 * | 1    | holding  | 204-205 | uint32  | CDAB  |       | fixed 123456789                                   |
 * | 1    | holding  | 206-207 | int32   | ABCD  |       | fixed -2                                          |
 * | 1    | holding  | 208-209 | float32 | CDAB  |       | fixed 123.456                                     |
 * | 1    | holding  | 210-211 | float32 | BADC  |       | fixed 123.456                                     |
 * | 1    | holding  | 212-213 | float32 | DCBA  |       | fixed 123.456                                     |
 * | 1    | holding  | 214-215 | int32   | CDAB  |       | fixed -123456789                                  |
 * | 1    | holding  | 216     | uint16  | BADC  |       | fixed 4660 (0x1234, stored byte-swapped 0x3412)   |
 * | 1    | input    | 200     | uint16  |       |       | fixed 4321                                        |
 * | 1    | input    | 201-202 | float32 | ABCD  |       | fixed -0.5                                        |
 * | 1    | discrete | 200-202 | bool    |       |       | fixed true, false, true                           |
 * | 1    | coil     | 200-201 | bool    |       |       | true, false at start (writable)                   |
 * | 1    | coil     | 300     | bool    |       |       | methane spike fault switch (write true: +1.6 %)   |
 * | 2    | holding  | 0       | uint16  |       | 0.01  | air velocity m/s (1.6-3.4)                        |
 * | 2    | holding  | 1-2     | float32 | ABCD  |       | fan motor current A (80-90)                       |
 * | 2    | holding  | 3       | int16   |       | 0.1   | winding temperature degC (60-64)                  |
 * | 2    | holding  | 4       | uint16  |       |       | fan negative pressure Pa (1870-2130)              |
 * | 2    | holding  | 5       | uint16  |       | 0.1   | drive frequency Hz (50.0)                         |
 * | 2    | coil     | 0, 1    | bool    |       |       | main fan running (true), standby fan (false)      |
 * | 2    | discrete | 0       | bool    |       |       | fan fault (false)                                 |
 * | 3    | holding  | 0       | uint16  |       | 0.01  | sump level m (1.2-3.2, 3-minute fill/pump cycle)  |
 * | 3    | holding  | 1       | uint16  |       | 0.1   | discharge flow m3/h (0 stopped, ~280 / ~540)      |
 * | 3    | holding  | 2-3     | float32 | ABCD  |       | discharge pressure MPa (0.05 stopped, ~2.8)       |
 * | 3    | holding  | 4       | uint16  |       | 0.1   | pump 1 motor current A (0 or ~118)                |
 * | 3    | coil     | 0, 1, 2 | bool    |       |       | pump 1, pump 2, pump 3 (standby) running          |
 * | 3    | discrete | 0       | bool    |       |       | sump high level alarm (level >= 3.0)              |
 *
 * Unit 1 maps 1000 entries of each table, units 2 and 3 map 100: reading beyond answers
 * exception 2. Any other unit id answers exception 11 (gateway target failed to respond).
 */
import type { SimProfile } from '../profile.js';
import type { ReadHook } from '../pdu.js';
import type { UnitBanks } from '../unit-banks.js';
import { COAL_MINE_FIXED, COAL_MINE_MAP, COAL_MINE_UNITS, SAMPLE_COUNTER, type CoalMineKey, type CoalMineValues } from './coal-mine-map.js';
import { clamp, quantize, smoothNoise, wave } from './noise.js';

export * from './coal-mine-map.js';

/** Length of the sump fill/pump cycle in ticks (3 minutes at 100 ms), of which the last third pumps. */
const PUMP_CYCLE = 1800;
const PUMP_START = 1200;
const PUMP2_TICKS = 200;
/** Added to methane while methaneSpike(true). */
export const METHANE_SPIKE_PCT = 1.6;
/** Coil of unit 1 that switches the methane spike on while true: the fault switch of a simulator running in another process (demo, browser test). */
export const METHANE_SPIKE_COIL = 300;

export interface CoalMineOptions {
  seed?: number;
  /** Values forced by a test (replace the computed ones; alarms follow unless forced too). */
  forced?: Partial<CoalMineValues>;
  methaneSpike?: boolean;
}

/** The engineering values of tick t, quantized to what the registers can hold. Pure. */
export function coalMineValues(tick: number, opts: CoalMineOptions = {}): CoalMineValues {
  const seed = opts.seed ?? 1;
  const t = tick;
  const n = (channel: number, scale: number): number => smoothNoise(seed, channel, t / scale);
  const phase = ((t % PUMP_CYCLE) + PUMP_CYCLE) % PUMP_CYCLE;
  const pumping = phase >= PUMP_START;
  const pump2 = pumping && phase < PUMP_START + PUMP2_TICKS;
  const level = pumping ? 3.2 - (2.0 * (phase - PUMP_START)) / (PUMP_CYCLE - PUMP_START) : 1.2 + (2.0 * phase) / PUMP_START;

  const base = {
    methanePct: quantize(clamp(0.4 + 0.14 * wave(t, 3000) + 0.05 * n(1, 30), 0.2, 0.6) + (opts.methaneSpike ? METHANE_SPIKE_PCT : 0), 3),
    coPpm: Math.round(clamp(8 + 6 * wave(t, 4500, 1) + 3 * n(2, 40), 0, 24)),
    temperatureC: quantize(22 + 2 * wave(t, 36_000) + 0.3 * n(3, 50), 1),
    o2Pct: quantize(20.6 + 0.15 * wave(t, 12_000, 3) + 0.05 * n(4, 60), 1),
    humidityPct: quantize(88 + 4 * wave(t, 24_000) + 0.5 * n(5, 50), 1),
    pressureKPa: quantize(104.2 + 0.25 * wave(t, 30_000) + 0.02 * n(6, 80), 2),
    windSpeedMs: quantize(2.5 + 0.8 * wave(t, 6000) + 0.08 * n(7, 20), 2),
    fanCurrentA: quantize(85 + 4 * wave(t, 9000, 1) + 0.6 * n(8, 20), 2),
    windingTempC: quantize(62 + 1.8 * wave(t, 36_000, 2) + 0.2 * n(9, 50), 1),
    fanPressurePa: Math.round(2000 + 120 * wave(t, 6000) + 10 * n(10, 20)),
    fanFrequencyHz: 50,
    fanRunning: true,
    standbyFanRunning: false,
    fanFault: false,
    sumpLevelM: quantize(clamp(level + 0.005 * n(11, 10), 0, 5), 2),
    flowM3h: pumping ? quantize(280 + 3 * n(12, 10) + (pump2 ? 260 : 0), 1) : 0,
    dischargeMPa: pumping ? quantize(2.8 + 0.05 * n(13, 10) + (pump2 ? 0.15 : 0), 3) : 0.05,
    pumpCurrentA: pumping ? quantize(118 + n(14, 10), 1) : 0,
    pump1Running: pumping,
    pump2Running: pump2,
    pump3Running: false,
  };
  const v = { ...base, ...opts.forced };
  return {
    ...v,
    methaneAlarm: opts.forced?.methaneAlarm ?? v.methanePct >= 1.0,
    coAlarm: opts.forced?.coAlarm ?? v.coPpm >= 24,
    powerCut: opts.forced?.powerCut ?? v.methanePct >= 1.5,
    highLevelAlarm: opts.forced?.highLevelAlarm ?? v.sumpLevelM >= 3.0,
  };
}

/** Writes the values into the banks following COAL_MINE_MAP. */
export function writeCoalMineValues(units: ReadonlyMap<number, UnitBanks>, values: CoalMineValues): void {
  for (const e of COAL_MINE_MAP) {
    const unit = units.get(e.unit);
    if (!unit) continue;
    const v = values[e.key];
    if (e.table === 'coil' || e.table === 'discrete') unit.setBit(e.table, e.address, v === true);
    else unit.setNumber(e.table, e.address, e.type ?? 'uint16', e.type === 'float32' ? Number(v) : Math.round(Number(v) / (e.scale ?? 1)), e.order);
  }
}

const countsSample: ReadHook = (unit, table, start, count) => {
  const c = SAMPLE_COUNTER;
  if (unit.id !== c.unit || table !== c.table || start > c.address + 1 || start + count <= c.address) return;
  unit.setNumber('holding', c.address, 'uint32', (unit.getNumber('holding', c.address, 'uint32') + 1) >>> 0);
};

export class CoalMineProfile implements SimProfile {
  readonly name = 'coal-mine';
  readonly units = COAL_MINE_UNITS;
  readonly tickMs = 100;
  readonly seed: number;
  readonly onRead = countsSample;
  private banks: ReadonlyMap<number, UnitBanks> = new Map();
  private forced: Partial<CoalMineValues> = {};
  private spike = false;
  private lastTick = 0;

  constructor(opts: { seed?: number } = {}) {
    this.seed = opts.seed ?? 1;
  }

  init(units: ReadonlyMap<number, UnitBanks>): void {
    this.banks = units;
    for (const f of COAL_MINE_FIXED) {
      const unit = units.get(f.unit);
      if (!unit) continue;
      if (f.table === 'coil' || f.table === 'discrete') unit.setBit(f.table, f.address, f.value === true);
      else if (f.type !== 'bool') unit.setNumber(f.table, f.address, f.type, Number(f.value), f.order);
    }
    this.update(0);
  }

  update(tick: number): void {
    this.lastTick = tick;
    writeCoalMineValues(this.banks, this.values(tick));
  }

  /** The values the registers hold at tick (with the current spike and forced values). */
  values(tick = this.lastTick): CoalMineValues {
    const switched = this.banks.get(1)?.getBit('coil', METHANE_SPIKE_COIL) ?? false;
    return coalMineValues(tick, { seed: this.seed, forced: this.forced, methaneSpike: this.spike || switched });
  }

  /** Raises methane by METHANE_SPIKE_PCT (alarm and power cut follow); takes effect at once. */
  methaneSpike(on: boolean): void {
    this.spike = on;
    this.update(this.lastTick);
  }

  /** Forces one value (undefined releases it); takes effect at once. */
  force<K extends CoalMineKey>(key: K, value: CoalMineValues[K] | undefined): void {
    if (value === undefined) delete this.forced[key];
    else this.forced[key] = value;
    this.update(this.lastTick);
  }
}
