/**
 * Reading quality is an OPC UA StatusCode (Part 4 §7.39): the top two bits give the severity
 * (00 Good, 01 Uncertain, 10 Bad), the next 14 bits the sub-code. Modbus faults are mapped onto the
 * same codes so one column serves every driver.
 */
export const Quality = {
  Good: 0x00000000,
  Uncertain: 0x40000000,
  UncertainLastUsableValue: 0x40900000,
  UncertainSensorNotAccurate: 0x40930000,
  UncertainEngineeringUnitsExceeded: 0x40940000,
  Bad: 0x80000000,
  BadUnexpectedError: 0x80010000,
  BadInternalError: 0x80020000,
  BadCommunicationError: 0x80050000,
  BadDecodingError: 0x80070000,
  BadTimeout: 0x800a0000,
  BadNodeIdUnknown: 0x80340000,
  BadNotConnected: 0x808a0000,
  BadDeviceFailure: 0x808b0000,
  BadSensorFailure: 0x808c0000,
  BadOutOfService: 0x808d0000,
  BadConfigurationError: 0x80890000,
  BadNoCommunication: 0x80310000,
  BadWaitingForInitialData: 0x80320000,
  BadResourceUnavailable: 0x80040000,
  BadTooManyOperations: 0x80100000,
} as const;

const names = new Map<number, string>(Object.entries(Quality).map(([k, v]) => [v, k]));

export type Severity = 'good' | 'uncertain' | 'bad';

export function severity(code: number): Severity {
  const top = (code >>> 30) & 0b11;
  return top === 0 ? 'good' : top === 1 ? 'uncertain' : 'bad';
}

export const isGood = (code: number): boolean => code >>> 30 === 0;
export const isBad = (code: number): boolean => code >>> 30 >= 2;

/** "Good", "BadTimeout", or the hex code when it has no name here. */
export function qualityName(code: number): string {
  return names.get(code >>> 0) ?? names.get((code & 0xffff0000) >>> 0) ?? `0x${(code >>> 0).toString(16).padStart(8, '0')}`;
}
