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
  const where = location(v);
  const bits = isBitTable(where.table);
  if (v.type !== undefined && !(NUMERIC as readonly string[]).concat('bool', 'string').includes(v.type)) throw usage(`unknown --type "${v.type}"`);
  if (!(WORD_ORDERS as readonly string[]).includes(v.order)) throw usage(`--order must be one of ${WORD_ORDERS.join(', ')}`);
  const type = (v.type ?? (bits ? 'bool' : 'uint16')) as ModbusDataType;
  const extra = { ...(v.bit === undefined ? {} : { bit: intArg('bit', v.bit, 0, 15, usage) }), ...(v.length === undefined ? {} : { length: intArg('length', v.length, 1, 125, usage) }) };
  const order = v.order as WordOrder;
  const main = { name: 'value', ...where, type, ...extra, ...(bits ? {} : { wordOrder: order }) };
  const grid = v['all-orders'] && !bits ? (v.type === undefined ? NUMERIC : [type]) : [];
  const tags: Record<string, unknown>[] = [main];
  for (const t of grid) for (const o of WORD_ORDERS) tags.push({ name: `${t}-${o}`, ...where, type: t, ...extra, wordOrder: o });
  const width = bits ? 0 : Math.max(typeWidth({ type, length: extra.length }), ...grid.map((t) => typeWidth({ type: t, length: extra.length })));
  if (!bits && where.address + width > 65536) throw usage(`a ${width}-register read does not fit after address ${where.address}`);
  for (let i = 0; i < width; i++) tags.push({ name: `raw-${i}`, table: where.table, address: where.address + i, type: 'uint16' });

  const device = cliDevice(v, tags, usage);
  const driver = new ModbusDriver(device, { logger: silentLogger(), lines: new LineRegistry() });
  let readings: Reading[];
  try {
    readings = await driver.read(device.tags.map((config, i) => ({ tagId: i, key: `cli/${config.name}`, config })));
  } finally {
    await driver.close();
  }
  const by = new Map(device.tags.map((t, i) => [t.name, readings[i]]));
  const value = by.get('value');
  const raw = Array.from({ length: width }, (_, i) => by.get(`raw-${i}`));
  const out = io.stdout ?? process.stdout;
  const endpoint = modbusEndpoint(device);
  const ref = formatRegisterRef(where.table, where.address);
  if (v.json) {
    const grids = Object.fromEntries(grid.map((t) => [t, Object.fromEntries(WORD_ORDERS.map((o) => [o, jsonValue(by.get(`${t}-${o}`))]))]));
    out.write(`${JSON.stringify({ endpoint, table: where.table, address: where.address, ref, type, ...(bits ? {} : { order }), value: jsonValue(value), quality: qualityName(value?.quality ?? Quality.BadInternalError), ...(width ? { registers: raw.map((r) => (typeof r?.value === 'number' ? r.value : null)) } : {}), ...(grid.length ? { orders: grids } : {}) })}\n`);
  } else {
    const regs = raw.map((r) => (typeof r?.value === 'number' ? `0x${r.value.toString(16).padStart(4, '0')}` : showValue(r))).join(' ');
    out.write(`${endpoint}, ${where.table} ${where.address} (${ref}), ${type}${bits ? '' : ` ${order}`}: ${showValue(value)}\n`);
    if (width > 0) out.write(`registers: ${regs}\n`);
    if (grid.length > 0) {
      const cell = (s: string): string => s.padEnd(24);
      out.write(`${cell('type')}${WORD_ORDERS.map((o) => cell(o)).join('').trimEnd()}\n`);
      for (const t of grid) out.write(`${cell(t)}${WORD_ORDERS.map((o) => cell(showValue(by.get(`${t}-${o}`)))).join('').trimEnd()}\n`);
    }
  }
  if (!value || isBad(value.quality)) throw new Error(`${endpoint}: ${where.table} ${where.address}: ${qualityName(value?.quality ?? Quality.BadInternalError)} (${driver.health().lastError || 'no answer'})`);
}
