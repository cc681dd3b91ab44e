import { describe, expect, it } from 'vitest';
import { decimalsOf, decodeRegisters, makeScaler, shortestFloat32 } from '../../../drivers/modbus/decode.js';
import { DecodeError } from '../../../core/errors.js';

// 123.456 as float32 is 0x42F6E979: A=42 B=F6 C=E9 D=79.
const F123 = { ABCD: [0x42f6, 0xe979], CDAB: [0xe979, 0x42f6], BADC: [0xf642, 0x79e9], DCBA: [0x79e9, 0xf642] } as const;

describe('decodeRegisters', () => {
  it('decodes float32 123.456 in all four orders', () => {
    for (const [order, words] of Object.entries(F123)) {
      expect(decodeRegisters(words, 0, 'float32', order as keyof typeof F123), order).toBe(123.456);
    }
  });

  it('keeps the exact float32 bits (shortest decimal round-trips)', () => {
    const v = decodeRegisters([0x42f6, 0xe979], 0, 'float32', 'ABCD');
    expect(Math.fround(Number(v))).toBe(Math.fround(123.456));
    expect(decodeRegisters([0x4060, 0x0000], 0, 'float32')).toBe(3.5);
    expect(decodeRegisters([0xbf00, 0x0000], 0, 'float32')).toBe(-0.5);
    expect(decodeRegisters([0x3dcc, 0xcccd], 0, 'float32')).toBe(0.1);
    expect(decodeRegisters([0x0000, 0x0000], 0, 'float32')).toBe(0);
  });

  it('passes NaN and infinities through', () => {
    expect(decodeRegisters([0x7fc0, 0x0000], 0, 'float32')).toBeNaN();
    expect(decodeRegisters([0x7f80, 0x0000], 0, 'float32')).toBe(Number.POSITIVE_INFINITY);
    expect(decodeRegisters([0xff80, 0x0000], 0, 'float32')).toBe(Number.NEGATIVE_INFINITY);
  });

  it('decodes int32 and uint32 in all orders', () => {
    // -2 = 0xFFFFFFFE
    expect(decodeRegisters([0xffff, 0xfffe], 0, 'int32', 'ABCD')).toBe(-2);
    expect(decodeRegisters([0xfffe, 0xffff], 0, 'int32', 'CDAB')).toBe(-2);
    expect(decodeRegisters([0xffff, 0xfeff], 0, 'int32', 'BADC')).toBe(-2);
    expect(decodeRegisters([0xfeff, 0xffff], 0, 'int32', 'DCBA')).toBe(-2);
    // 123456789 = 0x075BCD15
    expect(decodeRegisters([0x075b, 0xcd15], 0, 'uint32', 'ABCD')).toBe(123456789);
    expect(decodeRegisters([0xcd15, 0x075b], 0, 'uint32', 'CDAB')).toBe(123456789);
    expect(decodeRegisters([0x5b07, 0x15cd], 0, 'uint32', 'BADC')).toBe(123456789);
    expect(decodeRegisters([0x15cd, 0x5b07], 0, 'uint32', 'DCBA')).toBe(123456789);
    expect(decodeRegisters([0xffff, 0xffff], 0, 'uint32')).toBe(4294967295);
    expect(decodeRegisters([0x8000, 0x0000], 0, 'int32')).toBe(-2147483648);
    expect(decodeRegisters([0x32eb, 0xf8a4], 0, 'int32', 'CDAB')).toBe(-123456789);
  });

  it('decodes 64-bit integers and float64 exactly at their extremes, in all four 8-byte orders', () => {
    // Registers as a device holding the value big-endian (ABCD = words 0..3, bytes high-first) sends them in each order.
    const inOrder = (words: number[], order: 'ABCD' | 'CDAB' | 'BADC' | 'DCBA'): number[] => {
      const w = order === 'CDAB' || order === 'DCBA' ? [...words].reverse() : words;
      return order === 'BADC' || order === 'DCBA' ? w.map((x) => ((x & 0xff) << 8) | (x >>> 8)) : w;
    };
    const cases: [number[], 'int64' | 'uint64' | 'float64', bigint | number][] = [
      [[0xffff, 0xffff, 0xffff, 0xffff], 'uint64', 18446744073709551615n],
      [[0x7fff, 0xffff, 0xffff, 0xffff], 'int64', 9223372036854775807n],
      [[0x8000, 0x0000, 0x0000, 0x0000], 'int64', -9223372036854775808n],
      [[0xffff, 0xffff, 0xffff, 0xfffe], 'int64', -2n],
      [[0x0000, 0x0000, 0x0001, 0x0203], 'uint64', 66051n],
      [[0x7fef, 0xffff, 0xffff, 0xffff], 'float64', Number.MAX_VALUE],
      [[0x0000, 0x0000, 0x0000, 0x0001], 'float64', 5e-324],
      [[0xc05e, 0xdd2f, 0x1a9f, 0xbe77], 'float64', -123.456],
      [[0xfff0, 0x0000, 0x0000, 0x0000], 'float64', -Infinity],
    ];
    for (const [words, type, want] of cases) {
      for (const order of ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const) expect([type, order, decodeRegisters(inOrder(words, order), 0, type, order)]).toEqual([type, order, want]);
    }
    expect(decodeRegisters([0x7ff8, 0, 0, 0], 0, 'float64')).toBeNaN();
  });

  it('decodes 16-bit types, byte-swapped for BADC and DCBA', () => {
    expect(decodeRegisters([0xfb2e], 0, 'int16')).toBe(-1234);
    expect(decodeRegisters([0xfb2e], 0, 'uint16')).toBe(64302);
    expect(decodeRegisters([0x8000], 0, 'int16')).toBe(-32768);
    expect(decodeRegisters([0x7fff], 0, 'int16')).toBe(32767);
    expect(decodeRegisters([0x3412], 0, 'uint16', 'BADC')).toBe(0x1234);
    expect(decodeRegisters([0x3412], 0, 'uint16', 'DCBA')).toBe(0x1234);
    expect(decodeRegisters([0x3412], 0, 'uint16', 'CDAB')).toBe(0x3412);
    expect(decodeRegisters([0x2efb], 0, 'int16', 'BADC')).toBe(-1234);
  });

  it('reads at an offset, from a Uint16Array too', () => {
    const regs = new Uint16Array([0, 0, 0x42f6, 0xe979, 7]);
    expect(decodeRegisters(regs, 2, 'float32')).toBe(123.456);
    expect(decodeRegisters(regs, 4, 'uint16')).toBe(7);
  });

  it('throws DecodeError when the registers are missing', () => {
    expect(() => decodeRegisters([1], 0, 'uint32')).toThrow(DecodeError);
    expect(() => decodeRegisters([], 0, 'int16')).toThrow(DecodeError);
  });
});

