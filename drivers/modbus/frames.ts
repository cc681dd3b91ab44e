import { crc16Modbus, crc16Valid } from '../../core/crc16.js';
import { DecodeError, JinyunError } from '../../core/errors.js';

/** A Modbus exception response (function code | 0x80, then the code). classify-fault.ts reads modbusCode. */
export class ModbusExceptionError extends JinyunError {
  constructor(readonly modbusCode: number, fc: number) {
    super('modbus_exception', `FC${fc}: Modbus exception ${modbusCode}`);
  }
}

/** A read request PDU: FC 1-4, start, count. */
export function readRequestPdu(fc: number, start: number, count: number): Buffer {
  const pdu = Buffer.allocUnsafe(5);
  pdu[0] = fc;
  pdu.writeUInt16BE(start, 1);
  pdu.writeUInt16BE(count, 3);
  return pdu;
}

/** Bytes of the response data of a read: bits packed 8 per byte for FC1/FC2, 2 per register for FC3/FC4. */
export const readDataBytes = (fc: number, count: number): number => (fc <= 2 ? (count + 7) >>> 3 : count * 2);

/**
 * Checks a read response PDU against its request and returns the data: registers (FC3/FC4) or bits
 * as 0/1 (FC1/FC2). Throws ModbusExceptionError for an exception response and DecodeError for
 * anything that is not exactly the expected answer (wrong function code or byte count): partial
 * data is never returned.
 */
export function parseReadResponse(fc: number, count: number, pdu: Buffer): Uint16Array | Uint8Array {
  const got = pdu[0];
  if (got === (fc | 0x80) && pdu.length === 2) throw new ModbusExceptionError(pdu[1]!, fc);
  if (got !== fc) throw new DecodeError('unexpected_function', `FC${fc}: response has function code ${got ?? 'none'}`);
  const n = readDataBytes(fc, count);
  if (pdu[1] !== n || pdu.length !== 2 + n) throw new DecodeError('wrong_length', `FC${fc} ${count}: expected ${n} data bytes, got byte count ${pdu[1] ?? 'none'} in ${pdu.length - 2}`);
  if (fc >= 3) {
    const regs = new Uint16Array(count);
    for (let i = 0; i < count; i++) regs[i] = pdu.readUInt16BE(2 + i * 2);
    return regs;
  }
  const bits = new Uint8Array(count);
  for (let i = 0; i < count; i++) bits[i] = (pdu[2 + (i >>> 3)]! >>> (i & 7)) & 1;
  return bits;
}

/** An RTU frame: unit id, PDU, CRC (low byte first). */
export function encodeRtu(unitId: number, pdu: Buffer): Buffer {
  const out = Buffer.allocUnsafe(pdu.length + 3);
  out[0] = unitId;
  pdu.copy(out, 1);
  const crc = crc16Modbus(out, 0, pdu.length + 1);
  out[pdu.length + 1] = crc & 0xff;
  out[pdu.length + 2] = crc >>> 8;
  return out;
}

/** Length of a whole RTU response frame starting at buf[at], or 0 when not enough bytes are there yet. */
export function rtuResponseLength(buf: Buffer, at: number): number {
  const fc = buf[at + 1];
  if (fc === undefined) return 0;
  let n: number;
  if (fc & 0x80) n = 5;
  else if (fc >= 1 && fc <= 4) {
    const byteCount = buf[at + 2];
    if (byteCount === undefined) return 0;
    n = 5 + byteCount;
  } else n = 8; // FC5, 6, 15, 16 echo 4 bytes
  return buf.length - at >= n ? n : 0;
}

export type RtuScan =
  | { kind: 'wait' }
  | { kind: 'frame'; pdu: Buffer; length: number }
  | { kind: 'foreign'; length: number }
  | { kind: 'garbled'; message: string };

/**
 * Looks at the start of an RTU receive buffer while waiting for the answer of `unitId` to `fc`:
 * - 'frame': a whole frame of that unit and function (or its exception), CRC valid;
 * - 'foreign': a whole CRC-valid frame of another unit or function (a late answer): drop it;
 * - 'garbled': bytes that are no valid frame (bad CRC, noise): the request fails;
 * - 'wait': not enough bytes yet.
 */
export function scanRtu(buf: Buffer, unitId: number, fc: number): RtuScan {
  if (buf.length < 2) return { kind: 'wait' };
  const mine = buf[0] === unitId && (buf[1] === fc || buf[1] === (fc | 0x80));
  const length = rtuResponseLength(buf, 0);
  if (length === 0) return mine || buf.length < 256 ? { kind: 'wait' } : { kind: 'garbled', message: 'no frame in 256 bytes' };
  if (!crc16Valid(buf, 0, length)) {
    return { kind: 'garbled', message: `CRC error in a ${length}-byte frame from unit ${buf[0]} FC${buf[1]}` };
  }
  if (!mine) return { kind: 'foreign', length };
  return { kind: 'frame', pdu: Buffer.from(buf.subarray(1, length - 2)), length };
}
