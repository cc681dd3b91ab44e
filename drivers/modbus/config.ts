import { z } from 'zod';
import { ID_PATTERN } from '../../core/topics.js';
import { parseRegisterRef } from './register-ref.js';

const idLike = (what: string) =>
  z.string().regex(ID_PATTERN, `${what} must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`);

export const MODBUS_TABLES = ['coil', 'discrete', 'input', 'holding'] as const;
export const MODBUS_DATA_TYPES = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64', 'float64', 'string'] as const;
export const WORD_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;

export type ModbusTable = (typeof MODBUS_TABLES)[number];
export type ModbusDataType = (typeof MODBUS_DATA_TYPES)[number];
export type WordOrder = (typeof WORD_ORDERS)[number];

export const isBitTable = (table: ModbusTable): boolean => table === 'coil' || table === 'discrete';

/** What the width of a tag depends on. */
export interface WidthOf {
  type: ModbusDataType;
  /** Registers of a string. */
  length?: number | undefined;
}

/** Registers (or bits, for a bool in a bit table) a value occupies. A bit-in-register bool takes 1 register. */
export function typeWidth(t: ModbusDataType | WidthOf): number {
  const { type, length } = typeof t === 'string' ? { type: t, length: undefined } : t;
  switch (type) {
    case 'int32': case 'uint32': case 'float32': return 2;
    case 'int64': case 'uint64': case 'float64': return 4;
    case 'string': return length ?? 1;
    default: return 1;
  }
}

const wordOrderSchema = z
  .enum(WORD_ORDERS)
  .describe(
    'Order of the bytes as they arrive on the wire, A = most significant. ABCD = big-endian, high word first (the Modbus standard); CDAB = word-swapped (low word first, common on PLCs); BADC = bytes swapped inside each register; DCBA = little-endian. 64-bit values: ABCD = ABCDEFGH, CDAB = GHEFCDAB (4 words in reverse order), BADC = BADCFEHG, DCBA = HGFEDCBA. 16-bit values and strings use only the byte swap part (BADC and DCBA swap the two bytes of each register).',
  );

const tagShape = {
  name: idLike('tag name').describe('Tag name, unique within the device; the reading key is "{device}/{tag}".'),
  table: z
    .enum(MODBUS_TABLES)
    .optional()
    .describe('Modbus table: coil (FC1, 0xxxx), discrete input (FC2, 1xxxx), input register (FC4, 3xxxx) or holding register (FC3, 4xxxx). Give table + address, or register.'),
  address: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe('0-based protocol address inside the table, as sent on the wire (holding register 40001 is table holding, address 0). Give table + address, or register.'),
  register: z
    .union([z.number().int(), z.string()])
    .optional()
    .describe(
      '1-based "Modicon" reference instead of table + address: 5 digits 00001-09999 coil, 10001-19999 discrete, 30001-39999 input, 40001-49999 holding (40001 = holding address 0); 6 digits 000001-065536, 100001-165536, 300001-365536, 400001-465536 (400001 = holding address 0). A number is read as 5-digit up to 49999 and 6-digit from 100001; 6-digit coils must be quoted ("000001").',
    ),
  type: z
    .enum(MODBUS_DATA_TYPES)
    .describe(
      'bool (a coil or discrete input, or one bit of a register with "bit"); int16/uint16 (1 register); int32/uint32/float32 (2); int64/uint64 (4, value is a bigint) or float64 (4); string (length registers, 2 characters each).',
    ),
  bit: z.number().int().min(0).max(15).optional().describe('For a bool in an input or holding register: bit number, 0 = least significant bit of the register value (after the byte swap of BADC/DCBA).'),
  length: z.number().int().min(1).max(125).optional().describe('For a string: registers it occupies (2 characters each). Trailing NUL bytes and spaces are removed.'),
  wordOrder: wordOrderSchema.optional().describe('Byte/word order of this tag; overrides the device wordOrder. ' + (wordOrderSchema.description ?? '')),
  scale: z
    .number()
    .refine((v) => v !== 0, 'scale must not be 0')
    .default(1)
    .describe('Multiplier: value = raw * scale + offset (e.g. 0.1 for a register that holds tenths). Numeric types only; a scaled int64/uint64 becomes a number.'),
  offset: z.number().default(0).describe('Added after scaling: value = raw * scale + offset. Numeric types only.'),
  unit: z.string().max(32).default('').describe('Engineering unit shown in the catalog, e.g. "%CH4", "ppm", "m/s", "degC".'),
  min: z.number().optional().describe('Engineering range, low end (after scaling). A value below it is delivered with quality UncertainEngineeringUnitsExceeded.'),
  max: z.number().optional().describe('Engineering range, high end (after scaling). A value above it is delivered with quality UncertainEngineeringUnitsExceeded.'),
  description: z.string().max(256).default('').describe('Free text for the catalog and the dashboard.'),
};

