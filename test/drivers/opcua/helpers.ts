import { join } from 'node:path';
import { silentLogger } from '../../../core/logger.js';
import type { Reading } from '../../../core/reading.js';
import { opcuaDeviceSchema, type OpcuaDevice, type OpcuaDeviceInput, type OpcuaTag } from '../../../drivers/opcua/config.js';
import type { Point } from '../../../drivers/driver.js';
import { OpcuaSimServer, type OpcuaSimOptions } from '../../../simulators/opcua/opcua-sim-server.js';
import { tempDir } from '../../helpers/tmp.js';

export interface SimFixture {
  sim: OpcuaSimServer;
  dir: string;
  close(): Promise<void>;
}

export async function startSim(opts: Partial<OpcuaSimOptions> = {}): Promise<SimFixture> {
  const { dir, cleanup } = tempDir('jinyun-opcua-');
  const sim = new OpcuaSimServer({ port: 0, profile: 'coal-mine', pkiDir: join(dir, 'sim-pki'), logger: silentLogger(), tickMs: 100, ...opts });
  await sim.start();
  return { sim, dir, async close() { await sim.stop(); cleanup(); } };
}

export function device(f: SimFixture, over: Partial<OpcuaDeviceInput> = {}): OpcuaDevice {
  return opcuaDeviceSchema.parse({
    type: 'opcua', name: 'sim', endpointUrl: f.sim.endpointUrl, securityMode: 'None', securityPolicy: 'None', pkiDir: join(f.dir, 'client-pki'),
    publishingIntervalMs: 100, samplingIntervalMs: 50, keepAliveCount: 5, lifetimeCount: 30, reconnectInitialMs: 200, reconnectMaxMs: 2000, requestTimeoutMs: 5000,
    tags: [{ name: 'counter', nodeId: f.sim.nodeId('Sim.Counter') }],
    ...over,
  });
}

export function points(d: OpcuaDevice): Point<OpcuaTag>[] {
  return d.tags.map((t, i) => ({ tagId: i + 1, key: `${d.name}/${t.name}`, config: t }));
}

/** Collects readings from subscribe() and waits for conditions. */
export class Collector {
  readonly readings: Reading[] = [];
  readonly push = (r: Reading[]): void => { for (const x of r) this.readings.push(x); };
  of(tagId: number): Reading[] { return this.readings.filter((r) => r.tagId === tagId); }
  async until(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** Runs the real `jinyun` CLI (tsx from source) and returns its stdout; rejects with stderr on a non-zero exit. */
export async function jinyunCli(args: string[]): Promise<string> {
  const { jinyunCommand } = await import('../../../cli/process.js');
  const { execFile } = await import('node:child_process');
  const { cmd, args: pre } = jinyunCommand();
  return new Promise((resolve, reject) => {
    execFile(cmd, [...pre, ...args], { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`jinyun ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

/** A self-signed X.509 user certificate (PEM) and its key, made once per test file. */
export async function makeUserCertificate(dir: string, name = 'engineer-x509'): Promise<{ certFile: string; keyFile: string }> {
  const { OPCUACertificateManager } = await import('node-opcua-certificate-manager');
  const cm = new OPCUACertificateManager({ rootFolder: dir, name: 'user' });
  await cm.initialize();
  const certFile = join(dir, 'own/certs/user.pem');
  await cm.createSelfSignedCertificate({ subject: `/CN=${name}/O=Jinyun tests`, applicationUri: `urn:jinyun:user:${name}`, dns: [], startDate: new Date(Date.now() - 86_400_000), validity: 365, outputFile: certFile });
  await cm.dispose();
  return { certFile, keyFile: join(dir, 'own/private/private_key.pem') };
}
