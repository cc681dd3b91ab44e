import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameError, MbapSplitter } from '../../simulators/modbus/mbap.js';
import { handlePdu } from '../../simulators/modbus/pdu.js';
import { UnitBanks, type SimWordOrder } from '../../simulators/modbus/unit-banks.js';
import { COAL_MINE_FIXED } from '../../simulators/modbus/profiles/coal-mine.js';

const hex = (b: Buffer): string => b.toString('hex');
const pdu = (...bytes: number[]): Buffer => Buffer.from(bytes);
const frame = (tid: number, unit: number, body: Buffer): Buffer => encodeFrame(tid, unit, body);

function unit(): UnitBanks {
  return new UnitBanks(1, { coil: 100, discrete: 100, input: 100, holding: 100 });
}

describe('MbapSplitter', () => {
  it('splits several frames in one chunk and joins a frame cut anywhere', () => {
    const a = frame(1, 1, pdu(3, 0, 0, 0, 2));
    const b = frame(2, 7, pdu(1, 0, 10, 0, 3));
    const all = Buffer.concat([a, b, a]);
    const s = new MbapSplitter();
    expect(s.push(all).map((f) => [f.transactionId, f.unitId, hex(f.pdu)])).toEqual([
      [1, 1, '0300000002'],
      [2, 7, '01000a0003'],
      [1, 1, '0300000002'],
    ]);
    const got = [];
    for (const byte of all) got.push(...s.push(Buffer.from([byte])));
    expect(got.map((f) => f.transactionId)).toEqual([1, 2, 1]);
    expect(s.push(all.subarray(0, 9)).length).toBe(0);
    expect(s.push(all.subarray(9)).length).toBe(3);
  });

  it('refuses a non-Modbus protocol id and impossible lengths', () => {
    expect(() => new MbapSplitter().push(Buffer.from([0, 1, 0, 1, 0, 6, 1, 3, 0, 0, 0, 1]))).toThrow(FrameError);
    expect(() => new MbapSplitter().push(Buffer.from([0, 1, 0, 0, 0, 1, 1]))).toThrow(FrameError);
    expect(() => new MbapSplitter().push(Buffer.from([0, 1, 0, 0, 1, 0, 1]))).toThrow(FrameError);
  });

  it('wraps a response with the request transaction and unit id', () => {
    expect(hex(encodeFrame(0xabcd, 3, pdu(3, 2, 0x12, 0x34)))).toBe('abcd000000050303021234');
  });
});

