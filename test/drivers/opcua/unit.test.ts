import { describe, expect, it } from 'vitest';
import { Quality } from '../../../core/quality.js';
import { classifyOpcuaError, describeFault } from '../../../drivers/opcua/classify.js';
import { opcuaDeviceSchema } from '../../../drivers/opcua/config.js';
import { BadDataLost, BadNoData, DataTypeId, timestampSkewMs, toReading, variantToValue } from '../../../drivers/opcua/convert.js';
import { tagNames } from '../../../drivers/opcua/browse.js';
import { monitoringOf } from '../../../drivers/opcua/subscription.js';

const base = { type: 'opcua', name: 'd', endpointUrl: 'opc.tcp://10.0.0.5:4840', tags: [{ name: 't', nodeId: 'ns=2;s=A.B' }] };
const dv = (dataType: number, value: unknown, status = 0, arrayType = 0) => ({ value: { dataType, arrayType, value }, statusCode: { value: status }, sourceTimestamp: new Date(1_700_000_000_000), serverTimestamp: new Date(1_700_000_000_250) });

describe('convert: DataValue -> Reading', () => {
  it('Bad status: value null, code kept; Uncertain: value and code kept', () => {
    expect(toReading(1, dv(DataTypeId.Double, 3.5, Quality.BadSensorFailure), 0)).toEqual({ tagId: 1, ts: 1_700_000_000_000, value: null, quality: Quality.BadSensorFailure });
    expect(toReading(1, dv(DataTypeId.Double, 3.5, Quality.UncertainLastUsableValue), 0)).toEqual({ tagId: 1, ts: 1_700_000_000_000, value: 3.5, quality: Quality.UncertainLastUsableValue });
  });
  it('source timestamp first, then server timestamp, then the edge clock', () => {
    expect(toReading(1, { ...dv(DataTypeId.Int32, 7), sourceTimestamp: null }, 5).ts).toBe(1_700_000_000_250);
    expect(toReading(1, { ...dv(DataTypeId.Int32, 7), sourceTimestamp: null, serverTimestamp: null }, 5).ts).toBe(5);
    expect(timestampSkewMs(dv(DataTypeId.Int32, 7))).toBe(250);
  });
  it('maps data types', () => {
    expect(variantToValue({ dataType: DataTypeId.Boolean, value: true })).toBe(true);
    expect(variantToValue({ dataType: DataTypeId.Float, value: 1.5 })).toBe(1.5);
    expect(variantToValue({ dataType: DataTypeId.Int64, value: [0x0020_0000, 1] })).toBe(9_007_199_254_740_993n);
    expect(variantToValue({ dataType: DataTypeId.Int64, value: [0xffff_ffff, 0xffff_fffe] })).toBe(-2n);
    expect(variantToValue({ dataType: DataTypeId.UInt64, value: [0xffff_ffff, 0xffff_ffff] })).toBe(18_446_744_073_709_551_615n);
    expect(variantToValue({ dataType: DataTypeId.String, value: 'shift-1' })).toBe('shift-1');
    expect(variantToValue({ dataType: DataTypeId.LocalizedText, value: { text: 'Ein' } })).toBe('Ein');
    expect(variantToValue({ dataType: DataTypeId.DateTime, value: new Date(0) })).toBe('1970-01-01T00:00:00.000Z');
    expect(variantToValue({ dataType: DataTypeId.ByteString, value: Buffer.from([1, 2, 3]) })).toBe('AQID');
    expect(variantToValue({ dataType: DataTypeId.Double, arrayType: 1, value: Float64Array.from([1, 2.5]) })).toBe('[1,2.5]');
    expect(variantToValue({ dataType: DataTypeId.Int64, arrayType: 1, value: [[0, 5], [0xffff_ffff, 0xffff_ffff]] })).toBe('["5","-1"]');
    expect(variantToValue({ dataType: DataTypeId.Boolean, arrayType: 2, value: [true, false] })).toBe('[true,false]');
  });
  it('Good with no value is BadNoData; NaN is BadSensorFailure; never a value with a Bad code', () => {
    expect(toReading(1, { ...dv(DataTypeId.Null, null) }, 0)).toMatchObject({ value: null, quality: BadNoData });
    expect(toReading(1, dv(DataTypeId.Double, Number.NaN), 0)).toMatchObject({ value: null, quality: Quality.BadSensorFailure });
    expect(BadDataLost >>> 30).toBe(2);
  });
});

