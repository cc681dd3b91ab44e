import { DecodeError } from '../../core/errors.js';
import type { ModbusDataType, WordOrder } from './config.js';

/** Numeric register types (everything but bool and string). */
export type RegisterType = Exclude<ModbusDataType, 'bool' | 'string'>;

const scratch = new DataView(new ArrayBuffer(8));

function word(regs: ArrayLike<number>, index: number): number {
  const w = regs[index];
  if (w === undefined || index < 0) throw new DecodeError('short_response', `register ${index} missing in a response of ${regs.length}`);
  return w & 0xffff;
}

const wordsReversed = (order: WordOrder): boolean => order === 'CDAB' || order === 'DCBA';
const bytesSwapped = (order: WordOrder): boolean => order === 'BADC' || order === 'DCBA';

/**
 * Loads `words` registers from regs[offset] into scratch as big-endian bytes (A first). The order
 * is two independent switches: CDAB/DCBA take the registers last-first, BADC/DCBA swap the two
 * bytes of each register. So for 4 registers ABCD = ABCDEFGH, CDAB = GHEFCDAB, BADC = BADCFEHG,
 * DCBA = HGFEDCBA; for 2 the usual ABCD, CDAB, BADC, DCBA.
 */
function load(regs: ArrayLike<number>, offset: number, words: 2 | 4, order: WordOrder): void {
  const reverse = wordsReversed(order);
  const swap = bytesSwapped(order);
  for (let i = 0; i < words; i++) {
    const w = word(regs, offset + (reverse ? words - 1 - i : i));
    scratch.setUint16(i * 2, swap ? ((w & 0xff) << 8) | (w >>> 8) : w);
  }
}

/** The 16-bit register at offset, bytes swapped for BADC and DCBA. */
export function load16(regs: ArrayLike<number>, offset: number, order: WordOrder): number {
  const w = word(regs, offset);
  return bytesSwapped(order) ? ((w & 0xff) << 8) | (w >>> 8) : w;
}

/**
 * Decodes one number from a register array (as read with FC3/FC4) starting at `offset`.
 * Integers are exact (int64/uint64 as bigint); a float32 is returned as the shortest decimal that
 * maps back to the same float32 (see shortestFloat32), NaN and ±Infinity as they are.
 */
export function decodeRegisters(regs: ArrayLike<number>, offset: number, type: RegisterType, order: WordOrder = 'ABCD'): number | bigint {
  switch (type) {
    case 'uint16':
      return load16(regs, offset, order);
    case 'int16':
      return (load16(regs, offset, order) << 16) >> 16;
    case 'uint32':
      load(regs, offset, 2, order);
      return scratch.getUint32(0);
    case 'int32':
      load(regs, offset, 2, order);
      return scratch.getInt32(0);
    case 'float32':
      load(regs, offset, 2, order);
      return shortestFloat32(scratch.getFloat32(0));
    case 'uint64':
      load(regs, offset, 4, order);
      return scratch.getBigUint64(0);
    case 'int64':
      load(regs, offset, 4, order);
      return scratch.getBigInt64(0);
    case 'float64':
      load(regs, offset, 4, order);
      return scratch.getFloat64(0);
  }
}

/**
 * A fixed-length string of `length` registers, 2 characters each, first character in the high
 * byte (ABCD, CDAB) or in the low byte (BADC, DCBA). Decoded as UTF-8; NUL padding and trailing
 * spaces are removed.
 */
export function decodeString(regs: ArrayLike<number>, offset: number, length: number, order: WordOrder = 'ABCD'): string {
  const bytes = Buffer.allocUnsafe(length * 2);
  for (let i = 0; i < length; i++) bytes.writeUInt16BE(load16(regs, offset + i, order), i * 2);
  const nul = bytes.indexOf(0);
  return bytes.subarray(0, nul < 0 ? bytes.length : nul).toString('utf8').trimEnd();
}

/** Bit `bit` (0 = least significant) of the register at offset, after the byte swap of the order. */
export function decodeBit(regs: ArrayLike<number>, offset: number, bit: number, order: WordOrder = 'ABCD'): boolean {
  return ((load16(regs, offset, order) >>> bit) & 1) === 1;
}

/**
 * The shortest decimal whose float32 is x: 123.456 instead of 123.45600128173828. Lossless:
 * Math.fround(result) === Math.fround(x). Non-finite values come back unchanged.
 */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const f = Math.fround(x);
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(f.toPrecision(digits));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}

/** Decimal places needed to write x exactly in plain notation (0.1 -> 1, 2.5e-7 -> 8, 10 -> 0). */
export function decimalsOf(x: number): number {
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(Math.abs(x)));
  if (!m) return Infinity;
  return Math.max(0, (m[2]?.length ?? 0) - Number(m[3] ?? 0));
}

/**
 * Returns the function value = raw * scale + offset. For an integer raw value the result has at
 * most the decimals of scale and offset, so it is rounded there: 3 * 0.1 gives 0.3, not
 * 0.30000000000000004. Float raw values are scaled without rounding.
 */
export function makeScaler(scale: number, offset: number): (raw: number) => number {
  if (scale === 1 && offset === 0) return (raw) => raw;
  const decimals = Math.max(decimalsOf(scale), decimalsOf(offset));
  if (decimals > 12) return (raw) => raw * scale + offset;
  return (raw) => {
    const v = raw * scale + offset;
    return Number.isInteger(raw) && Number.isFinite(v) ? Number(v.toFixed(decimals)) : v;
  };
}
