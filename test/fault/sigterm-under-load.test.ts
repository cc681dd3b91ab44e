import { describe, expect, it } from 'vitest';
import { startCloudChild } from '../helpers/cloud-child.js';
import { edgeSite, getJson, until } from '../helpers/edge-child.js';
import { spawnJinyun, type Child } from '../../cli/process.js';
import { faultRig, sleep } from '../helpers/fault-rig.js';
import { loadDevices } from './edge-probe.js';

/** Starts the edge with info-level JSON logs kept, so every line it writes after SIGTERM can be read. */
function startLogged(file: string, password: string, lines: string[]): Child {
  return spawnJinyun(['edge', '--config', file], { env: { EDGE_PASSWORD: password, JINYUN_LOG_LEVEL: 'info' }, onLine: (l) => lines.push(l) });
}

/**
 * SIGTERM to an edge agent under full load (issue 28): 10 devices of 100 registers polled every
 * 10 ms into a real cloud. It exits within 2 s, logs no error, and the next start resends and
 * dedupes what was in flight (nothing lost, nothing doubled: the kill-and-restart tests cover that).
 * Three stops at different moments.
 */
describe('fault: SIGTERM to the edge under full load', () => {
  const rig = faultRig('jinyun-sigterm-');

  it('exits within 2 s without an error line, three times', async () => {
    const simPort = await rig.sim.start();
    rig.cloud = await startCloudChild(rig.tmp.dir);
    const site = edgeSite(rig.tmp.dir, { simPort, mqttPort: rig.cloud.mqttPort, password: rig.cloud.gateway.password, pollIntervalMs: 10,
      extraYaml: loadDevices(simPort, 10).replaceAll('pollIntervalMs: 50', 'pollIntervalMs: 10') });
    const results: { exitMs: number; errors: string[] }[] = [];
    for (let i = 0; i < 3; i++) {
      const lines: string[] = [];
      const edge = startLogged(site.file, rig.cloud.gateway.password, lines);
      rig.edge = edge;
      const httpPort = Number((await edge.waitFor('started', 30_000)).httpPort);
      await until('delivering', async () => (await getJson<{ link: { connected: boolean } }>(`http://127.0.0.1:${httpPort}/healthz`)).link.connected, 20_000, 50);
      await sleep(1500 + i * 700);
      const t0 = performance.now();
      edge.proc.kill('SIGTERM');
      const { code } = await edge.exited;
      const exitMs = Math.round(performance.now() - t0);
      await sleep(100);
      const errors = lines.filter((l) => { try { return (JSON.parse(l) as { level?: number }).level! >= 50; } catch { return /error/i.test(l); } });
      results.push({ exitMs, errors });
      expect(code).toBe(0);
    }
    process.stdout.write(`SIGTERM under load: exit after ${results.map((r) => r.exitMs).join(', ')} ms\n`);
    expect(results.flatMap((r) => r.errors)).toEqual([]);
    expect(Math.max(...results.map((r) => r.exitMs))).toBeLessThanOrEqual(2000);
  }, 180_000);
});
