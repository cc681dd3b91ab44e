import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../../cloud-bridge/credentials.js';
import { spawnJinyun, stopChild, type Child } from '../../cli/process.js';

export interface CloudChild {
  child: Child;
  mqttPort: number;
  httpPort: number;
  gateway: { id: string; tenant: string; password: string };
  stop(): Promise<void>;
}

/** Starts `jinyun cloud` as a real process with one registered gateway, on free (or given) ports. */
export async function startCloudChild(dir: string, opts: { mqttPort?: number; httpPort?: number; password?: string; gatewayId?: string; tenant?: string; onLine?: (line: string) => void; nodeArgs?: string[] } = {}): Promise<CloudChild> {
  const gateway = { id: opts.gatewayId ?? 'gw-1', tenant: opts.tenant ?? 'tenant-a', password: opts.password ?? randomBytes(18).toString('base64url') };
  const file = join(dir, 'cloud.yaml');
  writeFileSync(file, [
    'mqtt:', '  host: 127.0.0.1', `  port: ${opts.mqttPort ?? 0}`,
    'http:', '  host: 127.0.0.1', `  port: ${opts.httpPort ?? 0}`,
    'store:', '  type: sqlite', `  path: ${join(dir, 'cloud.db')}`,
    'gateways:', `  - id: ${gateway.id}`, `    tenant: ${gateway.tenant}`, `    passwordHash: "${await hashPassword(gateway.password)}"`, '',
  ].join('\n'));
  const child = spawnJinyun(['cloud', '--config', file], { env: { JINYUN_LOG_LEVEL: process.env.JINYUN_LOG_LEVEL ?? 'warn' }, onLine: opts.onLine, nodeArgs: opts.nodeArgs });
  const ev = await child.waitFor('listening', 30_000);
  return { child, mqttPort: Number(ev.mqttPort), httpPort: Number(ev.httpPort), gateway, stop: () => stopChild(child) };
}
