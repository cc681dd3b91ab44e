import { deflateRawSync, inflateRawSync } from 'node:zlib';
import Long from 'long';
import { jinyun } from './generated/jinyun.js';
import type { BatchData, Reading, SequencedReading, Value } from '../core/reading.js';
import { groupSeries, writeBlock, type SeriesColumns } from './block-writer.js';
import { DecodeError } from '../core/errors.js';
import { isBad } from '../core/quality.js';

const pb = jinyun.v1;
export { pb };

export type CompressionName = 'none' | 'deflate';

/** Limits the decoder enforces before and while it decodes; a batch beyond them is rejected. */
export const LIMITS = {
  maxEnvelopeBytes: 1024 * 1024,
  maxBodyBytes: 8 * 1024 * 1024,
  maxReadings: 100_000,
  maxStringBytes: 1024,
  maxProducerIdLength: 64,
} as const;

const INT32_MAX = 2 ** 31 - 1;

/** True when a reading at time ts can join a batch based at baseTs (deltas travel as sint32). */
export function fitsTimeBase(baseTs: number, ts: number): boolean {
  return Math.abs(ts - baseTs) <= INT32_MAX;
}

/** FNV-1a, 32 bit: cheap content fingerprint for replay detection (not a security hash). */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Groups readings (ordered by seq, contiguous from seqFirst) into one Series per tag, relative to (seqFirst, baseTs). */
function seriesOf(readings: readonly SequencedReading[], seqFirst: number, baseTs: number): jinyun.v1.ISeries[] {
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    if (r.seq !== seqFirst + i) throw new RangeError(`reading ${i} has seq ${r.seq}, expected ${seqFirst + i}`);
    if (!fitsTimeBase(baseTs, r.ts)) throw new RangeError(`reading seq ${r.seq} is too far in time from the batch base`);
  }
  return groupSeries(readings).map((s) => seriesMessage(readings, s, baseTs));
}

export interface EncodeOptions {
  compression?: CompressionName;
  sentTimeMs?: number;
}

function envelope(e: { producerId: string; epoch: number; seqFirst: number; count: number; baseTs: number; historical: boolean }, body: Uint8Array, opts: EncodeOptions): Uint8Array {
  const compression = opts.compression === 'deflate' ? pb.Compression.COMPRESSION_DEFLATE : pb.Compression.COMPRESSION_NONE;
  const wire = compression === pb.Compression.COMPRESSION_DEFLATE ? deflateRawSync(body, { level: 6 }) : body;
  return pb.Batch.encode({
    producerId: e.producerId, epoch: e.epoch, seqFirst: e.seqFirst, count: e.count, baseTimeMs: e.baseTs, compression, body: wire,
    historical: e.historical, sentTimeMs: opts.sentTimeMs ?? 0, bodyHash: fnv1a(wire),
  }).finish();
}

/** Encodes a batch; readings must be ordered by seq without holes, starting at seqFirst. */
export function encodeBatch(batch: BatchData, opts: EncodeOptions = {}): Uint8Array {
  const { readings } = batch;
  if (readings.length === 0) throw new RangeError('a batch needs at least one reading');
  const baseTs = readings[0]!.ts;
  const body = pb.BatchBody.encode({ series: seriesOf(readings, batch.seqFirst, baseTs) }).finish();
  return envelope({ ...batch, count: readings.length, baseTs }, body, opts);
}

/** A run of readings encoded once, when spooled, and forwarded as is (see Block in batch.proto). */
export interface StoredBlock {
  seqFirst: number;
  count: number;
  /** Source time of the first reading: the block's time base. */
  baseTs: number;
  /** A serialized Block with zero offsets, i.e. only its series. */
  bytes: Uint8Array;
}

/** Encodes readings (ordered by seq, contiguous) as a block for the spool. */
export function encodeBlock(readings: readonly SequencedReading[]): StoredBlock {
  if (readings.length === 0) throw new RangeError('a block needs at least one reading');
  const seqFirst = readings[0]!.seq;
  for (let i = 0; i < readings.length; i++) if (readings[i]!.seq !== seqFirst + i) throw new RangeError(`reading ${i} has seq ${readings[i]!.seq}, expected ${seqFirst + i}`);
  return encodeBlockAt(readings, seqFirst);
}

/** Encodes readings as a block whose reading i has seq seqFirst + i (the spool's append: no copies of the readings). */
export function encodeBlockAt(readings: readonly Reading[], seqFirst: number): StoredBlock {
  if (readings.length === 0) throw new RangeError('a block needs at least one reading');
  const baseTs = readings[0]!.ts;
  for (const r of readings) if (!fitsTimeBase(baseTs, r.ts)) throw new RangeError(`reading at ${r.ts} is too far in time from the block base`);
  const slow = (s: SeriesColumns): Uint8Array => pb.Series.encode(seriesMessage(readings, s, baseTs)).finish();
  return { seqFirst, count: readings.length, baseTs, bytes: writeBlock(readings, baseTs, slow) };
}

