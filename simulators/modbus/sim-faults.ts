/** Fault injection, switchable at any time from a test (ModbusSimServer.setFaults). */
export interface SimFaults {
  /** Read requests but never answer them (the client times out). */
  silent: boolean;
  /** Answer every request this many ms late. */
  delayMs: number;
  /** Answer matching requests with this exception code instead of data. */
  exception: { code: number; unitId?: number; fc?: number } | null;
  /** Unit ids that never answer (a dead slave on a shared line). */
  deadUnits: number[];
  /** Corrupt each answer: RTU flips a data byte (bad CRC); MBAP gets a wrong byte count in the PDU. */
  garble: boolean;
  /** Send only the first half of each answer. */
  short: boolean;
  /** MBAP: answer with the previous transaction id (a stale reply); RTU: answer as unit id + 1. */
  wrongId: boolean;
  /** Write half of the next answer, then drop the connection (TCP) each time a request comes. */
  dropConnection: boolean;
}

export const NO_FAULTS: SimFaults = { silent: false, delayMs: 0, exception: null, deadUnits: [], garble: false, short: false, wrongId: false, dropConnection: false };

/** What the transport does with one answer frame after the faults are applied. */
export type FaultedAnswer = { send: Buffer | null; thenDrop: boolean };

/** Applies the byte-level faults to an encoded answer. Pure. */
export function applyByteFaults(frame: Buffer, f: SimFaults, framing: 'mbap' | 'rtu'): FaultedAnswer {
  let out = frame;
  if (f.garble) {
    out = Buffer.from(frame);
    if (framing === 'rtu') out[Math.min(3, out.length - 3)]! ^= 0x5a;
    else if (out.length > 8) out[8] = (out[8]! + 1) & 0xff; // byte count of a read answer
    else out[out.length - 1]! ^= 0x5a;
  }
  if (f.short || f.dropConnection) out = out.subarray(0, Math.max(1, out.length >> 1));
  return { send: out, thenDrop: f.dropConnection };
}
