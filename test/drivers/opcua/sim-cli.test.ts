import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jinyunCommand } from '../../../cli/process.js';
import { silentLogger } from '../../../core/logger.js';
import { Quality, isGood } from '../../../core/quality.js';
import { opcuaDeviceSchema } from '../../../drivers/opcua/config.js';
import { OpcuaDriver } from '../../../drivers/opcua/opcua-driver.js';
import { tempDir } from '../../helpers/tmp.js';
import { points } from './helpers.js';

// `jinyun sim opcua --faults` as an operator or a test script runs it: fault commands as JSON lines on stdin.
const tmp = tempDir('jinyun-opcua-simcli-');
let proc: ChildProcess;
let listening: { endpointUrl: string; namespaceIndex: number; profile: string };
beforeAll(async () => {
  const { cmd, args } = jinyunCommand();
  proc = spawn(cmd, [...args, 'sim', 'opcua', '--profile', 'steel-plant', '--port', '0', '--pki', join(tmp.dir, 'sim-pki'), '--faults'], { stdio: ['pipe', 'pipe', 'pipe'] });
  proc.stderr!.resume();
  listening = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('simulator did not start')), 30_000);
    createInterface({ input: proc.stdout! }).on('line', (l) => { if (l.startsWith('{"event":"listening"')) { clearTimeout(t); resolve(JSON.parse(l)); } });
  });
}, 60_000);
afterAll(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
  tmp.cleanup();
});

describe('jinyun sim opcua --faults', () => {
  it('prints the listening line, serves the steel-plant address space, and applies status and restart faults from stdin', async () => {
    expect(listening).toMatchObject({ profile: 'steel-plant', namespaceIndex: 2, endpointUrl: expect.stringMatching(/^opc\.tcp:\/\/127\.0\.0\.1:\d+$/) });
    const d = opcuaDeviceSchema.parse({
      type: 'opcua', name: 'plant', endpointUrl: listening.endpointUrl, securityMode: 'None', securityPolicy: 'None', pkiDir: join(tmp.dir, 'client-pki'), mode: 'poll',
      reconnectInitialMs: 100, reconnectMaxMs: 500,
      tags: [{ name: 'temp', nodeId: 'ns=2;s=Plant.Furnace.Temperature' }, { name: 'force', nodeId: 'ns=2;s=Plant.RollingMill.Stand1.RollForce' }],
    });
    const drv = new OpcuaDriver(d, { logger: silentLogger() });
    const readUntil = async (ok: (q: number[]) => boolean, what: string): Promise<number[]> => {
      for (let i = 0; i < 200; i++) {
        const q = (await drv.read(points(d))).map((r) => r.quality);
        if (ok(q)) return q;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}`);
    };
    try {
      const first = await drv.read(points(d));
      expect(first.every((r) => isGood(r.quality) && typeof r.value === 'number')).toBe(true);
      expect(first[0]!.value as number).toBeGreaterThan(1500);

      proc.stdin!.write(`${JSON.stringify({ fault: 'status', path: 'Plant.Furnace.Temperature', code: Quality.BadSensorFailure })}\n`);
      expect(await readUntil((q) => q[0] === Quality.BadSensorFailure, 'BadSensorFailure')).toEqual([Quality.BadSensorFailure, Quality.Good]);
      proc.stdin!.write(`${JSON.stringify({ fault: 'status', path: 'Plant.Furnace.Temperature', code: null })}\n`);
      await readUntil((q) => q.every(isGood), 'Good again');

      proc.stdin!.write(`${JSON.stringify({ fault: 'restart', downMs: 1500 })}\n`);
      await readUntil((q) => q.every((c) => !isGood(c)), 'the outage');
      await readUntil((q) => q.every(isGood), 'back after the restart');
      expect(drv.health().errorsByKind.connection_lost).toBeGreaterThanOrEqual(1);
    } finally {
      await drv.close();
    }
  }, 60_000);
});
