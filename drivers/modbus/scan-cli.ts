import { parseArgs } from 'node:util';
import { DecodeError, TimeoutError, UsageError, errorMessage } from '../../core/errors.js';
import { EXCEPTION_NAMES } from './classify-fault.js';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, cliDevice } from './cli-connection.js';
import { MODBUS_TABLES, isBitTable, modbusEndpoint, type ModbusTable } from './config.js';
import { ModbusExceptionError, parseReadResponse, readRequestPdu } from './frames.js';
import { ModbusLine } from './line.js';
import { lineOptions } from './line-registry.js';
import { MAX_READ_BITS, MAX_READ_REGISTERS, READ_FC } from './planner.js';
import type { CliIo } from './read-cli.js';

export const SCAN_USAGE = `usage: jinyun scan [--units 1-10] [--table holding] [--addresses 0-99] [--block 125] [--json] <where>
  Probes each unit id with a one-register (or one-bit) read at the first address; for every unit that answers,
  reads the address range in blocks (halving a block the device refuses) and reports which addresses answer,
  which give an exception, and how many hold a non-zero value. Addresses are 0-based protocol addresses
  (holding 0 = 40001). Each silent unit costs one --timeout: on a serial line keep --units narrow.
${CONNECTION_USAGE.replace('--unit N (unit id, default 1), ', '')}`;

const usage = (m: string): UsageError => new UsageError(`${m}\n${SCAN_USAGE}`);

type Answer = { kind: 'data'; data: ArrayLike<number> } | { kind: 'exception'; code: number } | { kind: 'timeout' } | { kind: 'garbled'; message: string };

export interface Segment {
  from: number;
  to: number;
  /** "readable", "exception N", "timeout" or "garbled". */
  status: string;
  nonZero: number;
}

export interface UnitScan {
  unit: number;
  /** "answers", "no answer", "gateway: exception 10/11", or "exception N" when the probe got one. */
  status: string;
  segments: Segment[];
}

function range(name: string, raw: string, min: number, max: number): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(raw);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2] ?? m?.[1]);
  if (!m || lo < min || hi > max || hi < lo) throw usage(`--${name} must be N or N-M within ${min}-${max} (got "${raw}")`);
  return [lo, hi];
}

/** Asks one read on the line and says what came back; never throws for device trouble. */
async function ask(line: ModbusLine, unit: number, fc: 1 | 2 | 3 | 4, start: number, count: number, timeoutMs: number): Promise<Answer> {
  if (!line.isOpen) await line.connect(timeoutMs);
  try {
    const pdu = await line.request(unit, readRequestPdu(fc, start, count), timeoutMs);
    return { kind: 'data', data: parseReadResponse(fc, count, pdu) };
  } catch (err) {
    if (err instanceof ModbusExceptionError) return { kind: 'exception', code: err.modbusCode };
    if (err instanceof TimeoutError) return { kind: 'timeout' };
    if (err instanceof DecodeError) return { kind: 'garbled', message: err.message };
    throw err;
  }
}

const statusOf = (a: Answer): string => (a.kind === 'data' ? 'readable' : a.kind === 'exception' ? `exception ${a.code}` : a.kind);

/** Reads [lo, hi] in blocks, halving any block that gets an exception, and merges runs of the same status. */
async function scanRange(line: ModbusLine, unit: number, fc: 1 | 2 | 3 | 4, lo: number, hi: number, block: number, timeoutMs: number): Promise<Segment[]> {
  const parts: Segment[] = [];
  const visit = async (a: number, b: number): Promise<void> => {
    const got = await ask(line, unit, fc, a, b - a + 1, timeoutMs);
    if (got.kind === 'exception' && b > a) {
      const mid = Math.floor((a + b) / 2);
      await visit(a, mid);
      await visit(mid + 1, b);
      return;
    }
    let nonZero = 0;
    if (got.kind === 'data') for (let i = 0; i < got.data.length; i++) if (got.data[i] !== 0) nonZero++;
    parts.push({ from: a, to: b, status: statusOf(got), nonZero });
  };
  for (let a = lo; a <= hi; a += block) await visit(a, Math.min(hi, a + block - 1));
  const merged: Segment[] = [];
  for (const p of parts) {
    const last = merged.at(-1);
    if (last && last.status === p.status && last.to + 1 === p.from) {
      last.to = p.to;
      last.nonZero += p.nonZero;
    } else merged.push({ ...p });
  }
  return merged;
}

