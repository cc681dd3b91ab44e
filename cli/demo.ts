import { createServer } from 'node:net';
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../cloud-bridge/credentials.js';
import { untilSignal } from '../core/signals.js';
import { spawnJinyun, stopChild, type Child } from './process.js';
import { setMethaneSpike } from '../simulators/modbus/methane-spike.js';

const root = resolve(fileURLToPath(import.meta.url), '..', '..', fileURLToPath(import.meta.url).endsWith('.ts') ? '' : '..');

/** 1883/8080 when free, otherwise a free port chosen by the OS; an explicit variable wins. */
async function pickPort(envValue: string | undefined, preferred: number): Promise<number> {
  if (envValue !== undefined && envValue !== '') {
    const n = Number(envValue);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port number: ${envValue}`);
    return n;
  }
  return (await isFree(preferred)) ? preferred : 0;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

const prefix = (name: string) => (line: string) => {
  for (const l of line.split('\n')) if (l.trim()) process.stderr.write(`[${name}] ${l}\n`);
};

/**
 * `jinyun demo`: the Modbus coal-mine simulator, the cloud bridge and an edge agent, each a real
 * process, wired with the configs in configs/demo and a fresh random gateway password.
 */
export async function runDemo(_argv: string[]): Promise<void> {
  const dir = resolve(process.env.JINYUN_DEMO_DIR ?? '.demo');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const verbose = process.env.JINYUN_DEMO_VERBOSE === '1';
  const quietLog = verbose ? undefined : () => undefined;
  const children: Child[] = [];
  const stopAll = async () => { for (const c of children.reverse()) await stopChild(c); };
  try {
    const sim = spawnJinyun(['sim', 'modbus', '--profile', 'coal-mine', '--port', '0'], { onLine: quietLog ?? prefix('sim') });
    children.push(sim);
    const simPort = Number((await sim.waitFor('listening')).port);

    const password = randomBytes(24).toString('base64url');
    const env = {
      JINYUN_DEMO_DIR: dir,
      MQTT_PORT: String(await pickPort(process.env.MQTT_PORT, 1883)),
      HTTP_PORT: String(await pickPort(process.env.HTTP_PORT, 8080)),
      JINYUN_DEMO_GATEWAY_HASH: await hashPassword(password),
      JINYUN_LOG_LEVEL: process.env.JINYUN_LOG_LEVEL ?? 'info',
    };
    const cloud = spawnJinyun(['cloud', '--config', join(root, 'configs/demo/cloud.yaml')], { env, onLine: quietLog ?? prefix('cloud') });
    children.push(cloud);
    const c = await cloud.waitFor('listening');
    const login = await createDemoToken(env);
    const edge = spawnJinyun(['edge', '--config', join(root, 'configs/demo/edge.yaml')], {
      env: { ...env, JINYUN_SIM_PORT: String(simPort), JINYUN_MQTT_URL: `mqtt://127.0.0.1:${String(c.mqttPort)}`, JINYUN_DEMO_GATEWAY_PASSWORD: password },
      onLine: quietLog ?? prefix('edge'),
    });
    children.push(edge);
    await edge.waitFor('started');
    const api = `http://127.0.0.1:${String(c.httpPort)}/api/v1`;
    const dashboard = `http://127.0.0.1:${String(c.httpPort)}/dashboard/`;
    process.stdout.write([
      '',
      'Jinyun demo is running (Ctrl-C stops it):',
      `  Modbus simulator (coal mine)  127.0.0.1:${simPort}`,
      `  MQTT broker (cloud bridge)    mqtt://127.0.0.1:${String(c.mqttPort)}`,
      `  API                           ${api}`,
      `  dashboard                     ${dashboard}  user ${login.user}  password ${login.password}`,
      `  API token                     Authorization: Bearer ${login.token}`,
      `  latest values                 ${api}/latest`,
      `  gateways / devices / tags     ${api}/gateways  ${api}/devices  ${api}/tags`,
      `  data and logs                 ${dir}  (JINYUN_DEMO_VERBOSE=1 shows the logs)`,
      '',
    ].join('\n') + '\n');
    await showFirstValues(api, login.token);
    // The machine-readable ready line is for scripts and tests reading a pipe; a person at a terminal has the text above.
    if (!process.stdout.isTTY) process.stdout.write(`${JSON.stringify({ event: 'ready', api, dashboard, user: login.user, password: login.password, mqttPort: c.mqttPort, httpPort: c.httpPort, simPort })}\n`);
    const keys = process.stdin.isTTY ? demoKeys(simPort) : null;
    const first = await Promise.race([untilSignal(), ...children.map((ch) => ch.exited.then(() => 'child-exit' as const))]);
    keys?.stop();
    if (first === 'child-exit') process.exitCode = 1;
  } finally {
    await stopAll();
  }
}

/**
 * At a terminal: `m` switches the simulator's methane spike on and off (the coal-face alarm is raised,
 * then cleared), `q` or Ctrl-C stops the demo.
 */
function demoKeys(simPort: number): { stop(): void } {
  let spike = false;
  process.stdout.write('Keys: m = methane spike on/off (raises and clears the coal-face methane alarm), q = quit\n');
  process.stdin.setRawMode(true);
  process.stdin.resume();
  const onData = (d: Buffer): void => {
    const k = d.toString('utf8');
    if (k === 'q' || k === '\u0003') {
      process.kill(process.pid, 'SIGINT');
      return;
    }
    if (k !== 'm') return;
    spike = !spike;
    setMethaneSpike(simPort, spike).then(
      () => process.stdout.write(spike ? 'methane spike ON: methane rises over 1.5 % CH4; watch the alarms on the dashboard\n' : 'methane spike OFF: the alarms clear once methane is back under the clear level\n'),
      (err: unknown) => process.stdout.write(`cannot switch the methane spike: ${err instanceof Error ? err.message : String(err)}\n`),
    );
  };
  process.stdin.on('data', onData);
  return {
    stop() {
      process.stdin.off('data', onData);
      process.stdin.setRawMode(false);
      process.stdin.pause();
    },
  };
}

/** A tenant API token for the demo's dashboard login (`jinyun admin token create`, on the running cloud's store). */
async function createDemoToken(env: NodeJS.ProcessEnv): Promise<{ token: string; user: string; password: string }> {
  let line = '';
  const admin = spawnJinyun(['admin', '--config', join(root, 'configs/demo/cloud.yaml'), 'token', 'create', '--tenant', 'demo-coal'], {
    env, onLine: (l) => { if (l.startsWith('{"tenant"')) line = l; },
  });
  await new Promise((r) => admin.proc.once('close', r));
  if (!line) throw new Error(`cannot create the demo API token: ${admin.stderr().slice(-2000)}`);
  const token = (JSON.parse(line) as { token: string }).token;
  const dot = token.indexOf('.');
  return { token, user: token.slice(0, dot), password: token.slice(dot + 1) };
}

async function showFirstValues(api: string, token: string): Promise<void> {
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline) {
    try {
      const res = await fetch(`${api}/latest`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { items?: { key: string; value: unknown; unit?: string; quality?: { name: string } }[] };
      const items = body.items ?? [];
      if (items.length > 0) {
        process.stdout.write('Live values from the mine (GET /latest):\n');
        for (const it of items.slice(0, 20)) process.stdout.write(`  ${it.key.padEnd(32)} ${String(it.value).padStart(12)} ${it.unit ?? ''}  ${it.quality?.name ?? ''}\n`);
        return;
      }
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  process.stdout.write('No values reached the API within 15 s: run with JINYUN_DEMO_VERBOSE=1 to see the logs.\n');
}
