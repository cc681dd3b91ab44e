import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface MosquittoListener {
  /** Plain TCP when tls is absent. */
  tls?: { cafile: string; certfile: string; keyfile: string; requireCertificate: boolean };
}

export interface Mosquitto {
  proc: ChildProcess;
  /** Ports of the listeners, in the order given. */
  ports: number[];
  log(): string;
  stop(): Promise<void>;
}

export const MOSQUITTO_BIN = process.env.JINYUN_MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
const BIN = MOSQUITTO_BIN;

/**
 * Whether the suites that start their own mosquitto can run: without the binary they are skipped
 * with a line saying so, except under CI=true, where a missing binary fails the run (.ci/run installs it).
 */
export function haveMosquittoBinary(suite: string): boolean {
  if (existsSync(BIN)) return true;
  if (process.env.CI === 'true') throw new Error(`${BIN} is missing; under CI=true the ${suite} suite must run (apt-get install mosquitto)`);
  console.warn(`SKIPPED: ${suite} suite: no ${BIN} (apt-get install mosquitto, or set JINYUN_MOSQUITTO_BIN; it runs under CI=true)`);
  return false;
}

function listenerConf(port: number, l: MosquittoListener): string {
  const lines = [`listener ${port} 127.0.0.1`];
  if (l.tls) {
    lines.push(`cafile ${l.tls.cafile}`, `certfile ${l.tls.certfile}`, `keyfile ${l.tls.keyfile}`, `require_certificate ${l.tls.requireCertificate}`, 'tls_version tlsv1.2');
  }
  return lines.join('\n');
}

async function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * Our own mosquitto (never the system one on 1883) with the given listeners on free ports, no
 * persistence, anonymous clients allowed; stop() ends it by its PID.
 */
export async function startMosquitto(dir: string, listeners: MosquittoListener[]): Promise<Mosquitto> {
  const ports: number[] = [];
  for (const _ of listeners) ports.push(await freePort());
  const conf = join(dir, 'mosquitto.conf');
  // user root: mosquitto started as root otherwise switches to "mosquitto", which cannot read a 0700 temp dir.
  writeFileSync(conf, ['per_listener_settings false', 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice',
    ...(process.getuid?.() === 0 ? ['user root'] : []), ...listeners.map((l, i) => listenerConf(ports[i]!, l)), ''].join('\n'));
  const proc = spawn(BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-32 * 1024); });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const end = performance.now() + 10_000;
  for (const port of ports) {
    while (!(await reachable(port))) {
      if (proc.exitCode !== null || performance.now() > end) {
        proc.kill('SIGKILL');
        throw new Error(`mosquitto did not start listening on ${port}:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    proc, ports, log: () => log,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