type TagIn = z.output<z.ZodObject<typeof tagShape>>;

/** Checks that do not depend on the address notation. */
function checkTag(tag: TagIn & { table: ModbusTable; address: number }, ctx: z.RefinementCtx): void {
  const issue = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message });
  const bitTable = isBitTable(tag.table);
  const numeric = tag.type !== 'bool' && tag.type !== 'string';
  if (bitTable && tag.type !== 'bool') issue('type', `a ${tag.table} tag must have type "bool" (got "${tag.type}")`);
  if (!bitTable && tag.type === 'bool' && tag.bit === undefined) {
    issue('type', `type "bool" on ${tag.table === 'input' ? 'an input' : 'a holding'} register needs "bit" (0-15); or use a numeric type`);
  }
  if (tag.bit !== undefined && (bitTable || tag.type !== 'bool')) issue('bit', 'bit applies to a bool in an input or holding register only');
  if (tag.type === 'string' && tag.length === undefined) issue('length', 'a string needs "length" (registers, 2 characters each)');
  if (tag.length !== undefined && tag.type !== 'string') issue('length', 'length applies to type string only');
  const width = typeWidth(tag);
  if (tag.address + width > 65536) issue('address', `a ${tag.type} needs ${width} registers: address must be at most ${65536 - width} (got ${tag.address})`);
  if (!numeric && (tag.scale !== 1 || tag.offset !== 0)) issue('scale', `scale and offset apply to numeric types only, not to a ${tag.type} tag`);
  if (!numeric && (tag.min !== undefined || tag.max !== undefined)) issue('min', `min and max apply to numeric types only, not to a ${tag.type} tag`);
  if (tag.min !== undefined && tag.max !== undefined && tag.max < tag.min) issue('max', `max must be at least min (${tag.min})`);
  if (bitTable && tag.wordOrder !== undefined) issue('wordOrder', 'wordOrder applies to register types only, not to a coil or discrete input');
}

export const modbusTagSchema = z
  .strictObject(tagShape)
  .superRefine((tag, ctx) => {
    if (tag.register !== undefined) {
      if (tag.table !== undefined || tag.address !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['register'], message: 'give either register (e.g. 40001) or table + address, not both' });
        return;
      }
      const ref = parseRegisterRef(tag.register);
      if (typeof ref === 'string') ctx.addIssue({ code: 'custom', path: ['register'], message: ref });
      else checkTag({ ...tag, ...ref }, ctx);
      return;
    }
    if (tag.table === undefined) ctx.addIssue({ code: 'custom', path: ['table'], message: 'table is required (or give register, e.g. 40001)' });
    if (tag.address === undefined) ctx.addIssue({ code: 'custom', path: ['address'], message: 'address is required (or give register, e.g. 40001)' });
    if (tag.table !== undefined && tag.address !== undefined) checkTag({ ...tag, table: tag.table, address: tag.address }, ctx);
  })
  .transform(({ register, table, address, ...rest }) => {
    const where = register === undefined ? { table: table!, address: address! } : (parseRegisterRef(register) as { table: ModbusTable; address: number });
    const { name, ...others } = rest;
    return { name, ...where, ...others };
  })
  .describe('One value read from the device.');