/** Bytes a block adds to a batch body at most (its bytes plus the field tag, length and offsets). */
export function blockWireBytes(b: StoredBlock): number {
  return b.bytes.length + 1 + 5 + 6 + 6;
}

/**
 * Assembles a batch from stored blocks without touching their readings: each block is framed as
 * BatchBody field 2 with its seq and time offsets prefixed. Blocks must be contiguous in seq.
 */
export function encodeBatchFromBlocks(batch: { producerId: string; epoch: number; historical: boolean }, blocks: readonly StoredBlock[], opts: EncodeOptions = {}): Uint8Array {
  if (blocks.length === 0) throw new RangeError('a batch needs at least one block');
  const first = blocks[0]!;
  const parts: Uint8Array[] = [];
  let expected = first.seqFirst;
  let count = 0;
  for (const b of blocks) {
    if (b.seqFirst !== expected) throw new RangeError(`block at seq ${b.seqFirst} does not follow seq ${expected - 1}`);
    const timeOffset = b.baseTs - first.baseTs;
    if (!fitsTimeBase(first.baseTs, b.baseTs)) throw new RangeError(`block at seq ${b.seqFirst} is too far in time from the batch base`);
    const head = [0x08, ...varint(b.seqFirst - first.seqFirst), 0x10, ...varint(((timeOffset << 1) ^ (timeOffset >> 31)) >>> 0)];
    const len = head.length + b.bytes.length;
    parts.push(Uint8Array.from([0x12, ...varint(len), ...head]), b.bytes);
    expected += b.count;
    count += b.count;
  }
  return envelope({ ...batch, seqFirst: first.seqFirst, count, baseTs: first.baseTs }, Buffer.concat(parts), opts);
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** The Series message of one grouped tag (protobufjs objects: encodeBatch, and the block writer's strings and 64-bit integers); reading i is the i-th in seq, so its seq delta is an index step. */
function seriesMessage(readings: readonly Reading[], c: SeriesColumns, baseTs: number): jinyun.v1.ISeries {
  // Seq and time deltas from the previous reading of the tag (the first from the block's seqFirst / baseTs).
  const seqDelta = c.at.map((i, x) => (x === 0 ? i : i - c.at[x - 1]!));
  const timeDeltaMs = c.at.map((i, x) => readings[i]!.ts - (x === 0 ? baseTs : readings[c.at[x - 1]!]!.ts));
  const values = c.at.map((i) => (isBad(readings[i]!.quality) ? null : readings[i]!.value));
  const out: jinyun.v1.ISeries = { tagId: c.tagId, kind: c.kind, seqDelta, timeDeltaMs, quality: c.anyNotGood ? c.at.map((i) => readings[i]!.quality >>> 0) : [] };
  switch (c.kind) {
    case pb.ValueKind.VALUE_KIND_DOUBLE: out.doubleValues = values.map((v) => (typeof v === 'number' ? v : 0)); break;
    case pb.ValueKind.VALUE_KIND_BOOL: out.boolValues = values.map((v) => v === true); break;
    case pb.ValueKind.VALUE_KIND_STRING: out.stringValues = values.map((v) => (typeof v === 'string' ? v : '')); break;
    case pb.ValueKind.VALUE_KIND_INT64:
      out.intValues = values.map((v) => {
        if (typeof v === 'bigint' && BigInt.asIntN(64, v) !== v) throw new RangeError(`tag ${c.tagId} mixes negative values with values above 2^63-1 in one batch`);
        return Long.fromString(typeof v === 'bigint' ? v.toString() : '0', false);
      });
      break;
    case pb.ValueKind.VALUE_KIND_UINT64: out.uintValues = values.map((v) => Long.fromString(typeof v === 'bigint' ? v.toString() : '0', true)); break;
  }
  return out;
}

/** A decoded, validated batch plus the fields the ingest needs for dedupe. */
export interface DecodedBatch extends BatchData {
  count: number;
  bodyHash: number;
  sentTimeMs: number;
}

function safeInt(v: number | Long | null | undefined, field: string): number {
  const n = v == null ? 0 : typeof v === 'number' ? v : v.toNumber();
  if (!Number.isSafeInteger(n)) throw new DecodeError('invalid_batch', `${field} is out of range`);
  return n;
}

/** Decodes and validates a batch; throws DecodeError with a reason code on anything malformed. */
export function decodeBatch(bytes: Uint8Array): DecodedBatch {
  if (bytes.length > LIMITS.maxEnvelopeBytes + LIMITS.maxBodyBytes) throw new DecodeError('too_large', `batch of ${bytes.length} bytes exceeds the limit`);
  let env: jinyun.v1.Batch;
  try {
    env = pb.Batch.decode(bytes);
  } catch (err) {
    throw new DecodeError('malformed', `not a Batch: ${(err as Error).message}`, { cause: err });
  }
  const producerId = env.producerId;
  if (!producerId || producerId.length > LIMITS.maxProducerIdLength) throw new DecodeError('invalid_batch', 'producer_id is empty or too long');
  const epoch = safeInt(env.epoch, 'epoch');
  const seqFirst = safeInt(env.seqFirst, 'seq_first');
  const baseTs = safeInt(env.baseTimeMs, 'base_time_ms');
  const count = env.count;
  if (epoch < 1) throw new DecodeError('invalid_batch', 'epoch must be at least 1');
  if (count < 1 || count > LIMITS.maxReadings) throw new DecodeError('invalid_batch', `count ${count} is outside 1..${LIMITS.maxReadings}`);
  if (fnv1a(env.body) !== env.bodyHash >>> 0) throw new DecodeError('hash_mismatch', 'body_hash does not match the body');
  const readings = decodeBody(env, seqFirst, baseTs, count);
  return { producerId, epoch, seqFirst, readings, historical: env.historical, count, bodyHash: env.bodyHash >>> 0, sentTimeMs: safeInt(env.sentTimeMs, 'sent_time_ms') };
}

function decodeBody(env: jinyun.v1.Batch, seqFirst: number, baseTs: number, count: number): SequencedReading[] {
  let raw = env.body;
  if (env.compression === pb.Compression.COMPRESSION_DEFLATE) {
    try {
      raw = inflateRawSync(raw, { maxOutputLength: LIMITS.maxBodyBytes });
    } catch (err) {
      throw new DecodeError('malformed', `body does not inflate: ${(err as Error).message}`, { cause: err });
    }
  } else if (env.compression !== pb.Compression.COMPRESSION_NONE) {
    throw new DecodeError('unsupported', `unknown compression ${env.compression}`);
  }
  let body: jinyun.v1.BatchBody;
  try {
    body = pb.BatchBody.decode(raw);
  } catch (err) {
    throw new DecodeError('malformed', `body is not a BatchBody: ${(err as Error).message}`, { cause: err });
  }
  const out = new Array<SequencedReading | undefined>(count);
  let filled = fillSeries(out, body.series as jinyun.v1.Series[], seqFirst, seqFirst, baseTs);
  for (const b of body.blocks as jinyun.v1.Block[]) {
    if (b.seqOffset >= count) throw new DecodeError('invalid_batch', `block seq_offset ${b.seqOffset} outside the batch`);
    filled += fillSeries(out, b.series as jinyun.v1.Series[], seqFirst, seqFirst + b.seqOffset, baseTs + b.timeOffsetMs);
  }
  if (filled !== count) throw new DecodeError('invalid_batch', `batch declares ${count} readings but carries ${filled}`);
  return out as SequencedReading[];
}

/** Places the readings of some series into out (indexed by seq - seqFirst); returns how many. */
function fillSeries(out: (SequencedReading | undefined)[], series: jinyun.v1.Series[], seqFirst: number, seqBase: number, tsBase: number): number {
  const count = out.length;
  let filled = 0;
  for (const s of series) {
    const n = s.seqDelta.length;
    if (s.timeDeltaMs.length !== n || (s.quality.length !== 0 && s.quality.length !== n)) throw new DecodeError('invalid_batch', `series ${s.tagId}: column lengths differ`);
    const values = valueColumn(s);
    if (values.length !== n) throw new DecodeError('invalid_batch', `series ${s.tagId}: ${values.length} values for ${n} readings`);
    let seq = seqBase;
    let ts = tsBase;
    for (let i = 0; i < n; i++) {
      seq += s.seqDelta[i]!;
      ts += s.timeDeltaMs[i]!;
      const at = seq - seqFirst;
      if ((i > 0 && s.seqDelta[i] === 0) || at < 0 || at >= count || out[at] !== undefined) throw new DecodeError('invalid_batch', `series ${s.tagId}: seq ${seq} outside the batch or repeated`);
      const quality = s.quality.length === 0 ? 0 : s.quality[i]! >>> 0;
      out[at] = { tagId: s.tagId, seq, ts, quality, value: isBad(quality) ? null : values[i]! };
      filled++;
    }
  }
  return filled;
}

function valueColumn(s: jinyun.v1.Series): Value[] {
  switch (s.kind) {
    case pb.ValueKind.VALUE_KIND_DOUBLE: return s.doubleValues;
    case pb.ValueKind.VALUE_KIND_BOOL: return s.boolValues;
    case pb.ValueKind.VALUE_KIND_STRING:
      for (const v of s.stringValues) if (v.length > LIMITS.maxStringBytes) throw new DecodeError('invalid_batch', `series ${s.tagId}: string value too long`);
      return s.stringValues;
    case pb.ValueKind.VALUE_KIND_INT64: return s.intValues.map((v) => toBigInt(v, false));
    case pb.ValueKind.VALUE_KIND_UINT64: return s.uintValues.map((v) => toBigInt(v, true));
    default: throw new DecodeError('unsupported', `series ${s.tagId}: unknown value kind ${s.kind}`);
  }
}

function toBigInt(v: number | Long, unsigned: boolean): bigint {
  if (typeof v === 'number') return BigInt(v);
  const big = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return unsigned ? big : BigInt.asIntN(64, big);
}

// ---- acks, catalog, status: thin wrappers so callers never touch generated types directly ----

export type AckResultName = 'ok' | 'duplicate' | 'rejected' | 'retry';
const ackResults: Record<AckResultName, number> = { ok: 1, duplicate: 2, rejected: 3, retry: 4 };

export interface AckData {
  producerId: string;
  epoch: number;
  seqFirst: number;
  count: number;
  result: AckResultName;
  reason?: string;
  reasonCode?: string;
}

export function encodeAck(a: AckData): Uint8Array {
  return pb.Ack.encode({ producerId: a.producerId, epoch: a.epoch, seqFirst: a.seqFirst, count: a.count, result: ackResults[a.result], reason: a.reason ?? '', reasonCode: a.reasonCode ?? '' }).finish();
}

export function decodeAck(bytes: Uint8Array): AckData {
  let m: jinyun.v1.Ack;
  try {
    m = pb.Ack.decode(bytes);
  } catch (err) {
    throw new DecodeError('malformed', `not an Ack: ${(err as Error).message}`, { cause: err });
  }
  const result = (Object.keys(ackResults) as AckResultName[]).find((k) => ackResults[k] === m.result);
  if (!result) throw new DecodeError('invalid_ack', `unknown ack result ${m.result}`);
  return { producerId: m.producerId, epoch: safeInt(m.epoch, 'epoch'), seqFirst: safeInt(m.seqFirst, 'seq_first'), count: m.count, result, reason: m.reason, reasonCode: m.reasonCode };
}

export interface TagInfo { id: number; key: string; device: string; unit: string; dataType: string; description: string }
export interface DeviceInfo { name: string; driver: string; endpoint: string }
export interface CatalogData { producerId: string; version: number; tags: TagInfo[]; devices: DeviceInfo[] }

export function encodeCatalog(c: CatalogData): Uint8Array {
  return pb.Catalog.encode(c).finish();
}

export function decodeCatalog(bytes: Uint8Array): CatalogData {
  let m: jinyun.v1.Catalog;
  try {
    m = pb.Catalog.decode(bytes);
  } catch (err) {
    throw new DecodeError('malformed', `not a Catalog: ${(err as Error).message}`, { cause: err });
  }
  const tags = (m.tags as jinyun.v1.TagInfo[]).map((t) => ({ id: t.id, key: t.key, device: t.device, unit: t.unit, dataType: t.dataType, description: t.description }));
  for (const t of tags) if (!t.key || t.key.length > 256 || t.unit.length > 64) throw new DecodeError('invalid_catalog', `tag ${t.id}: key or unit empty or too long`);
  return { producerId: m.producerId, version: safeInt(m.version, 'version'), tags, devices: (m.devices as jinyun.v1.DeviceInfo[]).map((d) => ({ name: d.name, driver: d.driver, endpoint: d.endpoint })) };
}

export interface StatusData { online: boolean; producerId: string; epoch: number; timeMs: number; version: string }

export function encodeStatus(s: StatusData): Uint8Array {
  return pb.Status.encode(s).finish();
}

export function decodeStatus(bytes: Uint8Array): StatusData {
  let m: jinyun.v1.Status;
  try {
    m = pb.Status.decode(bytes);
  } catch (err) {
    throw new DecodeError('malformed', `not a Status: ${(err as Error).message}`, { cause: err });
  }
  return { online: m.online, producerId: m.producerId, epoch: safeInt(m.epoch, 'epoch'), timeMs: safeInt(m.timeMs, 'time_ms'), version: m.version };
}

export const DeviceState = pb.DeviceState;
export type HealthData = jinyun.v1.IHealth;

export function encodeHealth(h: HealthData): Uint8Array {
  return pb.Health.encode(h).finish();
}

export function decodeHealth(bytes: Uint8Array): jinyun.v1.Health {
  try {
    return pb.Health.decode(bytes);
  } catch (err) {
    throw new DecodeError('malformed', `not a Health: ${(err as Error).message}`, { cause: err });
  }
}
