import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/logger.js';
import { Quality, isGood } from '../../../core/quality.js';
import type { OpcuaDeviceInput } from '../../../drivers/opcua/config.js';
import { listCertificates } from '../../../drivers/opcua/certs.js';
import { OpcuaDriver } from '../../../drivers/opcua/opcua-driver.js';
import { OpcuaSubscribingDriver } from '../../../drivers/opcua/opcua-subscriber.js';
import { Collector, device, jinyunCli, makeUserCertificate, points, startSim, type SimFixture } from './helpers.js';

// One simulator and one client PKI for the whole file: certificates are made once and reused.
let f: SimFixture;
let pki: string;
let userCert: { certFile: string; keyFile: string };
beforeAll(async () => {
  f = await startSim();
  pki = join(f.dir, 'client-pki');
  userCert = await makeUserCertificate(join(f.dir, 'user-pki'));
}, 60_000);
afterAll(async () => { await f?.close(); });

async function readOnce(over: Partial<OpcuaDeviceInput>): Promise<{ good: boolean; quality: number; sessions: ReturnType<SimFixture['sim']['sessions']>; health: ReturnType<OpcuaDriver['health']> }> {
  const d = device(f, { mode: 'poll', ...over });
  const drv = new OpcuaDriver(d, { logger: silentLogger() });
  try {
    const [r] = await drv.read(points(d));
    return { good: isGood(r!.quality) && typeof r!.value === 'number', quality: r!.quality, sessions: f.sim.sessions(), health: drv.health() };
  } finally {
    await drv.close();
  }
}

