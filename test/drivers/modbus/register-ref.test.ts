import { describe, expect, it } from 'vitest';
import { modbusTagSchema } from '../../../drivers/modbus/config.js';
import { formatRegisterRef, parseRegisterRef } from '../../../drivers/modbus/register-ref.js';

describe('parseRegisterRef (1-based Modicon notation)', () => {
  it('maps 5- and 6-digit references to table and 0-based address', () => {
    const cases: [number | string, string, number][] = [
      [1, 'coil', 0], [9999, 'coil', 9998], ['00001', 'coil', 0], ['000001', 'coil', 0], ['065536', 'coil', 65535],
      [10001, 'discrete', 0], [19999, 'discrete', 9998], [100001, 'discrete', 0], [165536, 'discrete', 65535],
      [30001, 'input', 0], [39999, 'input', 9998], [300001, 'input', 0], ['365536', 'input', 65535],
      [40001, 'holding', 0], [40108, 'holding', 107], [400108, 'holding', 107], [49999, 'holding', 9998], [465536, 'holding', 65535],
    ];
    for (const [ref, table, address] of cases) expect(parseRegisterRef(ref), String(ref)).toEqual({ table, address });
  });

  it('refuses what is neither notation, with the reason', () => {
    expect(parseRegisterRef(0)).toBe('register 0 is not a Modicon reference such as 40001');
    expect(parseRegisterRef(50000)).toBe('register 50000: 5-digit references end at 49999 and 6-digit ones start at 100001');
    expect(parseRegisterRef(99999)).toBe('register 99999: 5-digit references end at 49999 and 6-digit ones start at 100001');
    expect(parseRegisterRef(20001)).toBe('register 20001: the first digit must be 0 (coil), 1 (discrete input), 3 (input register) or 4 (holding register)');
    expect(parseRegisterRef(40000)).toBe('register 40000: the number after the table digit must be 1-9999');
    expect(parseRegisterRef(465537)).toBe('register 465537: the number after the table digit must be 1-65536');
    expect(parseRegisterRef('4x0001')).toBe('register "4x0001" must be 5 or 6 digits, e.g. 40001 or 400001');
    expect(parseRegisterRef(1.5)).toBe('register 1.5 is not a Modicon reference such as 40001');
  });

  it('formats the 6-digit reference of an address, and round-trips', () => {
    expect(formatRegisterRef('holding', 0)).toBe('400001');
    expect(formatRegisterRef('coil', 65535)).toBe('065536');
    for (const table of ['coil', 'discrete', 'input', 'holding'] as const) {
      for (const address of [0, 1, 9998, 9999, 65535]) expect(parseRegisterRef(formatRegisterRef(table, address))).toEqual({ table, address });
    }
  });

  it('a tag takes register or table + address, not both, and becomes table + address', () => {
    expect(modbusTagSchema.parse({ name: 't', register: 40003, type: 'float32' })).toMatchObject({ table: 'holding', address: 2 });
    expect(modbusTagSchema.parse({ name: 't', register: '000017', type: 'bool' })).toMatchObject({ table: 'coil', address: 16 });
    const both = modbusTagSchema.safeParse({ name: 't', register: 40001, table: 'holding', address: 0, type: 'uint16' });
    expect(both.error?.issues.map((i) => i.message)).toEqual(['give either register (e.g. 40001) or table + address, not both']);
    const neither = modbusTagSchema.safeParse({ name: 't', type: 'uint16' });
    expect(neither.error?.issues.map((i) => i.message)).toEqual(['table is required (or give register, e.g. 40001)', 'address is required (or give register, e.g. 40001)']);
    const wide = modbusTagSchema.safeParse({ name: 't', register: 465536, type: 'float32' });
    expect(wide.error?.issues.map((i) => i.message)).toEqual(['a float32 needs 2 registers: address must be at most 65534 (got 65535)']);
  });
});
