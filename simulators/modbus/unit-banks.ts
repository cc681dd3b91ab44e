export type SimTable = 'coil' | 'discrete' | 'input' | 'holding';
export type SimWordOrder = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';
export type SimNumberType = 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32';
export type SimWideType = 'int64' | 'uint64' | 'float64';

/** Mapped size of each table: addresses at or beyond it answer exception 2 (illegal data address). */
export type TableSizes = Record<SimTable, number>;

const scratch = new DataView(new ArrayBuffer(4));

/** Splits the 4 big-endian bytes A B C D in scratch into two registers laid out in the given order. */
function wordsOf(order: SimWordOrder): [number, number] {
  const [a, b, c, d] = [scratch.getUint8(0), scratch.getUint8(1), scratch.getUint8(2), scratch.getUint8(3)];
  switch (order) {
    case 'ABCD': return [(a << 8) | b, (c << 8) | d];
    case 'CDAB': return [(c << 8) | d, (a << 8) | b];
    case 'BADC': return [(b << 8) | a, (d << 8) | c];
    case 'DCBA': return [(d << 8) | c, (b << 8) | a];
  }
}

function wordsToScratch(w0: number, w1: number, order: SimWordOrder): void {
  const bytes = [w0 >>> 8, w0 & 0xff, w1 >>> 8, w1 & 0xff];
  const at: Record<SimWordOrder, number[]> = { ABCD: [0, 1, 2, 3], CDAB: [2, 3, 0, 1], BADC: [1, 0, 3, 2], DCBA: [3, 2, 1, 0] };
  at[order].forEach((wire, i) => scratch.setUint8(i, bytes[wire]!));
}

const swap16 = (w: number): number => ((w & 0xff) << 8) | ((w >>> 8) & 0xff);
const swapsBytes = (order: SimWordOrder): boolean => order === 'BADC' || order === 'DCBA';

/**
 * The four data tables of one simulated unit id: full 65536-entry banks (registers as
 * Uint16Array, bits as Uint8Array of 0/1) plus the mapped size of each table. The typed setters
 * and getters encode values the way a device would lay them out on the wire.
 */
export class UnitBanks {
  readonly coil = new Uint8Array(65536);
  readonly discrete = new Uint8Array(65536);
  readonly input = new Uint16Array(65536);
  readonly holding = new Uint16Array(65536);

  /** Unmapped address ranges inside the mapped size, [from, to] inclusive: a read touching one gets exception 2. */
  readonly holes: Record<SimTable, [number, number][]> = { coil: [], discrete: [], input: [], holding: [] };

  constructor(readonly id: number, readonly sizes: TableSizes) {}

  /** Makes [from, to] unmapped, as on devices that refuse any read across addresses they do not implement. */
  unmap(table: SimTable, from: number, to: number): void {
    this.holes[table].push([from, to]);
  }

  /** True when [start, start + count) lies inside the mapped size and touches no hole. */
  mapped(table: SimTable, start: number, count: number): boolean {
    if (start + count > this.sizes[table]) return false;
    const end = start + count - 1;
    return !this.holes[table].some(([from, to]) => from <= end && to >= start);
  }

  registers(table: 'input' | 'holding'): Uint16Array {
    return table === 'input' ? this.input : this.holding;
  }

  bits(table: 'coil' | 'discrete'): Uint8Array {
    return table === 'coil' ? this.coil : this.discrete;
  }

  setBit(table: 'coil' | 'discrete', address: number, on: boolean): void {
    this.bits(table)[address] = on ? 1 : 0;
  }

  getBit(table: 'coil' | 'discrete', address: number): boolean {
    return this.bits(table)[address] === 1;
  }

  /** Writes value (rounded to an integer for integer types) at address in the given order. */
  setNumber(table: 'input' | 'holding', address: number, type: SimNumberType, value: number, order: SimWordOrder = 'ABCD'): void {
    const regs = this.registers(table);
    if (type === 'int16' || type === 'uint16') {
      const w = Math.round(value) & 0xffff;
      regs[address] = swapsBytes(order) ? swap16(w) : w;
      return;
    }
    if (type === 'float32') scratch.setFloat32(0, value);
    else if (type === 'int32') scratch.setInt32(0, Math.round(value));
    else scratch.setUint32(0, Math.round(value) >>> 0);
    const [w0, w1] = wordsOf(order);
    regs[address] = w0;
    regs[address + 1] = w1;
  }

  /**
   * Writes a 4-register value: bytes A..H big-endian, then the registers in reverse order for
   * CDAB/DCBA and each register byte-swapped for BADC/DCBA (CDAB = GHEFCDAB, DCBA = HGFEDCBA).
   */
  setWide(table: 'input' | 'holding', address: number, type: SimWideType, value: number | bigint, order: SimWordOrder = 'ABCD'): void {
    const dv = new DataView(new ArrayBuffer(8));
    if (type === 'float64') dv.setFloat64(0, Number(value));
    else if (type === 'int64') dv.setBigInt64(0, BigInt(value));
    else dv.setBigUint64(0, BigInt.asUintN(64, BigInt(value)));
    const regs = this.registers(table);
    const reverse = order === 'CDAB' || order === 'DCBA';
    for (let i = 0; i < 4; i++) {
      const w = dv.getUint16(i * 2);
      regs[address + (reverse ? 3 - i : i)] = swapsBytes(order) ? swap16(w) : w;
    }
  }

  /** Writes text (UTF-8) into `length` registers, NUL-padded; BADC/DCBA put the first character in the low byte. */
  setString(table: 'input' | 'holding', address: number, text: string, length: number, order: SimWordOrder = 'ABCD'): void {
    const bytes = Buffer.alloc(length * 2);
    bytes.write(text, 'utf8');
    const regs = this.registers(table);
    for (let i = 0; i < length; i++) {
      const w = bytes.readUInt16BE(i * 2);
      regs[address + i] = swapsBytes(order) ? swap16(w) : w;
    }
  }

  getNumber(table: 'input' | 'holding', address: number, type: SimNumberType, order: SimWordOrder = 'ABCD'): number {
    const regs = this.registers(table);
    const w0 = regs[address] ?? 0;
    if (type === 'int16' || type === 'uint16') {
      const w = swapsBytes(order) ? swap16(w0) : w0;
      return type === 'int16' ? (w << 16) >> 16 : w;
    }
    wordsToScratch(w0, regs[address + 1] ?? 0, order);
    return type === 'float32' ? scratch.getFloat32(0) : type === 'int32' ? scratch.getInt32(0) : scratch.getUint32(0);
  }
}
