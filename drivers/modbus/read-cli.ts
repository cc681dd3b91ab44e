import { parseArgs } from 'node:util';
import { UsageError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import { Quality, isBad, qualityName } from '../../core/quality.js';
import type { Reading } from '../../core/reading.js';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, cliDevice, intArg } from './cli-connection.js';
import { MODBUS_TABLES, WORD_ORDERS, isBitTable, modbusEndpoint, typeWidth, type ModbusDataType, type ModbusTable, type WordOrder } from './config.js';
import { LineRegistry } from './line-registry.js';
import { ModbusDriver } from './modbus-driver.js';
import { formatRegisterRef, parseRegisterRef } from './register-ref.js';

export const READ_USAGE = `usage: jinyun read (--register 40001 | --table holding --address 0) [--type float32] [--order CDAB]
         [--bit N] [--length N] [--all-orders] [--json] <where>
  Reads one value once and prints it. --register is the 1-based Modicon reference (40001 = holding 0,
  30001 = input 0, 10001 = discrete 0, 00001 = coil 0; 6 digits: 400001); --address is the 0-based
  protocol address inside --table (coil, discrete, input, holding).
  --type bool|int16|uint16|int32|uint32|float32|int64|uint64|float64|string (default uint16, bool on bit tables)
  --all-orders prints the value in every byte/word order (ABCD, CDAB, BADC, DCBA), and with no --type
  every numeric type in every order, beside the raw registers: pick the row that shows the value you expect.
${CONNECTION_USAGE}`;

const usage = (m: string): UsageError => new UsageError(`${m}\n${READ_USAGE}`);
const NUMERIC: readonly ModbusDataType[] = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64', 'float64'];

export interface CliIo {
  stdout?: { write(s: string): unknown };
}

interface Where {
  table: ModbusTable;
  address: number;
}

function location(v: { register?: string | undefined; table?: string | undefined; address?: string | undefined }): Where {
  if (v.register !== undefined) {
    if (v.table !== undefined || v.address !== undefined) throw usage('give --register, or --table and --address, not both');
    const ref = parseRegisterRef(/^\d+$/.test(v.register) && v.register.length < 5 ? Number(v.register) : v.register);
    if (typeof ref === 'string') throw usage(ref);
    return ref;
  }
  if (v.table === undefined || v.address === undefined) throw usage('give --register (e.g. 40001), or --table and --address');
  if (!(MODBUS_TABLES as readonly string[]).includes(v.table)) throw usage(`--table must be one of ${MODBUS_TABLES.join(', ')}`);
  return { table: v.table as ModbusTable, address: intArg('address', v.address, 0, 65535, usage) };
}

/** How a value looks on the command line: bigints and numbers plain, strings quoted, Bad as the quality name. */
export function showValue(r: Reading | undefined): string {
  if (!r) return '-';
  if (r.quality === Quality.BadSensorFailure && r.value === null) return 'NaN';
  if (isBad(r.quality)) return qualityName(r.quality);
  return typeof r.value === 'string' ? JSON.stringify(r.value) : String(r.value);
}

const jsonValue = (r: Reading | undefined): unknown => (r === undefined ? null : typeof r.value === 'bigint' ? r.value.toString() : r.quality === Quality.BadSensorFailure ? 'NaN' : isBad(r.quality) ? qualityName(r.quality) : r.value);

/** What one `jinyun read` asks: the value, optionally a grid of types x orders, and the raw registers under them. */
interface ReadPlan {
  where: Where;
  type: ModbusDataType;
  /** Undefined for a coil or discrete input. */
  order: WordOrder | undefined;
  grid: readonly ModbusDataType[];
  /** Raw registers read beside the value (0 for bits). */
  width: number;
  tags: Record<string, unknown>[];
}

type ReadValues = { type?: string | undefined; order: string; bit?: string | undefined; length?: string | undefined; 'all-orders': boolean; register?: string | undefined; table?: string | undefined; address?: string | undefined };