const positiveMs = (min: number, max: number, def: number) => z.number().int().min(min).max(max).default(def);

/** Keys every Modbus device has, whatever its transport. */
const commonShape = {
  name: idLike('device name').describe('Device name, unique within the gateway.'),
  unitId: z.number().int().min(0).max(255).default(1).describe('Unit id (slave address) sent in every request; several devices may share one line or connection with different unit ids.'),
  timeoutMs: positiveMs(50, 60_000, 1000).describe('Longest wait for a connection or a response. A request that times out marks its tags BadTimeout; the device waits a backoff before its next request.'),
  pollIntervalMs: positiveMs(10, 3_600_000, 1000).describe('How often the tags are read.'),
  maxBlockRegisters: z
    .number()
    .int()
    .min(1)
    .max(125)
    .default(125)
    .describe('Most registers in one FC3/FC4 request (the protocol allows 125). Bit reads use at most 16x this, capped at 2000 bits. Lower it for devices that reject long reads.'),
  maxGapRegisters: z
    .number()
    .int()
    .min(0)
    .max(124)
    .default(10)
    .describe('Unused registers a request may span to merge two tags into one read; 0 merges only adjacent tags. Bit tables use 16x this. Set 0 if the device answers exception 2 for unmapped addresses in a gap.'),
  wordOrder: wordOrderSchema.default('ABCD').describe('Default byte/word order of the tags of this device. ' + (wordOrderSchema.description ?? '')),
  reconnectInitialMs: positiveMs(10, 600_000, 1000).describe(
    'First wait before reconnecting after the connection failed (and before asking a device that timed out again); doubles with jitter up to reconnectMaxMs. Polls in between report BadNotConnected without touching the network.',
  ),
  reconnectMaxMs: positiveMs(10, 3_600_000, 30_000).describe('Longest wait between reconnect attempts.'),
  tags: z.array(modbusTagSchema).min(1, 'a device needs at least one tag').describe('The values to read.'),
};

const netShape = {
  host: z.string().min(1).max(253).default('127.0.0.1').describe('Host name or IP address of the Modbus TCP server or serial-to-Ethernet converter.'),
  port: z.number().int().min(1).max(65535).default(502).describe('TCP port.'),
};

export const PARITIES = ['none', 'even', 'odd'] as const;

const serialShape = {
  path: z.string().min(1).max(256).describe('Serial device, e.g. /dev/ttyUSB0 or /dev/ttyS1 (COM3 on Windows).'),
  baudRate: z.number().int().min(300).max(921_600).default(9600).describe('Bits per second; every device on the line uses the same.'),
  parity: z.enum(PARITIES).default('none').describe('Parity bit: none, even (the Modbus standard default) or odd.'),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8).describe('Data bits per character; Modbus RTU uses 8.'),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1).describe('Stop bits; the standard uses 2 when parity is none, most devices accept 1.'),
};

const interFrameDelayMs = z
  .number()
  .min(0)
  .max(1000)
  .optional()
  .describe('Silence before each request on the line (RTU t3.5). Default: 3.5 characters at the baud rate, at least 1.75 ms (serial); 0 over TCP.');

function checkDevice(dev: { maxBlockRegisters: number; reconnectInitialMs: number; reconnectMaxMs: number; tags: { type: ModbusDataType; length?: number | undefined; table: ModbusTable }[] }, ctx: z.RefinementCtx): void {
  dev.tags.forEach((tag, i) => {
    const width = typeWidth(tag);
    if (!isBitTable(tag.table) && width > dev.maxBlockRegisters) {
      ctx.addIssue({ code: 'custom', path: ['tags', i, 'type'], message: `a ${tag.type} needs ${width} registers in one request: maxBlockRegisters must be at least ${width}` });
    }
  });
  if (dev.reconnectMaxMs < dev.reconnectInitialMs) {
    ctx.addIssue({ code: 'custom', path: ['reconnectMaxMs'], message: `reconnectMaxMs must be at least reconnectInitialMs (${dev.reconnectInitialMs})` });
  }
}