/** Scans unit ids and addresses on one line; returns one entry per unit id, in order. */
export async function scanLine(line: ModbusLine, o: { units: [number, number]; table: ModbusTable; addresses: [number, number]; block: number; timeoutMs: number }): Promise<UnitScan[]> {
  const fc = READ_FC[o.table];
  const out: UnitScan[] = [];
  for (let unit = o.units[0]; unit <= o.units[1]; unit++) {
    const probe = await ask(line, unit, fc, o.addresses[0], 1, o.timeoutMs);
    if (probe.kind === 'timeout' || probe.kind === 'garbled') {
      out.push({ unit, status: probe.kind === 'timeout' ? 'no answer' : `garbled answer (${probe.message})`, segments: [] });
      continue;
    }
    if (probe.kind === 'exception' && (probe.code === 10 || probe.code === 11)) {
      out.push({ unit, status: `gateway: exception ${probe.code} (${EXCEPTION_NAMES[probe.code]})`, segments: [] });
      continue;
    }
    if (probe.kind === 'exception' && probe.code === 1) {
      out.push({ unit, status: `exception 1 (${EXCEPTION_NAMES[1]}): no ${o.table} table`, segments: [] });
      continue;
    }
    out.push({ unit, status: 'answers', segments: await scanRange(line, unit, fc, o.addresses[0], o.addresses[1], o.block, o.timeoutMs) });
  }
  return out;
}

const rangeText = (a: number, b: number): string => (a === b ? `${a}` : `${a}-${b}`);

/** The text report: answering units with their address segments, silent ones folded into ranges. */
export function formatScan(endpoint: string, table: ModbusTable, scans: UnitScan[]): string {
  const lines = [`scan of ${endpoint.replace(/ unit \d+$/, '')}, ${table}:`];
  const silent: number[] = [];
  for (const s of scans) {
    if (s.status === 'no answer') {
      silent.push(s.unit);
      continue;
    }
    lines.push(`unit ${s.unit}: ${s.status}`);
    for (const g of s.segments) {
      const name = g.status.startsWith('exception ') ? `${g.status} (${EXCEPTION_NAMES[Number(g.status.slice(10))] ?? 'unknown'})` : g.status;
      lines.push(`  ${table} ${rangeText(g.from, g.to)}: ${name}${g.status === 'readable' ? ` (${g.nonZero} non-zero)` : ''}`);
    }
  }
  if (silent.length > 0) {
    const runs: string[] = [];
    for (let i = 0; i < silent.length; ) {
      let j = i;
      while (j + 1 < silent.length && silent[j + 1] === silent[j]! + 1) j++;
      runs.push(rangeText(silent[i]!, silent[j]!));
      i = j + 1;
    }
    lines.push(`no answer (timeout): unit${silent.length > 1 ? 's' : ''} ${runs.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `jinyun scan ...` */
export async function runScan(argv: string[], io: CliIo = {}): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: { ...CONNECTION_OPTIONS, units: { type: 'string', default: '1-10' }, table: { type: 'string', default: 'holding' }, addresses: { type: 'string', default: '0-99' }, block: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: false,
  });
  if (!(MODBUS_TABLES as readonly string[]).includes(v.table)) throw usage(`--table must be one of ${MODBUS_TABLES.join(', ')}`);
  const table = v.table as ModbusTable;
  const maxBlock = isBitTable(table) ? MAX_READ_BITS : MAX_READ_REGISTERS;
  const units = range('units', v.units, 0, 255);
  const addresses = range('addresses', v.addresses, 0, 65535);
  const block = v.block === undefined ? maxBlock : range('block', v.block, 1, maxBlock)[0];
  const device = cliDevice({ ...v, unit: String(units[0]) }, [{ name: 'x', table: 'holding', address: 0, type: 'uint16' }], usage);
  const line = new ModbusLine(lineOptions(device));
  line.users = 2; // a silent unit must not cost a reconnect each time (the line still drops after 3 timeouts in a row)
  let scans: UnitScan[];
  try {
    scans = await scanLine(line, { units, table, addresses, block, timeoutMs: device.timeoutMs });
  } catch (err) {
    throw new Error(`${modbusEndpoint(device).replace(/ unit \d+$/, '')}: ${errorMessage(err)}`, { cause: err });
  } finally {
    await line.close();
  }
  const out = io.stdout ?? process.stdout;
  out.write(v.json ? `${JSON.stringify({ endpoint: modbusEndpoint(device).replace(/ unit \d+$/, ''), table, units: scans })}\n` : formatScan(modbusEndpoint(device), table, scans));
}
