import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../core/errors.js';
import { encodeRtu, ModbusExceptionError, parseReadResponse, readRequestPdu, scanRtu } from '../../../drivers/modbus/frames.js';
import { mbapFraming, rtuFraming } from '../../../drivers/modbus/framing.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('RTU frames', () => {
  it('encodes a request with its CRC (low byte first)', () => {
    // the classic example: unit 1, FC3, holding 0, 10 registers -> CRC 0xCDC5
    expect(encodeRtu(1, readRequestPdu(3, 0, 10)).toString('hex')).toBe('01030000000ac5cd');
  });

  it('finds the awaited answer, waits for the rest of a cut frame, and tells foreign and garbled frames apart', () => {
    const answer = encodeRtu(1, hex('03 04 0001 0002'));
    expect(scanRtu(answer, 1, 3)).toEqual({ kind: 'frame', pdu: hex('03 04 0001 0002'), length: 9 });
    expect(scanRtu(answer.subarray(0, 6), 1, 3)).toEqual({ kind: 'wait' });
    expect(scanRtu(encodeRtu(2, hex('03 04 0001 0002')), 1, 3)).toEqual({ kind: 'foreign', length: 9 });
    expect(scanRtu(encodeRtu(1, hex('83 02')), 1, 3)).toEqual({ kind: 'frame', pdu: hex('83 02'), length: 5 });
    const bad = Buffer.from(answer);
    bad[4]! ^= 0xff;
    expect(scanRtu(bad, 1, 3)).toEqual({ kind: 'garbled', message: 'CRC error in a 9-byte frame from unit 1 FC3' });
  });

  it('rtu framing waits while no request is pending (the line flushes those bytes before the next send)', () => {
    expect(rtuFraming.scan(encodeRtu(1, hex('03 02 0001')), null)).toEqual({ kind: 'wait' });
    expect(rtuFraming.flushBeforeSend).toBe(true);
  });
});

describe('MBAP framing', () => {
  const e = { unitId: 7, fc: 3, tid: 0x1234 };
  it('matches by transaction id and unit id, drops the others whole', () => {
    const frame = (tid: number, unit: number, pdu: string): Buffer => Buffer.concat([hex(`${tid.toString(16).padStart(4, '0')} 0000 ${((pdu.replace(/\s/g, '').length / 2) + 1).toString(16).padStart(4, '0')} ${unit.toString(16).padStart(2, '0')}`), hex(pdu)]);
    expect(mbapFraming.encode(e, readRequestPdu(3, 1, 2)).toString('hex')).toBe('123400000006070300010002');
    expect(mbapFraming.scan(frame(0x1234, 7, '03 02 abcd'), e)).toEqual({ kind: 'frame', pdu: hex('03 02 abcd'), length: 11 });
    expect(mbapFraming.scan(frame(0x1233, 7, '03 02 abcd'), e)).toEqual({ kind: 'foreign', length: 11, why: 'transaction id 4659, expected 4660' });
    expect(mbapFraming.scan(frame(0x1234, 8, '03 02 abcd'), e)).toEqual({ kind: 'foreign', length: 11, why: 'unit id 8, expected 7' });
    expect(mbapFraming.scan(frame(0x1234, 7, '03 02 abcd').subarray(0, 10), e)).toEqual({ kind: 'wait' });
    expect(mbapFraming.scan(hex('1234 0001 0005 07 030200'), e)).toEqual({ kind: 'garbled', message: 'bad MBAP header (protocol id 1, length 5)', resync: false });
  });
});

describe('parseReadResponse', () => {
  it('returns registers or bits, and never partial data', () => {
    expect([...parseReadResponse(3, 2, hex('03 04 0001 fffe'))]).toEqual([1, 0xfffe]);
    expect([...parseReadResponse(1, 10, hex('01 02 05 02'))]).toEqual([1, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    expect(() => parseReadResponse(3, 2, hex('03 04 0001'))).toThrow(DecodeError);
    expect(() => parseReadResponse(3, 2, hex('03 05 0001 fffe 00'))).toThrow('FC3 2: expected 4 data bytes, got byte count 5 in 5');
    expect(() => parseReadResponse(3, 1, hex('04 02 0001'))).toThrow('FC3: response has function code 4');
    expect(() => parseReadResponse(3, 1, hex('83 06'))).toThrow(ModbusExceptionError);
    expect(() => parseReadResponse(3, 1, hex('83 06'))).toThrow('FC3: Modbus exception 6');
  });
});
