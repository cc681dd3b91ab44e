import { copyFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/logger.js';
import { Quality, isGood } from '../../../core/quality.js';
import { OpcuaDriver } from '../../../drivers/opcua/opcua-driver.js';
import { tempDir } from '../../helpers/tmp.js';
import { OpcuaSimServer } from '../../../simulators/opcua/opcua-sim-server.js';
import { device, points, type SimFixture } from './helpers.js';

const DAY = 86_400_000;
let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => { await cleanup?.(); cleanup = null; });

/** A simulator whose server certificate is made beforehand with the given validity, already trusted by the client PKI. */
async function simWithCertificate(startDate: Date, validityDays: number): Promise<SimFixture> {
  const { dir, cleanup: rm } = tempDir('jinyun-opcua-certtime-');
  const serverPki = join(dir, 'sim-pki', 'server');
  const cm = new OPCUACertificateManager({ rootFolder: serverPki, name: 'server' });
  await cm.initialize();
  const certFile = join(serverPki, 'own/certs/certificate.pem');
  await cm.createSelfSignedCertificate({ subject: '/CN=jinyun-sim-coal-mine', applicationUri: 'urn:jinyun:sim:coal-mine', dns: ['localhost', hostname()], ip: ['127.0.0.1'], startDate, validity: validityDays, outputFile: certFile });
  await cm.dispose();
  mkdirSync(join(dir, 'client-pki', 'trusted', 'certs'), { recursive: true });
  copyFileSync(certFile, join(dir, 'client-pki', 'trusted', 'certs', 'sim.pem'));
  const sim = new OpcuaSimServer({ port: 0, profile: 'coal-mine', pkiDir: join(dir, 'sim-pki'), logger: silentLogger() });
  await sim.start();
  const f = { sim, dir, async close() { await sim.stop(); rm(); } };
  cleanup = () => f.close();
  return f;
}

async function readWith(f: SimFixture) {
  const d = device(f, { mode: 'poll', securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256' });
  const drv = new OpcuaDriver(d, { logger: silentLogger() });
  try {
    const [r] = await drv.read(points(d));
    return { r: r!, health: drv.health() };
  } finally {
    await drv.close();
  }
}

describe('certificate time in device health', () => {
  it('a server certificate expiring within 30 days: data flows, the device is degraded with the expiry date', async () => {
    const f = await simWithCertificate(new Date(Date.now() - DAY), 11);
    const { r, health } = await readWith(f);
    expect(isGood(r.quality)).toBe(true);
    expect(health.state).toBe('degraded');
    expect(health.lastError).toMatch(/^server certificate expires in (9|10) days \(valid to \d{4}-\d\d-\d\dT/);
    expect(health.errorsByKind).toEqual({ server_certificate_expiring: 1 });
  }, 30_000);

  it('an expired server certificate (even a trusted one) is refused: BadCertificateTimeInvalid with the hint', async () => {
    const f = await simWithCertificate(new Date(Date.now() - 400 * DAY), 30);
    const { r, health } = await readWith(f);
    expect(r).toMatchObject({ value: null, quality: Quality.BadConfigurationError });
    expect(health.state).toBe('down');
    expect(health.errorsByKind).toEqual({ BadCertificateTimeInvalid: 1 });
    expect(health.lastError).toContain("a certificate is expired or not yet valid: renew it, or fix this machine's clock");
  }, 30_000);
});
