/**
 * Steel-plant profile: a reheating furnace, a rolling-mill stand and a power meter, each behind its
 * own unit id. Values are a pure function of (seed, tick); one tick is 100 ms when the server runs
 * its own timer. Unit 1 also carries the type-test block (type-test-block.ts) at holding 1000+.
 *
 * Register map (0-based protocol addresses; holding 0 = 40001, input 0 = 30001):
 *
 * | unit | table    | addr  | type    | order | scale | value                                            |
 * |------|----------|-------|---------|-------|-------|--------------------------------------------------|
 * | 1    | holding  | 0-1   | float32 | ABCD  |       | zone 1 temperature degC (1220-1280)              |
 * | 1    | holding  | 2-3   | float32 | CDAB  |       | zone 2 temperature degC (1150-1210)              |
 * | 1    | holding  | 4     | int16   |       | 0.1   | cooling water outlet degC (35-45)                |
 * | 1    | holding  | 5     | uint16  |       |       | status bits: 0 burner on, 1 flame ok, 2 alarm    |
 * | 1    | coil     | 0     | bool    |       |       | burner enable (true)                             |
 * | 1    | holding  | 1000+ | all     | all   |       | type-test block (fixed)                          |
 * | 2    | holding  | 0-1   | float32 | CDAB  |       | main motor current A (1600-2000)                 |
 * | 2    | holding  | 2     | uint16  |       | 0.01  | vibration velocity mm/s (1.5-4.5)                |
 * | 2    | holding  | 3     | int16   |       |       | roll speed rpm (-20..+180, reversing)            |
 * | 2    | input    | 0-1   | float32 | DCBA  |       | bearing temperature degC (55-70)                 |
 * | 2    | discrete | 0     | bool    |       |       | vibration alarm (vibration >= 4.0)               |
 * | 3    | input    | 0-1   | uint32  | CDAB  |       | active energy kWh (= Wh / 1000, floored)         |
 * | 3    | input    | 2-5   | uint64  | ABCD  |       | active energy Wh (5e9 + 120 per tick)            |
 * | 3    | input    | 6-9   | int64   | DCBA  |       | reactive energy varh (-2e12 + 7 per tick)        |
 * | 3    | input    | 10-11 | float32 | ABCD  |       | active power kW (400-460)                        |
 * | 3    | input    | 12-15 | float64 | BADC  |       | active energy kWh as float64 (Wh / 1000)         |
 *
 * Every unit maps 2000 entries of each table; other unit ids answer exception 11.
 */
import type { SimProfile, UnitSpec } from '../profile.js';
import type { UnitBanks } from '../unit-banks.js';
import { clamp, quantize, smoothNoise, wave } from './noise.js';
import { writeTypeTestBlock } from './type-test-block.js';

export interface SteelPlantValues {
  zone1C: number;
  zone2C: number;
  coolingC: number;
  statusBits: number;
  burnerEnable: boolean;
  motorCurrentA: number;
  vibrationMmS: number;
  rollRpm: number;
  bearingC: number;
  vibrationAlarm: boolean;
  energyKWh: number;
  energyWh: bigint;
  reactiveVarh: bigint;
  powerKW: number;
  energyKWhF64: number;
}

/** Values of tick t, quantized to what the registers hold. Pure. */
export function steelPlantValues(tick: number, seed = 1): SteelPlantValues {
  const n = (ch: number, scale: number): number => smoothNoise(seed, ch, tick / scale);
  const vibration = quantize(clamp(3 + 1.2 * wave(tick, 4000) + 0.3 * n(3, 20), 1.5, 4.5), 2);
  const wh = 5_000_000_000n + BigInt(tick) * 120n;
  return {
    zone1C: quantize(1250 + 25 * wave(tick, 9000) + 3 * n(1, 30), 1),
    zone2C: quantize(1180 + 25 * wave(tick, 9000, 1) + 3 * n(2, 30), 1),
    coolingC: quantize(40 + 4 * wave(tick, 12_000) + 0.5 * n(4, 40), 1),
    statusBits: 0b011,
    burnerEnable: true,
    motorCurrentA: quantize(1800 + 180 * wave(tick, 600) + 10 * n(5, 10), 1),
    vibrationMmS: vibration,
    rollRpm: Math.round(80 + 100 * wave(tick, 600)),
    bearingC: quantize(62 + 6 * wave(tick, 30_000) + 0.5 * n(6, 50), 1),
    vibrationAlarm: vibration >= 4,
    energyKWh: Number(wh / 1000n),
    energyWh: wh,
    reactiveVarh: -2_000_000_000_000n + BigInt(tick) * 7n,
    powerKW: quantize(430 + 25 * wave(tick, 3000) + 3 * n(7, 20), 1),
    energyKWhF64: Number(wh) / 1000,
  };
}

const SIZES = { coil: 2000, discrete: 2000, input: 2000, holding: 2000 };
export const STEEL_PLANT_UNITS: readonly UnitSpec[] = [1, 2, 3].map((id) => ({ id, sizes: SIZES }));

export class SteelPlantProfile implements SimProfile {
  readonly name = 'steel-plant';
  readonly units = STEEL_PLANT_UNITS;
  readonly tickMs = 100;
  readonly seed: number;
  private banks: ReadonlyMap<number, UnitBanks> = new Map();

  constructor(opts: { seed?: number } = {}) {
    this.seed = opts.seed ?? 1;
  }

  init(units: ReadonlyMap<number, UnitBanks>): void {
    this.banks = units;
    const u1 = units.get(1);
    if (u1) writeTypeTestBlock(u1);
    this.update(0);
  }

  update(tick: number): void {
    const v = steelPlantValues(tick, this.seed);
    const [u1, u2, u3] = [this.banks.get(1), this.banks.get(2), this.banks.get(3)];
    if (u1) {
      u1.setNumber('holding', 0, 'float32', v.zone1C, 'ABCD');
      u1.setNumber('holding', 2, 'float32', v.zone2C, 'CDAB');
      u1.setNumber('holding', 4, 'int16', Math.round(v.coolingC * 10));
      u1.holding[5] = v.statusBits;
      u1.setBit('coil', 0, v.burnerEnable);
    }
    if (u2) {
      u2.setNumber('holding', 0, 'float32', v.motorCurrentA, 'CDAB');
      u2.setNumber('holding', 2, 'uint16', Math.round(v.vibrationMmS * 100));
      u2.setNumber('holding', 3, 'int16', v.rollRpm);
      u2.setNumber('input', 0, 'float32', v.bearingC, 'DCBA');
      u2.setBit('discrete', 0, v.vibrationAlarm);
    }
    if (u3) {
      u3.setNumber('input', 0, 'uint32', v.energyKWh, 'CDAB');
      u3.setWide('input', 2, 'uint64', v.energyWh, 'ABCD');
      u3.setWide('input', 6, 'int64', v.reactiveVarh, 'DCBA');
      u3.setNumber('input', 10, 'float32', v.powerKW, 'ABCD');
      u3.setWide('input', 12, 'float64', v.energyKWhF64, 'BADC');
    }
  }
}
