/** A Modbus TCP application data unit: MBAP header fields and the PDU (function code + data). */
export interface MbapFrame {
  transactionId: number;
  unitId: number;
  pdu: Buffer;
}

export const MBAP_HEADER_BYTES = 7;
/** Largest PDU the protocol allows (Modbus Application Protocol V1.1b3, 4.1). */
export const MAX_PDU_BYTES = 253;

export class FrameError extends Error {}

/**
 * Splits a TCP byte stream into Modbus TCP frames: a chunk may hold part of a frame, exactly one,
 * or several. Throws FrameError on a protocol id other than 0 or an impossible length field;
 * the caller should then drop the connection (the stream can no longer be re-synchronised).
 */
export class MbapSplitter {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): MbapFrame[] {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: MbapFrame[] = [];
    while (buf.length >= MBAP_HEADER_BYTES) {
      const protocolId = buf.readUInt16BE(2);
      const length = buf.readUInt16BE(4); // unit id + PDU
      if (protocolId !== 0) throw new FrameError(`protocol id ${protocolId} is not Modbus (0)`);
      if (length < 2 || length > MAX_PDU_BYTES + 1) throw new FrameError(`MBAP length ${length} out of range 2..${MAX_PDU_BYTES + 1}`);
      const total = 6 + length;
      if (buf.length < total) break;
      frames.push({ transactionId: buf.readUInt16BE(0), unitId: buf[6]!, pdu: buf.subarray(7, total) });
      buf = buf.subarray(total);
    }
    // Copy the remainder so a small leftover never pins a large chunk in memory.
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
    return frames;
  }
}

/** Wraps a response PDU in an MBAP header echoing the request's transaction and unit id. */
export function encodeFrame(transactionId: number, unitId: number, pdu: Buffer): Buffer {
  const out = Buffer.allocUnsafe(MBAP_HEADER_BYTES + pdu.length);
  out.writeUInt16BE(transactionId, 0);
  out.writeUInt16BE(0, 2);
  out.writeUInt16BE(pdu.length + 1, 4);
  out[6] = unitId;
  pdu.copy(out, MBAP_HEADER_BYTES);
  return out;
}