describe('OPC UA security against the simulator', () => {
  it('trust workflow: an untrusted server certificate is refused and lands in rejected/; `jinyun certs trust` moves it; the waiting driver connects', async () => {
    const d = device(f, { mode: 'poll', securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256' });
    const drv = new OpcuaDriver(d, { logger: silentLogger() });
    try {
      const [refused] = await drv.read(points(d));
      expect(refused).toMatchObject({ value: null, quality: Quality.BadConfigurationError });
      const h = drv.health();
      expect(h.state).toBe('down');
      expect(h.errorsByKind).toEqual({ BadCertificateUntrusted: 1 });
      expect(h.lastError).toContain(`the server certificate is not trusted: it was put in ${pki}/rejected`);
      expect(h.lastError).toContain('jinyun certs trust');
      expect(f.sim.sessions()).toEqual([]);

      const rejected = listCertificates(pki).filter((c) => c.store === 'rejected');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.applicationUri).toBe('urn:jinyun:sim:coal-mine');
      expect(listCertificates(pki).filter((c) => c.store === 'trusted')).toEqual([]);

      const listed = await jinyunCli(['certs', 'list', '--pki', pki]);
      expect(listed).toContain(`rejected ${rejected[0]!.thumbprint}`);
      expect(listed).toContain(`jinyun certs trust <thumbprint> --pki ${pki}`);
      const trusted = await jinyunCli(['certs', 'trust', rejected[0]!.thumbprint.slice(0, 10), '--pki', pki]);
      expect(trusted).toMatch(/^trusted .* \([0-9a-f]{40}\) -> .*trusted\/certs\/.*\.pem\n$/);
      expect(listCertificates(pki).map((c) => c.store).sort()).toEqual(['own', 'trusted']);

      // The same driver instance retries (backoff 200 ms .. 2 s) and connects without a restart.
      let good = false;
      for (let i = 0; i < 100 && !good; i++) {
        const [r] = await drv.read(points(d));
        good = isGood(r!.quality);
        if (!good) await new Promise((res) => setTimeout(res, 100));
      }
      expect(good).toBe(true);
      expect(drv.health().state).toBe('ok');
      expect(f.sim.sessions()).toEqual([{ securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256', user: 'anonymous' }]);
      await drv.close();

      // `jinyun certs reject` takes the trust back: the certificate returns to rejected/ and a new connection is refused.
      const back = await jinyunCli(['certs', 'reject', rejected[0]!.thumbprint.slice(0, 10), '--pki', pki]);
      expect(back).toMatch(/^rejected .* \([0-9a-f]{40}\) -> .*rejected\/.*\.pem\n$/);
      expect(listCertificates(pki).map((c) => c.store).sort()).toEqual(['own', 'rejected']);
      const drv2 = new OpcuaDriver(d, { logger: silentLogger() });
      try {
        const [again] = await drv2.read(points(d));
        expect(again).toMatchObject({ value: null, quality: Quality.BadConfigurationError });
        expect(drv2.health().errorsByKind).toEqual({ BadCertificateUntrusted: 1 });
      } finally {
        await drv2.close();
      }
      // Trusted again for the tests below.
      await jinyunCli(['certs', 'trust', rejected[0]!.thumbprint.slice(0, 10), '--pki', pki]);
      expect(listCertificates(pki).map((c) => c.store).sort()).toEqual(['own', 'trusted']);
    } finally {
      await drv.close();
    }
  }, 60_000);

  const modes = ['Sign', 'SignAndEncrypt'] as const;
  const policies = ['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const;
  const matrix = [{ mode: 'None' as const, policy: 'None' as const }, ...modes.flatMap((mode) => policies.map((policy) => ({ mode, policy })))];
  it.each(matrix)('securityMode $mode with securityPolicy $policy reads Good values', async ({ mode, policy }) => {
    const r = await readOnce({ securityMode: mode, securityPolicy: policy });
    expect(r.good).toBe(true);
    expect(r.sessions).toEqual([{ securityMode: mode, securityPolicy: policy, user: 'anonymous' }]);
    expect(r.health.state).toBe('ok');
  }, 30_000);

  it('username/password: the right password opens a session as that user; a wrong one is BadUserAccessDenied in health', async () => {
    const ok = await readOnce({ securityMode: 'SignAndEncrypt', securityPolicy: 'Aes128_Sha256_RsaOaep', user: { type: 'username', username: 'operator', password: 'operator-pw' } });
    expect(ok.good).toBe(true);
    expect(ok.sessions).toEqual([{ securityMode: 'SignAndEncrypt', securityPolicy: 'Aes128_Sha256_RsaOaep', user: 'username:operator' }]);

    const bad = await readOnce({ securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256', user: { type: 'username', username: 'operator', password: 'wrong' } });
    expect(bad.good).toBe(false);
    expect(bad.quality).toBe(Quality.BadConfigurationError);
    expect(bad.health.errorsByKind).toEqual({ BadUserAccessDenied: 1 });
    expect(bad.health.lastError).toContain('the server refused the user identity');
    expect(bad.sessions).toEqual([]);
  }, 30_000);

  it('X.509 user certificate: the session runs as a certificate user', async () => {
    const r = await readOnce({ securityMode: 'Sign', securityPolicy: 'Aes256_Sha256_RsaPss', user: { type: 'certificate', ...userCert } });
    expect(r.good).toBe(true);
    expect(r.sessions).toEqual([{ securityMode: 'Sign', securityPolicy: 'Aes256_Sha256_RsaPss', user: 'certificate' }]);
  }, 30_000);

  it('subscriptions run under SignAndEncrypt/Aes256_Sha256_RsaPss with an X.509 user', async () => {
    const d = device(f, { securityMode: 'SignAndEncrypt', securityPolicy: 'Aes256_Sha256_RsaPss', user: { type: 'certificate', ...userCert } });
    const drv = new OpcuaSubscribingDriver(d, { logger: silentLogger() });
    const c = new Collector();
    try {
      await drv.subscribe(points(d), c.push);
      await c.until(() => c.of(1).filter((r) => isGood(r.quality)).length >= 5, 15_000, 'five Good counter values');
      expect(f.sim.sessions()).toEqual([{ securityMode: 'SignAndEncrypt', securityPolicy: 'Aes256_Sha256_RsaPss', user: 'certificate' }]);
      const values = c.of(1).map((r) => r.value as number);
      expect(values).toEqual([...values].sort((a, b) => a - b));
    } finally {
      await drv.close();
    }
  }, 30_000);
});
