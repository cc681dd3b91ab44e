import type { SimNumberType, SimTable, SimWordOrder, TableSizes } from '../unit-banks.js';

/**
 * Register map of the coal-mine profile as data: the simulator writes from it, tests and the
 * driver README read it. Addresses are 0-based protocol addresses (holding 0 = 40001).
 * The table in coal-mine.ts documents the same map for people.
 */

export interface CoalMineValues {
  // unit 1: gas monitoring substation
  methanePct: number;
  coPpm: number;
  temperatureC: number;
  o2Pct: number;
  humidityPct: number;
  pressureKPa: number;
  methaneAlarm: boolean;
  coAlarm: boolean;
  powerCut: boolean;
  // unit 2: main ventilation fan
  windSpeedMs: number;
  fanCurrentA: number;
  windingTempC: number;
  fanPressurePa: number;
  fanFrequencyHz: number;
  fanRunning: boolean;
  standbyFanRunning: boolean;
  fanFault: boolean;
  // unit 3: main water pump station
  sumpLevelM: number;
  flowM3h: number;
  dischargeMPa: number;
  pumpCurrentA: number;
  pump1Running: boolean;
  pump2Running: boolean;
  pump3Running: boolean;
  highLevelAlarm: boolean;
}

export type CoalMineKey = keyof CoalMineValues;

export interface MapEntry {
  unit: number;
  table: SimTable;
  address: number;
  key: CoalMineKey;
  /** Omitted for coil/discrete (bool). */
  type?: SimNumberType;
  order?: SimWordOrder;
  /** Engineering value = register * scale. */
  scale?: number;
  engUnit: string;
  description: string;
}

export const COAL_MINE_MAP: readonly MapEntry[] = [
  { unit: 1, table: 'holding', address: 0, key: 'methanePct', type: 'float32', order: 'CDAB', engUnit: '%CH4', description: 'Methane concentration (word-swapped float)' },
  { unit: 1, table: 'holding', address: 2, key: 'coPpm', type: 'uint16', engUnit: 'ppm', description: 'Carbon monoxide' },
  { unit: 1, table: 'holding', address: 3, key: 'temperatureC', type: 'int16', scale: 0.1, engUnit: 'degC', description: 'Air temperature' },
  { unit: 1, table: 'holding', address: 4, key: 'o2Pct', type: 'uint16', scale: 0.1, engUnit: '%O2', description: 'Oxygen' },
  { unit: 1, table: 'input', address: 0, key: 'humidityPct', type: 'uint16', scale: 0.1, engUnit: '%RH', description: 'Relative humidity' },
  { unit: 1, table: 'input', address: 1, key: 'pressureKPa', type: 'uint16', scale: 0.01, engUnit: 'kPa', description: 'Barometric pressure' },
  { unit: 1, table: 'discrete', address: 0, key: 'methaneAlarm', engUnit: '', description: 'Methane alarm (>= 1.0 %)' },
  { unit: 1, table: 'discrete', address: 1, key: 'coAlarm', engUnit: '', description: 'CO alarm (>= 24 ppm)' },
  { unit: 1, table: 'coil', address: 0, key: 'powerCut', engUnit: '', description: 'Power-cut relay output (methane >= 1.5 %)' },
  { unit: 2, table: 'holding', address: 0, key: 'windSpeedMs', type: 'uint16', scale: 0.01, engUnit: 'm/s', description: 'Air velocity in the main return' },
  { unit: 2, table: 'holding', address: 1, key: 'fanCurrentA', type: 'float32', order: 'ABCD', engUnit: 'A', description: 'Fan motor current' },
  { unit: 2, table: 'holding', address: 3, key: 'windingTempC', type: 'int16', scale: 0.1, engUnit: 'degC', description: 'Motor winding temperature' },
  { unit: 2, table: 'holding', address: 4, key: 'fanPressurePa', type: 'uint16', engUnit: 'Pa', description: 'Fan negative pressure' },
  { unit: 2, table: 'holding', address: 5, key: 'fanFrequencyHz', type: 'uint16', scale: 0.1, engUnit: 'Hz', description: 'Drive frequency' },
  { unit: 2, table: 'coil', address: 0, key: 'fanRunning', engUnit: '', description: 'Main fan running' },
  { unit: 2, table: 'coil', address: 1, key: 'standbyFanRunning', engUnit: '', description: 'Standby fan running' },
  { unit: 2, table: 'discrete', address: 0, key: 'fanFault', engUnit: '', description: 'Fan fault' },
  { unit: 3, table: 'holding', address: 0, key: 'sumpLevelM', type: 'uint16', scale: 0.01, engUnit: 'm', description: 'Sump water level' },
  { unit: 3, table: 'holding', address: 1, key: 'flowM3h', type: 'uint16', scale: 0.1, engUnit: 'm3/h', description: 'Discharge flow' },
  { unit: 3, table: 'holding', address: 2, key: 'dischargeMPa', type: 'float32', order: 'ABCD', engUnit: 'MPa', description: 'Discharge pressure' },
  { unit: 3, table: 'holding', address: 4, key: 'pumpCurrentA', type: 'uint16', scale: 0.1, engUnit: 'A', description: 'Pump 1 motor current' },
  { unit: 3, table: 'coil', address: 0, key: 'pump1Running', engUnit: '', description: 'Pump 1 running' },
  { unit: 3, table: 'coil', address: 1, key: 'pump2Running', engUnit: '', description: 'Pump 2 running' },
  { unit: 3, table: 'coil', address: 2, key: 'pump3Running', engUnit: '', description: 'Pump 3 (standby) running' },
  { unit: 3, table: 'discrete', address: 0, key: 'highLevelAlarm', engUnit: '', description: 'Sump high level (>= 3.0 m)' },
];

