import type { SimTable, UnitBanks } from './unit-banks.js';

/** Modbus exception codes the simulator answers with. */
export const ILLEGAL_FUNCTION = 1;
export const ILLEGAL_DATA_ADDRESS = 2;
export const ILLEGAL_DATA_VALUE = 3;
export const GATEWAY_TARGET_FAILED = 11;

/** Called for every valid read before it is answered (the profile's sample counter lives here). */
export type ReadHook = (unit: UnitBanks, table: SimTable, start: number, count: number) => void;

export function exception(fc: number, code: number): Buffer {
  return Buffer.from([(fc | 0x80) & 0xff, code]);
}

const READ_TABLE: Record<number, SimTable> = { 1: 'coil', 2: 'discrete', 3: 'holding', 4: 'input' };

function readBits(unit: UnitBanks, fc: number, table: 'coil' | 'discrete', start: number, count: number): Buffer {
  const bits = unit.bits(table);
  const n = (count + 7) >>> 3;
  const out = Buffer.alloc(2 + n);
  out[0] = fc;
  out[1] = n;
  for (let i = 0; i < count; i++) if (bits[start + i] === 1) out[2 + (i >>> 3)]! |= 1 << (i & 7);
  return out;
}

function readRegisters(unit: UnitBanks, fc: number, table: 'input' | 'holding', start: number, count: number): Buffer {
  const regs = unit.registers(table);
  const out = Buffer.allocUnsafe(2 + count * 2);
  out[0] = fc;
  out[1] = count * 2;
  for (let i = 0; i < count; i++) out.writeUInt16BE(regs[start + i]!, 2 + i * 2);
  return out;
}

function handleRead(unit: UnitBanks, pdu: Buffer, onRead?: ReadHook): Buffer {
  const fc = pdu[0]!;
  if (pdu.length !== 5) return exception(fc, ILLEGAL_DATA_VALUE);
  const table = READ_TABLE[fc]!;
  const start = pdu.readUInt16BE(1);
  const count = pdu.readUInt16BE(3);
  const max = fc <= 2 ? 2000 : 125;
  if (count < 1 || count > max) return exception(fc, ILLEGAL_DATA_VALUE);
  if (!unit.mapped(table, start, count)) return exception(fc, ILLEGAL_DATA_ADDRESS);
  onRead?.(unit, table, start, count);
  return table === 'coil' || table === 'discrete' ? readBits(unit, fc, table, start, count) : readRegisters(unit, fc, table, start, count);
}

function writeSingle(unit: UnitBanks, pdu: Buffer): Buffer {
  const fc = pdu[0]!;
  if (pdu.length !== 5) return exception(fc, ILLEGAL_DATA_VALUE);
  const address = pdu.readUInt16BE(1);
  const value = pdu.readUInt16BE(3);
  if (fc === 5) {
    if (value !== 0xff00 && value !== 0x0000) return exception(fc, ILLEGAL_DATA_VALUE);
    if (address >= unit.sizes.coil) return exception(fc, ILLEGAL_DATA_ADDRESS);
    unit.coil[address] = value === 0xff00 ? 1 : 0;
  } else {
    if (address >= unit.sizes.holding) return exception(fc, ILLEGAL_DATA_ADDRESS);
    unit.holding[address] = value;
  }
  return Buffer.from(pdu);
}

function writeMultiple(unit: UnitBanks, pdu: Buffer): Buffer {
  const fc = pdu[0]!;
  if (pdu.length < 6) return exception(fc, ILLEGAL_DATA_VALUE);
  const start = pdu.readUInt16BE(1);
  const count = pdu.readUInt16BE(3);
  const byteCount = pdu[5]!;
  const coils = fc === 15;
  const max = coils ? 1968 : 123;
  const expectBytes = coils ? (count + 7) >>> 3 : count * 2;
  if (count < 1 || count > max || byteCount !== expectBytes || pdu.length !== 6 + byteCount) return exception(fc, ILLEGAL_DATA_VALUE);
  if (start + count > (coils ? unit.sizes.coil : unit.sizes.holding)) return exception(fc, ILLEGAL_DATA_ADDRESS);
  for (let i = 0; i < count; i++) {
    if (coils) unit.coil[start + i] = (pdu[6 + (i >>> 3)]! >>> (i & 7)) & 1;
    else unit.holding[start + i] = pdu.readUInt16BE(6 + i * 2);
  }
  return pdu.subarray(0, 5);
}

/**
 * Answers one request PDU (function code + data) for a unit: FC 1-6, 15 and 16. Unknown function
 * codes get exception 1, addresses beyond the unit's mapped size exception 2, malformed lengths
 * and quantities exception 3, an unknown unit id exception 11 (as a TCP-to-RTU gateway would).
 */
export function handlePdu(unit: UnitBanks | undefined, pdu: Buffer, onRead?: ReadHook): Buffer {
  const fc = pdu[0] ?? 0;
  if (fc === 0 || fc >= 0x80) return exception(fc, ILLEGAL_FUNCTION);
  if (![1, 2, 3, 4, 5, 6, 15, 16].includes(fc)) return exception(fc, ILLEGAL_FUNCTION);
  if (!unit) return exception(fc, GATEWAY_TARGET_FAILED);
  if (fc <= 4) return handleRead(unit, pdu, onRead);
  if (fc === 5 || fc === 6) return writeSingle(unit, pdu);
  return writeMultiple(unit, pdu);
}
