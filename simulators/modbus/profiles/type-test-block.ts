import type { SimWordOrder, UnitBanks } from '../unit-banks.js';

/**
 * Fixed registers holding every data type in every byte/word order, written by the simulator's
 * own encoders (unit-banks.ts), independent of the driver's decoders: tests read them through the
 * driver and compare exactly. Holding registers from TYPE_TEST_BASE upwards, laid out in this order.
 */
export type TypeTestType = 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'int64' | 'uint64' | 'float64' | 'string' | 'bit';

export interface TypeTestEntry {
  type: TypeTestType;
  order: SimWordOrder;
  address: number;
  /** Registers it occupies. */
  width: number;
  value: number | bigint | string | boolean;
  /** string: registers; bit: bit number. */
  length?: number;
  bit?: number;
}

export const TYPE_TEST_BASE = 1000;
const ORDERS: readonly SimWordOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];

const SAMPLES: { type: TypeTestType; width: number; value: number | bigint | string; length?: number }[] = [
  { type: 'int16', width: 1, value: -1234 },
  { type: 'uint16', width: 1, value: 54321 },
  { type: 'int32', width: 2, value: -123456789 },
  { type: 'uint32', width: 2, value: 3_000_000_000 },
  { type: 'float32', width: 2, value: 123.456 },
  { type: 'int64', width: 4, value: -1234567890123456789n },
  { type: 'uint64', width: 4, value: 18_000_000_000_000_000_000n },
  { type: 'float64', width: 4, value: -9876.54321 },
  { type: 'string', width: 5, value: 'FURNACE-7', length: 5 },
];

function layout(): TypeTestEntry[] {
  const out: TypeTestEntry[] = [];
  let address = TYPE_TEST_BASE;
  for (const s of SAMPLES) {
    for (const order of ORDERS) {
      out.push({ type: s.type, order, address, width: s.width, value: s.value, ...(s.length ? { length: s.length } : {}) });
      address += s.width;
    }
  }
  // 0xA5C3 in one register: bits 0, 1, 6, 7, 8, 10, 13, 15 set.
  for (const bit of [0, 1, 2, 6, 15]) out.push({ type: 'bit', order: 'ABCD', address, width: 1, value: ((0xa5c3 >> bit) & 1) === 1, bit });
  return out;
}

export const TYPE_TEST_BLOCK: readonly TypeTestEntry[] = layout();
/** The register behind the 'bit' entries. */
export const TYPE_TEST_BITS_WORD = 0xa5c3;

export function writeTypeTestBlock(unit: UnitBanks): void {
  for (const e of TYPE_TEST_BLOCK) {
    if (e.type === 'bit') unit.holding[e.address] = TYPE_TEST_BITS_WORD;
    else if (e.type === 'string') unit.setString('holding', e.address, String(e.value), e.length ?? 1, e.order);
    else if (e.type === 'int64' || e.type === 'uint64' || e.type === 'float64') unit.setWide('holding', e.address, e.type, e.value as bigint | number, e.order);
    else unit.setNumber('holding', e.address, e.type, Number(e.value), e.order);
  }
}