/** Unit 1, holding 100-101: uint32 ABCD, +1 on every read request that covers either register. */
export const SAMPLE_COUNTER = { unit: 1, table: 'holding', address: 100, type: 'uint32', order: 'ABCD' } as const;

export interface FixedRegister {
  unit: number;
  table: SimTable;
  address: number;
  type: SimNumberType | 'bool';
  order?: SimWordOrder;
  value: number | boolean;
  /** The raw register words as they sit in the bank (for documentation and decode tests). */
  words?: readonly number[];
}

/** Constant registers of unit 1 with known values, for exact end-to-end assertions. */
export const COAL_MINE_FIXED: readonly FixedRegister[] = [
  { unit: 1, table: 'holding', address: 200, type: 'int16', value: -1234, words: [0xfb2e] },
  { unit: 1, table: 'holding', address: 201, type: 'uint16', value: 54321, words: [0xd431] },
  { unit: 1, table: 'holding', address: 202, type: 'float32', order: 'ABCD', value: 3.5, words: [0x4060, 0x0000] },
  { unit: 1, table: 'holding', address: 204, type: 'uint32', order: 'CDAB', value: 123456789, words: [0xcd15, 0x075b] },
  { unit: 1, table: 'holding', address: 206, type: 'int32', order: 'ABCD', value: -2, words: [0xffff, 0xfffe] },
  { unit: 1, table: 'holding', address: 208, type: 'float32', order: 'CDAB', value: 123.456, words: [0xe979, 0x42f6] },
  { unit: 1, table: 'holding', address: 210, type: 'float32', order: 'BADC', value: 123.456, words: [0xf642, 0x79e9] },
  { unit: 1, table: 'holding', address: 212, type: 'float32', order: 'DCBA', value: 123.456, words: [0x79e9, 0xf642] },
  { unit: 1, table: 'holding', address: 214, type: 'int32', order: 'CDAB', value: -123456789, words: [0x32eb, 0xf8a4] },
  { unit: 1, table: 'holding', address: 216, type: 'uint16', order: 'BADC', value: 0x1234, words: [0x3412] },
  { unit: 1, table: 'input', address: 200, type: 'uint16', value: 4321, words: [0x10e1] },
  { unit: 1, table: 'input', address: 201, type: 'float32', order: 'ABCD', value: -0.5, words: [0xbf00, 0x0000] },
  { unit: 1, table: 'discrete', address: 200, type: 'bool', value: true },
  { unit: 1, table: 'discrete', address: 201, type: 'bool', value: false },
  { unit: 1, table: 'discrete', address: 202, type: 'bool', value: true },
  { unit: 1, table: 'coil', address: 200, type: 'bool', value: true },
  { unit: 1, table: 'coil', address: 201, type: 'bool', value: false },
];

const sizes = (n: number): TableSizes => ({ coil: n, discrete: n, input: n, holding: n });

/** Mapped size per unit: unit 1 has 1000 of each table, units 2 and 3 have 100; beyond is exception 2. */
export const COAL_MINE_UNITS = [
  { id: 1, sizes: sizes(1000) },
  { id: 2, sizes: sizes(100) },
  { id: 3, sizes: sizes(100) },
] as const;