describe('handlePdu', () => {
  it('reads registers (FC3/FC4) big-endian', () => {
    const u = unit();
    u.holding.set([0x1234, 0xabcd], 10);
    u.input[99] = 7;
    expect(hex(handlePdu(u, pdu(3, 0, 10, 0, 2)))).toBe('03041234abcd');
    expect(hex(handlePdu(u, pdu(4, 0, 99, 0, 1)))).toBe('04020007');
  });

  it('reads bits (FC1/FC2) packed LSB first', () => {
    const u = unit();
    for (const i of [0, 2, 9]) u.coil[i] = 1;
    u.discrete[5] = 1;
    expect(hex(handlePdu(u, pdu(1, 0, 0, 0, 10)))).toBe('01020502');
    expect(hex(handlePdu(u, pdu(2, 0, 5, 0, 1)))).toBe('020101');
  });

  it('writes single and multiple coils and registers (FC5, 6, 15, 16)', () => {
    const u = unit();
    expect(hex(handlePdu(u, pdu(5, 0, 4, 0xff, 0)))).toBe('050004ff00');
    expect(u.coil[4]).toBe(1);
    expect(hex(handlePdu(u, pdu(6, 0, 8, 0xbe, 0xef)))).toBe('060008beef');
    expect(u.holding[8]).toBe(0xbeef);
    expect(hex(handlePdu(u, pdu(15, 0, 20, 0, 10, 2, 0b00000101, 0b10)))).toBe('0f0014000a');
    expect([...u.coil.subarray(20, 30)]).toEqual([1, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    expect(hex(handlePdu(u, pdu(16, 0, 30, 0, 2, 4, 0, 1, 0xff, 0xfe)))).toBe('10001e0002');
    expect([...u.holding.subarray(30, 32)]).toEqual([1, 0xfffe]);
  });

  it('answers exceptions 1, 2, 3 and 11', () => {
    const u = unit();
    expect(hex(handlePdu(u, pdu(7)))).toBe('8701');
    expect(hex(handlePdu(u, pdu(43, 14, 1, 0)))).toBe('ab01');
    expect(hex(handlePdu(u, pdu(3, 0, 99, 0, 2)))).toBe('8302'); // 99..100 beyond the 100 mapped
    expect(hex(handlePdu(u, pdu(1, 0, 100, 0, 1)))).toBe('8102');
    expect(hex(handlePdu(u, pdu(6, 0, 100, 0, 1)))).toBe('8602');
    expect(hex(handlePdu(u, pdu(3, 0, 0, 0, 0)))).toBe('8303');
    expect(hex(handlePdu(u, pdu(3, 0, 0, 0, 126)))).toBe('8303');
    expect(hex(handlePdu(u, pdu(1, 0, 0, 0x07, 0xd1)))).toBe('8103'); // 2001 bits
    expect(hex(handlePdu(u, pdu(3, 0, 0)))).toBe('8303');
    expect(hex(handlePdu(u, pdu(5, 0, 0, 0x12, 0x34)))).toBe('8503');
    expect(hex(handlePdu(u, pdu(16, 0, 0, 0, 2, 3, 0, 1, 0)))).toBe('9003');
    expect(hex(handlePdu(undefined, pdu(3, 0, 0, 0, 1)))).toBe('830b');
  });

  it('calls the read hook for valid reads only', () => {
    const u = unit();
    const seen: string[] = [];
    const hook = (_u: UnitBanks, table: string, start: number, count: number) => seen.push(`${table}:${start}+${count}`);
    handlePdu(u, pdu(3, 0, 1, 0, 2), hook);
    handlePdu(u, pdu(3, 0, 99, 0, 5), hook);
    handlePdu(u, pdu(2, 0, 0, 0, 8), hook);
    expect(seen).toEqual(['holding:1+2', 'discrete:0+8']);
  });
});

describe('UnitBanks', () => {
  it('lays out the fixed registers with the documented words and reads them back', () => {
    const u = new UnitBanks(1, { coil: 1000, discrete: 1000, input: 1000, holding: 1000 });
    for (const f of COAL_MINE_FIXED) {
      if (f.type === 'bool' || f.table === 'coil' || f.table === 'discrete') continue;
      u.setNumber(f.table, f.address, f.type, Number(f.value), f.order);
      expect([...u.registers(f.table).subarray(f.address, f.address + (f.words?.length ?? 0))], `${f.table} ${f.address}`).toEqual(f.words);
      expect(u.getNumber(f.table, f.address, f.type, f.order)).toBe(f.type === 'float32' ? Math.fround(Number(f.value)) : f.value);
    }
  });

  it('round-trips every type in every order', () => {
    const u = unit();
    const orders: SimWordOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];
    for (const order of orders) {
      u.setNumber('holding', 0, 'int32', -987654, order);
      expect(u.getNumber('holding', 0, 'int32', order)).toBe(-987654);
      u.setNumber('holding', 0, 'uint32', 4000000000, order);
      expect(u.getNumber('holding', 0, 'uint32', order)).toBe(4000000000);
      u.setNumber('holding', 0, 'float32', -12.25, order);
      expect(u.getNumber('holding', 0, 'float32', order)).toBe(-12.25);
      u.setNumber('holding', 0, 'int16', -5, order);
      expect(u.getNumber('holding', 0, 'int16', order)).toBe(-5);
    }
  });
});
