import { crc16Modbus, crc16Valid } from '../../core/crc16.js';

export interface RtuRequest {
  unitId: number;
  pdu: Buffer;
}

/** Length of the RTU request starting at buf[0], 0 when more bytes are needed, -1 when unknowable. */
function requestLength(buf: Buffer): number {
  const fc = buf[1];
  if (fc === undefined) return 0;
  if (fc >= 1 && fc <= 6) return buf.length >= 8 ? 8 : 0;
  if (fc === 15 || fc === 16) {
    const byteCount = buf[6];
    if (byteCount === undefined) return 0;
    return buf.length >= 9 + byteCount ? 9 + byteCount : 0;
  }
  return -1;
}

/**
 * Splits a byte stream into RTU request frames (slave side). Frames are found by their length
 * (known for FC 1-6, 15, 16) and must carry a valid CRC; a bad CRC or an unknown function code
 * throws the buffer away, as a real slave ignores a frame it cannot check (the master times out).
 * An unknown function code whose bytes end in a valid CRC is passed on (answered with exception 1).
 */
export class RtuSplitter {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes dropped because they were no valid frame. */
  dropped = 0;

  push(chunk: Buffer): RtuRequest[] {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: RtuRequest[] = [];
    while (buf.length >= 2) {
      let n = requestLength(buf);
      if (n === -1) n = crc16Valid(buf) ? buf.length : buf.length > 256 ? -2 : 0;
      if (n === 0) break;
      if (n === -2 || !crc16Valid(buf, 0, n)) {
        this.dropped += buf.length;
        buf = Buffer.alloc(0);
        break;
      }
      out.push({ unitId: buf[0]!, pdu: Buffer.from(buf.subarray(1, n - 2)) });
      buf = buf.subarray(n);
    }
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
    return out;
  }
}

/** Unit id + PDU + CRC (low byte first). */
export function encodeRtuFrame(unitId: number, pdu: Buffer): Buffer {
  const out = Buffer.allocUnsafe(pdu.length + 3);
  out[0] = unitId;
  pdu.copy(out, 1);
  const crc = crc16Modbus(out, 0, pdu.length + 1);
  out[pdu.length + 1] = crc & 0xff;
  out[pdu.length + 2] = crc >>> 8;
  return out;
}