describe('shortestFloat32', () => {
  it('returns the shortest decimal for the float32', () => {
    expect(shortestFloat32(Math.fround(0.412))).toBe(0.412);
    expect(shortestFloat32(Math.fround(85.37))).toBe(85.37);
    expect(shortestFloat32(Math.fround(1 / 3))).toBe(0.33333334);
    expect(shortestFloat32(Math.fround(16777217))).toBe(16777216);
    expect(shortestFloat32(0)).toBe(0);
  });
});

describe('scaling', () => {
  it('counts decimals', () => {
    expect(decimalsOf(0.1)).toBe(1);
    expect(decimalsOf(0.01)).toBe(2);
    expect(decimalsOf(10)).toBe(0);
    expect(decimalsOf(2.5e-7)).toBe(8);
    expect(decimalsOf(-1.25)).toBe(2);
  });

  it('applies raw * scale + offset, exact to the decimals of scale and offset for integers', () => {
    expect(makeScaler(0.1, 0)(3)).toBe(0.3);
    expect(makeScaler(0.1, 0)(-1234)).toBe(-123.4);
    expect(makeScaler(0.01, 0)(257)).toBe(2.57);
    expect(makeScaler(0.1, -40)(653)).toBe(25.3);
    expect(makeScaler(1, 0)(65535)).toBe(65535);
    expect(makeScaler(2, 1)(21)).toBe(43);
    // float raw values are scaled as they are
    expect(makeScaler(2, 0)(1.5)).toBe(3);
    expect(makeScaler(0.1, 0)(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });
});
