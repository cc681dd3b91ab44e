const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

/**
 * CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF) of buf[start, end). On the wire it is sent
 * low byte first. Shared by the Modbus RTU driver and simulator.
 */
export function crc16Modbus(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ buf[i]!) & 0xff]!;
  return crc;
}

/** True when the last two bytes of buf[start, end) are the CRC of the bytes before them. */
export function crc16Valid(buf: Uint8Array, start = 0, end = buf.length): boolean {
  if (end - start < 3) return false;
  const crc = crc16Modbus(buf, start, end - 2);
  return buf[end - 2] === (crc & 0xff) && buf[end - 1] === crc >>> 8;
}
