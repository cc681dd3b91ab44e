import { isBitTable, typeWidth, type ModbusDataType, type ModbusTable } from './config.js';

/** Modbus read function codes by table. */
export const READ_FC: Record<ModbusTable, 1 | 2 | 3 | 4> = { coil: 1, discrete: 2, holding: 3, input: 4 };

/** Protocol limits of one read request (Modbus Application Protocol V1.1b3, 6.1-6.4). */
export const MAX_READ_BITS = 2000;
export const MAX_READ_REGISTERS = 125;

/** What the planner needs to know about a point. */
export interface PlannableTag {
  table: ModbusTable;
  address: number;
  type: ModbusDataType;
  /** Registers of a string. */
  length?: number | undefined;
  /** Device (unit id) of the tag when one plan covers several devices; requests never mix them. */
  unitId?: number | undefined;
  /** Poll interval of the tag when tags of one device have different ones; requests never mix them. */
  pollIntervalMs?: number | undefined;
}

export interface PlanLimits {
  /** Most registers per FC3/FC4 request (1..125). */
  maxBlockRegisters: number;
  /** Unused registers a request may span to join two tags (0 = adjacent only). */
  maxGapRegisters: number;
}

export interface PlannedPoint<P> {
  point: P;
  /** Position of the point in the input array (readings come back in input order). */
  index: number;
  /** Register (or bit) offset of the point inside the response. */
  offset: number;
}

export interface ReadRequest<P> {
  unitId: number | undefined;
  pollIntervalMs: number | undefined;
  table: ModbusTable;
  fc: 1 | 2 | 3 | 4;
  start: number;
  /** Registers for FC3/FC4, bits for FC1/FC2. */
  count: number;
  points: PlannedPoint<P>[];
}

/** Per-request limits for a table: bits use 16x the register figures, capped at 2000. */
export function tableLimits(table: ModbusTable, limits: PlanLimits): { maxCount: number; maxGap: number } {
  if (isBitTable(table)) {
    return { maxCount: Math.min(MAX_READ_BITS, limits.maxBlockRegisters * 16), maxGap: limits.maxGapRegisters * 16 };
  }
  return { maxCount: Math.min(MAX_READ_REGISTERS, limits.maxBlockRegisters), maxGap: limits.maxGapRegisters };
}

const TABLE_ORDER: readonly ModbusTable[] = ['coil', 'discrete', 'holding', 'input'];

type Item<P> = { point: P; index: number; tag: PlannableTag; width: number };

/**
 * Groups the points into the fewest read requests: per unit id, poll interval and table (so per
 * function code), sorted by address, a point joins the current request when the unused gap before
 * it is at most maxGap and the request still fits maxCount. A multi-register value always lies
 * inside one request. Requests come out by unit id, interval, function code, then start address.
 * Throws RangeError for a point that cannot fit any request (the config schema rules these out).
 */
export function planReads<P>(points: readonly P[], tagOf: (p: P) => PlannableTag, limits: PlanLimits): ReadRequest<P>[] {
  const groups = new Map<string, Item<P>[]>();
  points.forEach((point, index) => {
    const tag = tagOf(point);
    const key = `${tag.unitId ?? -1}|${tag.pollIntervalMs ?? -1}|${TABLE_ORDER.indexOf(tag.table)}`;
    const list = groups.get(key) ?? [];
    list.push({ point, index, tag, width: isBitTable(tag.table) ? 1 : typeWidth(tag) });
    groups.set(key, list);
  });
  const keys = [...groups.keys()].sort((a, b) => {
    const [ua, ia, ta] = a.split('|').map(Number);
    const [ub, ib, tb] = b.split('|').map(Number);
    return ua! - ub! || ia! - ib! || ta! - tb!;
  });
  return keys.flatMap((k) => planGroup(groups.get(k)!, limits));
}

function planGroup<P>(items: Item<P>[], limits: PlanLimits): ReadRequest<P>[] {
  const { table, unitId, pollIntervalMs } = items[0]!.tag;
  const { maxCount, maxGap } = tableLimits(table, limits);
  items.sort((a, b) => a.tag.address - b.tag.address || b.width - a.width || a.index - b.index);
  const requests: ReadRequest<P>[] = [];
  let current: { start: number; end: number; members: Item<P>[] } | null = null;
  const flush = (): void => {
    if (!current) return;
    const { start, end, members } = current;
    const points = members.map((m) => ({ point: m.point, index: m.index, offset: m.tag.address - start }));
    requests.push({ unitId, pollIntervalMs, table, fc: READ_FC[table], start, count: end - start, points });
  };
  for (const item of items) {
    const a = item.tag.address;
    const e = a + item.width;
    if (item.width > maxCount || e > 65536) throw new RangeError(`${table} ${a} (${item.tag.type}) cannot be read within ${maxCount} per request`);
    if (current && a - current.end <= maxGap && Math.max(current.end, e) - current.start <= maxCount) {
      current.end = Math.max(current.end, e);
      current.members.push(item);
    } else {
      flush();
      current = { start: a, end: e, members: [item] };
    }
  }
  flush();
  return requests;
}

/**
 * Smaller requests for the points of a request the device refused (exception 2 or 3): the same
 * points planned with no gap at all, or, when that changes nothing (the points are adjacent), one
 * request per point. Point indices stay those of the original input. Returns [] for a request of
 * one point (nothing left to split).
 */
export function splitRequest<P>(req: ReadRequest<P>, tagOf: (p: P) => PlannableTag, limits: PlanLimits): ReadRequest<P>[] {
  if (req.points.length <= 1) return [];
  const points = req.points.map((pp) => pp.point);
  const gapless = planReads(points, tagOf, { maxBlockRegisters: limits.maxBlockRegisters, maxGapRegisters: 0 });
  const parts = gapless.length > 1 ? gapless : points.map((p) => planReads([p], tagOf, limits));
  return parts.flat().map((q, i) => ({
    ...q,
    points: q.points.map((pp) => ({ ...pp, index: req.points[gapless.length > 1 ? pp.index : i]!.index })),
  }));
}