describe('classify connect errors', () => {
  it.each([
    ['server Certificate verification failed with err BadCertificateUntrusted (0x801a0000)', 'BadCertificateUntrusted', Quality.BadConfigurationError],
    ['BadCertificateTimeInvalid (0x80140000)', 'BadCertificateTimeInvalid', Quality.BadConfigurationError],
    ['BadUserAccessDenied (0x801f0000)', 'BadUserAccessDenied', Quality.BadConfigurationError],
    ['connect ECONNREFUSED 127.0.0.1:4840', 'connection_refused', Quality.BadNotConnected],
    ['connect to opc.tcp://x:1 took longer than 10000 ms', 'timeout', Quality.BadTimeout],
    ['something else', 'connect_failed', Quality.BadNotConnected],
  ])('%s -> %s', (msg, kind, quality) => {
    expect(classifyOpcuaError(msg)).toMatchObject({ kind, quality });
  });
  it('fills the pki folder into the hint', () => {
    const m = 'server Certificate verification failed with err BadCertificateUntrusted (0x801a0000)';
    expect(describeFault(classifyOpcuaError(m), m, '/var/lib/jinyun/pki')).toBe(`${m} (the server certificate is not trusted: it was put in /var/lib/jinyun/pki/rejected; check its thumbprint with the server, then run \`jinyun certs trust\`)`);
  });
});

describe('config', () => {
  it('defaults to SignAndEncrypt / Basic256Sha256, anonymous, subscribe', () => {
    expect(opcuaDeviceSchema.parse(base)).toMatchObject({ securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256', user: { type: 'anonymous' }, mode: 'subscribe', keepAliveCount: 10, lifetimeCount: 60 });
  });
  it.each([
    [{ securityMode: 'None' }, 'securityPolicy', 'securityMode None needs securityPolicy None'],
    [{ securityMode: 'Sign', securityPolicy: 'None' }, 'securityPolicy', 'securityMode Sign needs a securityPolicy other than None'],
    [{ securityPolicy: 'Basic128Rsa15' }, 'securityPolicy', 'Invalid option'],
    [{ keepAliveCount: 30, lifetimeCount: 60 }, 'lifetimeCount', 'lifetimeCount must be at least 3 x keepAliveCount (90)'],
    [{ securityMode: 'None', securityPolicy: 'None', user: { type: 'certificate', certFile: 'a', keyFile: 'b' } }, 'user', 'an X.509 user identity needs securityMode Sign or SignAndEncrypt'],
    [{ tags: [{ name: 't', nodeId: 'Fan1.Speed' }] }, 'tags.0.nodeId', 'nodeId must look like'],
    [{ tags: [{ name: 't', nodeId: 'ns=2;s=A', deadband: { type: 'percent', value: 150 } }] }, 'tags.0.deadband.value', 'a percent deadband must be 0-100'],
  ])('refuses %j at %s', (over, path, message) => {
    const r = opcuaDeviceSchema.safeParse({ ...base, ...over });
    expect(r.success).toBe(false);
    const issue = r.error!.issues.find((i) => i.path.join('.') === path);
    expect(issue?.message).toContain(message);
  });
});

describe('monitoring parameters', () => {
  const dev = opcuaDeviceSchema.parse({ ...base, samplingIntervalMs: 500, queueSize: 5 });
  it('tag values override the device defaults; a deadband becomes a DataChangeFilter', () => {
    const plain = monitoringOf({ ...dev.tags[0]! }, dev);
    expect(plain).toMatchObject({ key: '500|5|', params: { samplingInterval: 500, queueSize: 5, discardOldest: true, filter: null } });
    const abs = monitoringOf({ ...dev.tags[0]!, samplingIntervalMs: 0, queueSize: 100, deadband: { type: 'absolute', value: 0.5 } }, dev);
    expect(abs.key).toBe('0|100|absolute:0.5');
    expect(abs.params.filter).toMatchObject({ deadbandType: 1, deadbandValue: 0.5, trigger: 1 });
    expect(monitoringOf({ ...dev.tags[0]!, deadband: { type: 'percent', value: 2 } }, dev).params.filter).toMatchObject({ deadbandType: 2, deadbandValue: 2 });
  });
});

describe('browse tag names', () => {
  it('valid ids, unique, at most 64 characters', () => {
    expect(tagNames(['Mine.Fan 1.Speed', 'Mine.Fan-1.Speed', '_x', 'a'.repeat(80)])).toEqual(['Mine.Fan-1.Speed', 'Mine.Fan-1.Speed-2', 'x', 'a'.repeat(64)]);
  });
});