function readPlan(v: ReadValues): ReadPlan {
  const where = location(v);
  const bits = isBitTable(where.table);
  if (v.type !== undefined && !(NUMERIC as readonly string[]).concat('bool', 'string').includes(v.type)) throw usage(`unknown --type "${v.type}"`);
  if (!(WORD_ORDERS as readonly string[]).includes(v.order)) throw usage(`--order must be one of ${WORD_ORDERS.join(', ')}`);
  const type = (v.type ?? (bits ? 'bool' : 'uint16')) as ModbusDataType;
  const extra = { ...(v.bit === undefined ? {} : { bit: intArg('bit', v.bit, 0, 15, usage) }), ...(v.length === undefined ? {} : { length: intArg('length', v.length, 1, 125, usage) }) };
  const order = bits ? undefined : (v.order as WordOrder);
  const grid = v['all-orders'] && !bits ? (v.type === undefined ? NUMERIC : [type]) : [];
  const tags: Record<string, unknown>[] = [{ name: 'value', ...where, type, ...extra, ...(order ? { wordOrder: order } : {}) }];
  for (const t of grid) for (const o of WORD_ORDERS) tags.push({ name: `${t}-${o}`, ...where, type: t, ...extra, wordOrder: o });
  const width = bits ? 0 : Math.max(...[type, ...grid].map((t) => typeWidth({ type: t, length: extra.length })));
  if (where.address + width > 65536) throw usage(`a ${width}-register read does not fit after address ${where.address}`);
  for (let i = 0; i < width; i++) tags.push({ name: `raw-${i}`, table: where.table, address: where.address + i, type: 'uint16' });
  return { where, type, order, grid, width, tags };
}

function formatJson(p: ReadPlan, endpoint: string, by: Map<string, Reading | undefined>): string {
  const value = by.get('value');
  const raw = Array.from({ length: p.width }, (_, i) => by.get(`raw-${i}`)?.value ?? null);
  const orders = Object.fromEntries(p.grid.map((t) => [t, Object.fromEntries(WORD_ORDERS.map((o) => [o, jsonValue(by.get(`${t}-${o}`))]))]));
  const doc = {
    endpoint, table: p.where.table, address: p.where.address, ref: formatRegisterRef(p.where.table, p.where.address), type: p.type, ...(p.order ? { order: p.order } : {}),
    value: jsonValue(value), quality: qualityName(value?.quality ?? Quality.BadInternalError), ...(p.width ? { registers: raw } : {}), ...(p.grid.length ? { orders } : {}),
  };
  return `${JSON.stringify(doc)}\n`;
}

function formatText(p: ReadPlan, endpoint: string, by: Map<string, Reading | undefined>): string {
  const lines = [`${endpoint}, ${p.where.table} ${p.where.address} (${formatRegisterRef(p.where.table, p.where.address)}), ${p.type}${p.order ? ` ${p.order}` : ''}: ${showValue(by.get('value'))}`];
  const raw = Array.from({ length: p.width }, (_, i) => by.get(`raw-${i}`));
  if (p.width > 0) lines.push(`registers: ${raw.map((r) => (typeof r?.value === 'number' ? `0x${r.value.toString(16).padStart(4, '0')}` : showValue(r))).join(' ')}`);
  if (p.grid.length > 0) {
    const cell = (s: string): string => s.padEnd(24);
    lines.push(`${cell('type')}${WORD_ORDERS.map(cell).join('')}`.trimEnd());
    for (const t of p.grid) lines.push(`${cell(t)}${WORD_ORDERS.map((o) => cell(showValue(by.get(`${t}-${o}`)))).join('')}`.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

/** `jinyun read ...`: one read through the driver (same planner, framing and decoders as the edge). */
export async function runRead(argv: string[], io: CliIo = {}): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      ...CONNECTION_OPTIONS,
      register: { type: 'string' }, table: { type: 'string' }, address: { type: 'string' },
      type: { type: 'string' }, order: { type: 'string', default: 'ABCD' }, bit: { type: 'string' }, length: { type: 'string' },
      'all-orders': { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const plan = readPlan(v);
  const device = cliDevice(v, plan.tags, usage);
  const driver = new ModbusDriver(device, { logger: silentLogger(), lines: new LineRegistry() });
  let readings: Reading[];
  try {
    readings = await driver.read(device.tags.map((config, i) => ({ tagId: i, key: `cli/${config.name}`, config })));
  } finally {
    await driver.close();
  }
  const by = new Map(device.tags.map((t, i) => [t.name, readings[i]]));
  const endpoint = modbusEndpoint(device);
  (io.stdout ?? process.stdout).write(v.json ? formatJson(plan, endpoint, by) : formatText(plan, endpoint, by));
  const value = by.get('value');
  if (!value || isBad(value.quality)) throw new Error(`${endpoint}: ${plan.where.table} ${plan.where.address}: ${qualityName(value?.quality ?? Quality.BadInternalError)} (${driver.health().lastError || 'no answer'})`);
}
