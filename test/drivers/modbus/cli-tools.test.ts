import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../core/errors.js';
import { runRead } from '../../../drivers/modbus/read-cli.js';
import { runScan } from '../../../drivers/modbus/scan-cli.js';
import { TRANSPORTS, TransportRig, type TransportKind } from './transport-rig.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs a command in-process and returns what it printed. */
async function capture(run: (argv: string[], io: { stdout: { write(s: string): unknown } }) => Promise<void>, argv: string[]): Promise<string> {
  let text = '';
  await run(argv, { stdout: { write: (s: string) => (text += s) } });
  return text;
}

/** Runs the real `jinyun` command (tsx cli/main.ts) and returns exit code, stdout and stderr. */
function jinyun(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function whereArgs(rig: TransportRig): string[] {
  const d = rig.device([{ name: 'x', table: 'holding', address: 0, type: 'uint16' }]);
  if (d.type === 'modbus-rtu') return ['--serial', d.path, '--baud', String(d.baudRate)];
  return ['--host', d.host, '--port', String(d.port), ...(d.type === 'modbus-rtu-over-tcp' ? ['--rtu-over-tcp'] : [])];
}

describe.each(TRANSPORTS)('jinyun read and scan over %s', (kind: TransportKind) => {
  let rig: TransportRig;
  let where: string[];
  beforeAll(async () => {
    rig = await TransportRig.start(kind);
    where = whereArgs(rig);
  }, 20_000);
  afterAll(() => rig.stop());

  it('read prints a float32 in every byte/word order beside the raw registers (type-test block, CDAB at holding 1026)', async () => {
    const out = await capture(runRead, [...where, '--unit', '1', '--register', '41027', '--type', 'float32', '--order', 'CDAB', '--all-orders']);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/, holding 1026 \(401027\), float32 CDAB: 123\.456$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/))).toEqual([
      ['registers:', '0xe979', '0x42f6'],
      ['type', 'ABCD', 'CDAB', 'BADC', 'DCBA'],
      ['float32', '-1.8833671e+25', '123.456', '1.5184998e+35', '-9.8611155e+32'],
    ]);
  });

  it('read --all-orders without --type tries every numeric type: the uint64 row finds 18e18 in CDAB', async () => {
    const out = await capture(runRead, [...where, '--table', 'holding', '--address', '1052', '--all-orders', '--json']);
    const got = JSON.parse(out) as { registers: number[]; orders: Record<string, Record<string, unknown>> };
    expect(got.registers).toEqual([0x0000, 0xc508, 0xd8a1, 0xf9cc]);
    expect(got.orders.uint64).toEqual({ ABCD: '216641784904140', CDAB: '18000000000000000000', BADC: '9644916919545', DCBA: '14770014402170388480' });
    expect(Object.keys(got.orders)).toEqual(['int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64', 'float64']);
  });

  it('read gives strings, bits, coils and the exception as text', async () => {
    expect(await capture(runRead, [...where, '--register', '41096', '--type', 'string', '--length', '5', '--order', 'DCBA'])).toMatch(/string DCBA: "FURNACE-7"\n/);
    expect(await capture(runRead, [...where, '--register', '41101', '--type', 'bool', '--bit', '15'])).toMatch(/holding 1100 \(401101\), bool ABCD: true\n/);
    expect(await capture(runRead, [...where, '--register', '1'])).toMatch(/coil 0 \(000001\), bool: true\n$/);
    await expect(capture(runRead, [...where, '--unit', '1', '--register', '42001'])).rejects.toThrow(/holding 2000: BadConfigurationError \(FC3 2000\+1: Modbus exception 2 \(illegal data address\)\)/);
  });

  it('scan reports answering units with their address ranges, the gateway exception, and silent units', async () => {
    rig.sim.setFaults({ deadUnits: [2] });
    try {
      const out = await capture(runScan, [...where, '--units', '1-4', '--addresses', '1090-2009', '--timeout', '300']);
      const lines = out.trimEnd().split('\n');
      expect(lines.slice(1)).toEqual([
        'unit 1: answers',
        '  holding 1090-1999: readable (11 non-zero)',
        '  holding 2000-2009: exception 2 (illegal data address)',
        'unit 3: answers',
        '  holding 1090-1999: readable (0 non-zero)',
        '  holding 2000-2009: exception 2 (illegal data address)',
        // a Modbus TCP gateway answers exception 11 for a unit it cannot reach; on an RTU line a missing unit is silent
        ...(kind === 'modbus-tcp' ? ['unit 4: gateway: exception 11 (gateway target device failed to respond)', 'no answer (timeout): unit 2'] : ['no answer (timeout): units 2, 4']),
      ]);
    } finally {
      rig.sim.clearFaults();
    }
  });
});

describe('jinyun scan finds an unmapped hole', () => {
  let rig: TransportRig;
  beforeAll(async () => {
    rig = await TransportRig.start('modbus-tcp');
  });
  afterAll(() => rig.stop());

  it('halves the refused blocks down to the exact unmapped addresses', async () => {
    const u = rig.sim.unit(3);
    u.unmap('holding', 1801, 1803);
    u.unmap('holding', 1850, 1850);
    u.holding.fill(5, 1790, 1801);
    const out = await capture(runScan, [...whereArgs(rig), '--units', '3', '--addresses', '1790-1899']);
    expect(out.trimEnd().split('\n').slice(1)).toEqual([
      'unit 3: answers',
      '  holding 1790-1800: readable (11 non-zero)',
      '  holding 1801-1803: exception 2 (illegal data address)',
      '  holding 1804-1849: readable (0 non-zero)',
      '  holding 1850: exception 2 (illegal data address)',
      '  holding 1851-1899: readable (0 non-zero)',
    ]);
  });
});

describe('jinyun read / scan as a real process', () => {
  let rig: TransportRig;
  beforeAll(async () => {
    rig = await TransportRig.start('modbus-tcp');
  });
  afterAll(() => rig.stop());

  it('read --all-orders exits 0 and prints the table; an unreachable device exits 1 with the reason', async () => {
    const where = whereArgs(rig);
    const ok = await jinyun(['read', ...where, '--register', '41027', '--type', 'float32', '--all-orders']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/float32 ABCD: -1\.8833671e\+25\n/);
    expect(ok.stdout).toMatch(/\nfloat32\s+-1\.8833671e\+25\s+123\.456\s+1\.5184998e\+35\s+-9\.8611155e\+32\n/);
    const bad = await jinyun(['read', '--host', '127.0.0.1', '--port', '1', '--register', '40001', '--timeout', '500']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^jinyun: 127\.0\.0\.1:1 unit 1: holding 0: BadCommunicationError \(.*ECONNREFUSED/m);
  }, 30_000);

  it('scan exits 0 with the report; bad arguments exit 64 with the usage', async () => {
    const where = whereArgs(rig);
    const ok = await jinyun(['scan', ...where, '--units', '3', '--table', 'input', '--addresses', '0-15']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/unit 3: answers\n {2}input 0-15: readable \(\d+ non-zero\)\n$/);
    const bad = await jinyun(['scan', '--units', '5-1']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('--units must be N or N-M within 0-255 (got "5-1")');
    expect(bad.stderr).toContain('usage: jinyun scan');
  }, 30_000);

  it('rejects a read without an address with a usage error', async () => {
    await expect(runRead(['--port', '1'])).rejects.toBeInstanceOf(UsageError);
    await expect(runRead(['--register', '50000'])).rejects.toThrow('register 50000: the first digit must be 0 (coil), 1 (discrete input), 3 (input register) or 4 (holding register)');
  });
});
