import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnJinyun, type Child } from '../../cli/process.js';

export interface EdgeSite {
  file: string;
  /** Starts the agent; `env` adds to its environment (e.g. libfaketime's). */
  start(env?: NodeJS.ProcessEnv): Child;
}

/**
 * Writes an edge config for one coal-mine simulator unit 1 (fixed test registers and the sample
 * counter) and returns a way to start `jinyun edge` on it as a real process.
 */
export function edgeSite(dir: string, opts: { simPort: number; mqttPort: number; password: string; gatewayId?: string; tenant?: string; pollIntervalMs?: number; extraYaml?: string; defaultReconnect?: boolean }): EdgeSite {
  const file = join(dir, 'edge.yaml');
  writeFileSync(file, `gateway:
  id: ${opts.gatewayId ?? 'gw-1'}
  tenant: ${opts.tenant ?? 'tenant-a'}
spool:
  path: ${join(dir, 'spool.db')}
uplink:
  url: mqtt://127.0.0.1:${opts.mqttPort}
  password: \${EDGE_PASSWORD}
  ackTimeoutMs: 1500
${opts.defaultReconnect ? '' : '  reconnectInitialMs: 100\n  reconnectMaxMs: 1000\n'}  batch:
    maxDelayMs: 100
health:
  intervalMs: 1000
http:
  port: 0
devices:
  - type: modbus-tcp
    name: gas-monitor
    port: ${opts.simPort}
    unitId: 1
    timeoutMs: 500
    pollIntervalMs: ${opts.pollIntervalMs ?? 50}
    reconnectInitialMs: 100
    reconnectMaxMs: 500
    tags:
      - { name: counter, table: holding, address: 100, type: uint32 }
      - { name: fixed-int16, table: holding, address: 200, type: int16 }
      - { name: fixed-uint16, table: holding, address: 201, type: uint16 }
      - { name: fixed-float-abcd, table: holding, address: 202, type: float32 }
      - { name: fixed-uint32-cdab, table: holding, address: 204, type: uint32, wordOrder: CDAB }
      - { name: fixed-int32, table: holding, address: 206, type: int32 }
      - { name: fixed-float-cdab, table: holding, address: 208, type: float32, wordOrder: CDAB }
      - { name: fixed-float-badc, table: holding, address: 210, type: float32, wordOrder: BADC }
      - { name: fixed-float-dcba, table: holding, address: 212, type: float32, wordOrder: DCBA }
      - { name: fixed-input-scaled, table: input, address: 200, type: uint16, scale: 0.1, unit: degC }
      - { name: fixed-discrete, table: discrete, address: 200, type: bool }
      - { name: fixed-coil, table: coil, address: 201, type: bool }
      - { name: methane, table: holding, address: 0, type: float32, wordOrder: CDAB, unit: "%CH4" }
${opts.extraYaml ?? ''}`);
  // JINYUN_TEST_LOG_DIR=dir keeps the edge's log lines in dir/edge.log for a post-mortem.
  const logDir = process.env.JINYUN_TEST_LOG_DIR;
  const onLine = logDir ? (line: string) => appendFileSync(join(logDir, 'edge.log'), `${line}\n`) : undefined;
  return { file, start: (env = {}) => spawnJinyun(['edge', '--config', file], { env: { EDGE_PASSWORD: opts.password, JINYUN_LOG_LEVEL: process.env.JINYUN_LOG_LEVEL ?? 'warn', ...env }, onLine }) };
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const end = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