export const modbusTcpDeviceSchema = z
  .strictObject({ type: z.literal('modbus-tcp').describe('Driver: Modbus TCP client.'), ...netShape, ...commonShape })
  .superRefine(checkDevice)
  .describe('A Modbus TCP device (or one unit id behind a Modbus TCP gateway). Devices with the same host and port share one connection.');

export const modbusRtuDeviceSchema = z
  .strictObject({ type: z.literal('modbus-rtu').describe('Driver: Modbus RTU master on a serial line.'), ...serialShape, interFrameDelayMs, ...commonShape })
  .superRefine(checkDevice)
  .describe('A Modbus RTU slave on a serial line. Devices with the same path share the line (same serial settings), one request at a time.');

export const modbusRtuOverTcpDeviceSchema = z
  .strictObject({ type: z.literal('modbus-rtu-over-tcp').describe('Driver: Modbus RTU frames over a TCP connection (serial-to-Ethernet converter in transparent mode).'), ...netShape, interFrameDelayMs, ...commonShape })
  .superRefine(checkDevice)
  .describe('A Modbus RTU slave behind a serial-to-Ethernet converter. Devices with the same host and port share one connection, one request at a time.');

export type ModbusTag = z.output<typeof modbusTagSchema>;
export type ModbusTcpDevice = z.output<typeof modbusTcpDeviceSchema>;
export type ModbusRtuDevice = z.output<typeof modbusRtuDeviceSchema>;
export type ModbusRtuOverTcpDevice = z.output<typeof modbusRtuOverTcpDeviceSchema>;
export type ModbusDevice = ModbusTcpDevice | ModbusRtuDevice | ModbusRtuOverTcpDevice;
export type ModbusDeviceType = ModbusDevice['type'];
/** What a config file may contain (before defaults). */
export type ModbusTcpDeviceInput = z.input<typeof modbusTcpDeviceSchema>;
export type ModbusRtuDeviceInput = z.input<typeof modbusRtuDeviceSchema>;
export type ModbusRtuOverTcpDeviceInput = z.input<typeof modbusRtuOverTcpDeviceSchema>;

export const modbusDeviceSchemas = { 'modbus-tcp': modbusTcpDeviceSchema, 'modbus-rtu': modbusRtuDeviceSchema, 'modbus-rtu-over-tcp': modbusRtuOverTcpDeviceSchema } as const;

/** Default RTU inter-frame silence: 3.5 characters of 11 bits, at least 1.75 ms (Modbus over serial line V1.02, 2.5.1.1). */
export function defaultInterFrameDelayMs(baudRate: number): number {
  return Math.max(1.75, (3.5 * 11 * 1000) / baudRate);
}

/** "127.0.0.1:5020 unit 1", "/dev/ttyUSB0 9600 8N1 unit 3": no credentials, safe for logs and the catalog. */
export function modbusEndpoint(d: ModbusDevice | Pick<ModbusDevice & { host: string; port: number }, 'host' | 'port' | 'unitId'>): string {
  if ('type' in d && d.type === 'modbus-rtu') return `${d.path} ${d.baudRate} ${d.dataBits}${d.parity[0]!.toUpperCase()}${d.stopBits} unit ${d.unitId}`;
  const n = d as { host: string; port: number; unitId: number; type?: string };
  return `${n.type === 'modbus-rtu-over-tcp' ? 'rtu over tcp ' : ''}${n.host}:${n.port} unit ${n.unitId}`;
}
