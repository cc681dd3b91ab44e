import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnJinyun, stopChild, type Child } from '../../../cli/process.js';
import { silentLogger } from '../../../core/logger.js';
import { isGood } from '../../../core/quality.js';
import { opcuaDeviceSchema } from '../../../drivers/opcua/config.js';
import { OpcuaSubscribingDriver } from '../../../drivers/opcua/opcua-subscriber.js';
import { acquireCertificateManager, releaseCertificateManager } from '../../../drivers/opcua/session.js';
import { tempDir } from '../../helpers/tmp.js';
import { Collector, points } from './helpers.js';

const CYCLES = Number(process.env.OPCUA_LEAK_CYCLES ?? 1000);
const WARMUP = 50;
const PARALLEL = Number(process.env.OPCUA_LEAK_PARALLEL ?? 8);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function heapAfterGc(): number {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

// The simulator runs in its own process, so this process's heap is the client's alone.
let sim: Child;
let endpointUrl: string;
let ns: number;
const tmp = tempDir('jinyun-opcua-leak-');
beforeAll(async () => {
  sim = spawnJinyun(['sim', 'opcua', '--port', '0', '--pki', join(tmp.dir, 'sim-pki'), '--tick-ms', '100']);
  const listening = await sim.waitFor('listening', 30_000);
  endpointUrl = listening.endpointUrl as string;
  ns = listening.namespaceIndex as number;
}, 60_000);
afterAll(async () => {
  if (sim) await stopChild(sim);
  tmp.cleanup();
});

describe('OPC UA connect/disconnect leak', () => {
  it(`${CYCLES} connect, session, subscribe, first value, disconnect cycles: heap after GC grows < 5 MB`, async () => {
    const d = opcuaDeviceSchema.parse({
      type: 'opcua', name: 'leak', endpointUrl, securityMode: 'None', securityPolicy: 'None', pkiDir: join(tmp.dir, 'client-pki'),
      publishingIntervalMs: 50, samplingIntervalMs: 0, keepAliveCount: 5, lifetimeCount: 30, reconnectInitialMs: 100, reconnectMaxMs: 1000,
      tags: [{ name: 'counter', nodeId: `ns=${ns};s=Sim.Counter` }, { name: 'ch4', nodeId: `ns=${ns};s=Mine.Gas.T1_Face.CH4` }],
    });
    let done = 0;
    const cycle = async (): Promise<void> => {
      const drv = new OpcuaSubscribingDriver(d, { logger: silentLogger() });
      const c = new Collector();
      try {
        await drv.subscribe(points(d), c.push);
        await c.until(() => c.of(1).some((r) => isGood(r.quality)) && c.of(2).some((r) => isGood(r.quality)), 20_000, 'first values');
      } finally {
        await drv.close();
      }
      done++;
    };
    const run = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i += PARALLEL) await Promise.all(Array.from({ length: Math.min(PARALLEL, n - i) }, cycle));
    };
    // A long-running edge keeps one certificate store per pkiDir across reconnects; so does this loop.
    await acquireCertificateManager(d.pkiDir);
    const t0 = performance.now();
    await run(WARMUP);
    const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const socketsBefore = sockets();
    const before = heapAfterGc();
    await run(CYCLES - WARMUP);
    await new Promise((r) => setTimeout(r, 500));
    const growthMb = (heapAfterGc() - before) / 1024 / 1024;
    await releaseCertificateManager(d.pkiDir);
    process.stdout.write(`opcua leak: ${CYCLES} cycles in ${((performance.now() - t0) / 1000).toFixed(1)} s, heap after GC ${(before / 1048576).toFixed(1)} MB -> ${growthMb >= 0 ? '+' : ''}${growthMb.toFixed(2)} MB\n`);
    expect(done).toBe(CYCLES);
    expect(growthMb).toBeLessThan(5);
    expect(sockets()).toBe(socketsBefore);
  }, 120_000);
});
