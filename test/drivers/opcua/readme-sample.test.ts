import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/logger.js';
import { Quality, isGood } from '../../../core/quality.js';
import { Sqlite } from '../../../core/sqlite.js';
import { runCerts } from '../../../edge/certs-cli.js';
import { listCertificates } from '../../../drivers/opcua/certs.js';
import { startEdgeAgent } from '../../../edge/agent.js';
import { loadEdgeConfig } from '../../../edge/config.js';
import { toStored, type BlockRow } from '../../../edge/spool-blocks.js';
import { decodeBatch, encodeBatchFromBlocks } from '../../../proto/codec.js';
import { plainBroker } from '../../helpers/plain-broker.js';
import { Collector, startSim, type SimFixture } from './helpers.js';

const readme = readFileSync(new URL('../../../drivers/opcua/README.md', import.meta.url), 'utf8');
const sample = /## Sample config \(verified\)[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)![1]!;

let f: SimFixture;
let broker: Awaited<ReturnType<typeof plainBroker>>;
beforeAll(async () => {
  f = await startSim({ profile: 'coal-mine', allowNone: false });
  broker = await plainBroker();
}, 30_000);
afterAll(async () => {
  await broker?.close();
  await f?.close();
});

describe('drivers/opcua/README.md sample config', () => {
  it('runs in an edge agent against the secure-only simulator: refused until `jinyun certs trust`, then every tag Good in the spool', async () => {
    const pki = join(f.dir, 'edge-pki');
    const spool = join(f.dir, 'spool.db');
    const file = join(f.dir, 'edge.yaml');
    writeFileSync(file, `gateway: { id: gw-readme, tenant: t-1 }\nspool: { path: ${spool} }\nuplink: { url: "mqtt://127.0.0.1:${broker.port}", ackTimeoutMs: 600000 }\nhttp: { enabled: false }\n${sample}`);
    // As an operator's shell would have them (jinyun certs --config reads the same file and environment).
    Object.assign(process.env, { JINYUN_OPCUA_PORT: String(f.sim.port), JINYUN_PKI: pki, OPCUA_PASSWORD: 'operator-pw' });
    const cfg = loadEdgeConfig(file);
    const dev = cfg.devices[0]!;
    expect(dev).toMatchObject({ type: 'opcua', securityMode: 'SignAndEncrypt', endpointUrl: f.sim.endpointUrl, pkiDir: pki });
    const names = dev.tags.map((t) => t.name);

    const agent = await startEdgeAgent(cfg, { logger: silentLogger() });
    const c = new Collector();
    try {
      await c.until(() => listCertificates(pki).some((e) => e.store === 'rejected'), 15_000, 'the server certificate in rejected/');
      const health = agent.devices()[0]!.health;
      expect(health.state).toBe('down');
      expect(health.lastError).toContain('BadCertificateUntrusted');
      const out: string[] = [];
      await runCerts(['trust', listCertificates(pki).find((e) => e.store === 'rejected')!.thumbprint, '--config', file], { write: (s: string) => out.push(s) });
      expect(out.join('')).toMatch(/^trusted /);
      await c.until(() => agent.devices()[0]!.health.state === 'ok', 20_000, 'connected after trust');
      await c.until(() => agent.devices()[0]!.poll.readings >= names.length, 15_000, 'readings');
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await agent.close();
    }
    expect(f.sim.sessions()).toEqual([]);
    const db = await Sqlite.open(spool, { readonly: true });
    const tags = new Map((await db.all<{ id: number; key: string }>('SELECT id, key FROM tags')).map((t) => [t.id, t.key]));
    const rows = await db.all<BlockRow>('SELECT seq_first, seq_last, epoch, count, base_ts, bytes FROM blocks ORDER BY seq_first');
    await db.close();
    const readings = decodeBatch(encodeBatchFromBlocks({ producerId: 'p', epoch: 1, historical: false }, rows.map(toStored))).readings;
    const good = (name: string) => readings.filter((r) => tags.get(r.tagId) === `mine-scada/${name}` && isGood(r.quality));
    for (const n of names) expect(good(n).length, n).toBeGreaterThan(0);
    expect(typeof good('fan1-speed')[0]!.value).toBe('number');
    expect(typeof good('fan1-running')[0]!.value).toBe('boolean');
    expect(typeof good('hoist-trips')[0]!.value).toBe('bigint');
    expect(JSON.parse(good('vibration-spectrum')[0]!.value as string)).toHaveLength(3);
    // Refused while untrusted: those readings carry no value.
    expect(readings.filter((r) => r.quality === Quality.BadConfigurationError).every((r) => r.value === null)).toBe(true);
  }, 60_000);
});
