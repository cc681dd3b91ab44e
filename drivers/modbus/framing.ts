import { DecodeError } from '../../core/errors.js';
import { encodeRtu, scanRtu } from './frames.js';

/** The request a line is waiting to see answered. */
export interface Expected {
  unitId: number;
  fc: number;
  /** MBAP transaction id (unused for RTU). */
  tid: number;
}

export type Scan =
  | { kind: 'wait' }
  /** The answer: a response PDU (maybe an exception), and the bytes it took. */
  | { kind: 'frame'; pdu: Buffer; length: number }
  /** A whole valid frame that is not the answer (late answer, wrong transaction id or unit): drop it. */
  | { kind: 'foreign'; length: number; why: string }
  /** Bytes that are no valid frame: the request fails; `resync` false means the stream cannot be trusted any more. */
  | { kind: 'garbled'; message: string; resync: boolean };

/** How requests are wrapped and answers found in a byte stream. Pure. */
export interface Framing {
  readonly name: 'mbap' | 'rtu';
  encode(e: Expected, pdu: Buffer): Buffer;
  scan(buf: Buffer, e: Expected | null): Scan;
  /** RTU has no frame boundaries in the stream: bytes received with no request pending are flushed before the next send. */
  readonly flushBeforeSend: boolean;
}

const MBAP_HEADER = 7;

export const mbapFraming: Framing = {
  name: 'mbap',
  flushBeforeSend: false,
  encode(e, pdu) {
    const out = Buffer.allocUnsafe(MBAP_HEADER + pdu.length);
    out.writeUInt16BE(e.tid, 0);
    out.writeUInt16BE(0, 2);
    out.writeUInt16BE(pdu.length + 1, 4);
    out[6] = e.unitId;
    pdu.copy(out, MBAP_HEADER);
    return out;
  },
  scan(buf, e) {
    if (buf.length < MBAP_HEADER) return { kind: 'wait' };
    const protocolId = buf.readUInt16BE(2);
    const len = buf.readUInt16BE(4);
    if (protocolId !== 0 || len < 2 || len > 254) {
      return { kind: 'garbled', message: `bad MBAP header (protocol id ${protocolId}, length ${len})`, resync: false };
    }
    const total = 6 + len;
    if (buf.length < total) return { kind: 'wait' };
    const tid = buf.readUInt16BE(0);
    if (!e || tid !== e.tid) return { kind: 'foreign', length: total, why: `transaction id ${tid}${e ? `, expected ${e.tid}` : ' with no request pending'}` };
    if (buf[6] !== e.unitId) return { kind: 'foreign', length: total, why: `unit id ${buf[6]}, expected ${e.unitId}` };
    return { kind: 'frame', pdu: Buffer.from(buf.subarray(MBAP_HEADER, total)), length: total };
  },
};

export const rtuFraming: Framing = {
  name: 'rtu',
  flushBeforeSend: true,
  encode(e, pdu) {
    return encodeRtu(e.unitId, pdu);
  },
  scan(buf, e) {
    if (!e) return { kind: 'wait' };
    const s = scanRtu(buf, e.unitId, e.fc);
    switch (s.kind) {
      case 'garbled': return { kind: 'garbled', message: s.message, resync: true };
      case 'foreign': return { kind: 'foreign', length: s.length, why: `frame from unit ${buf[0]} FC${buf[1]}, expected unit ${e.unitId} FC${e.fc}` };
      default: return s;
    }
  },
};

export function garbledError(message: string): DecodeError {
  return new DecodeError('garbled_frame', message);
}
