import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { UsageError, errorMessage } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { SECURITY_MODES, SECURITY_POLICIES, opcuaDeviceSchema, type OpcuaDevice } from './config.js';
import { browseVariables, tagNames, type BrowsedVariable } from './browse.js';
import { MessageSecurityMode, OPCUAClient, UserTokenType } from 'node-opcua-client';
import { acquireCertificateManager, openSession, releaseCertificateManager, routeNodeOpcuaLogs } from './session.js';

export const BROWSE_USAGE = `usage: jinyun browse opc.tcp://HOST:PORT [--root NODEID] [--depth N] [--out FILE] [--name DEVICE]
         [--security-mode None|Sign|SignAndEncrypt] [--security-policy POLICY] [--user NAME --password PW] [--pki DIR]
       jinyun browse opc.tcp://HOST:PORT --endpoints [--pki DIR]   (the security modes, policies and user tokens the server offers)
  Walks the address space below --root (default the Objects folder, i=85) to --depth levels (default 10) and writes
  a YAML "devices:" list with one opcua device and a tag per Variable (NodeId, data type, unit from EngineeringUnits).
  Paste it into the edge config and edit names. Progress goes to stderr, the YAML to --out or stdout.`;

const usage = (m: string): UsageError => new UsageError(`${m}\n${BROWSE_USAGE}`);

/** The device document browse writes: valid against opcuaDeviceSchema as it stands. */
export function deviceYaml(dev: Omit<OpcuaDevice, 'tags'>, vars: BrowsedVariable[], header: string): string {
  const names = tagNames(vars.map((v) => v.path));
  const tags = vars.map((v, i) => ({ name: names[i]!, nodeId: v.nodeId, dataType: v.dataType, ...(v.unit ? { unit: v.unit } : {}), ...(v.description ? { description: v.description.slice(0, 256) } : {}) }));
  const device = { type: 'opcua', name: dev.name, endpointUrl: dev.endpointUrl, securityMode: dev.securityMode, securityPolicy: dev.securityPolicy, user: dev.user.type === 'username' ? { type: 'username', username: dev.user.username, password: '${OPCUA_PASSWORD}' } : dev.user, pkiDir: dev.pkiDir, mode: 'subscribe', publishingIntervalMs: 1000, tags };
  return `${header}${stringify({ devices: [device] }, { lineWidth: 0 })}`;
}

export async function runBrowse(argv: string[], io: { stdout?: { write(s: string): unknown }; stderr?: { write(s: string): unknown } } = {}): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      root: { type: 'string', default: 'i=85' }, depth: { type: 'string', default: '10' }, out: { type: 'string' }, name: { type: 'string' },
      endpoints: { type: 'boolean', default: false },
      'security-mode': { type: 'string', default: 'None' }, 'security-policy': { type: 'string' }, user: { type: 'string' }, password: { type: 'string' }, pki: { type: 'string', default: './pki' },
    },
    allowPositionals: true,
    strict: true,
  });
  const url = positionals[0];
  if (!url) throw usage('give the endpoint URL');
  if (values.endpoints) return printEndpoints(url, values.pki, io.stdout ?? process.stdout);
  const depth = Number(values.depth);
  if (!Number.isInteger(depth) || depth < 1 || depth > 50) throw usage('--depth must be 1-50');
  const mode = values['security-mode'];
  const policy = values['security-policy'] ?? (mode === 'None' ? 'None' : 'Basic256Sha256');
  if (!(SECURITY_MODES as readonly string[]).includes(mode) || !(SECURITY_POLICIES as readonly string[]).includes(policy)) throw usage('unknown security mode or policy');
  const host = /^opc\.tcp:\/\/([^:/]+)/.exec(url)?.[1] ?? 'opcua';
  const parsed = opcuaDeviceSchema.safeParse({
    type: 'opcua', name: values.name ?? host.replace(/[^A-Za-z0-9_.-]/g, '-'), endpointUrl: url, securityMode: mode, securityPolicy: policy, pkiDir: values.pki,
    user: values.user ? { type: 'username', username: values.user, password: values.password ?? '' } : { type: 'anonymous' },
    requestTimeoutMs: 30_000, tags: [{ name: 'x', nodeId: 'i=2258' }],
  });
  if (!parsed.success) throw usage(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const device = parsed.data;
  const err = io.stderr ?? process.stderr;
  routeNodeOpcuaLogs(createLogger({ fd: 2, level: 'warn' }));
  const cm = await acquireCertificateManager(device.pkiDir);
  const link = await openSession({ device, cm, onLost: () => undefined }).catch(async (e: unknown) => {
    await releaseCertificateManager(device.pkiDir);
    throw new Error(`cannot connect to ${url}: ${errorMessage(e)}`);
  });
  const tty = Boolean((err as { isTTY?: boolean }).isTTY);
  let lastPrint = 0;
  try {
    const vars = await browseVariables(link.session, {
      root: values.root, maxDepth: depth,
      onProgress: (p) => {
        const now = performance.now();
        if (now - lastPrint < (tty ? 100 : 2000)) return;
        lastPrint = now;
        err.write(`${tty ? '\r' : ''}browsing: depth ${p.depth}, ${p.nodes} nodes, ${p.variables} variables, ${p.queued} queued${tty ? '   ' : '\n'}`);
      },
    });
    err.write(`${tty ? '\r' : ''}browsed ${vars.length} variables below ${values.root}\n`);
    const header = `# generated by: jinyun browse ${url} --root ${values.root} --depth ${depth} (${new Date().toISOString()})\n# ${vars.length} variables. Rename tags as you like; nodeId, dataType and unit come from the server.\n`;
    const text = deviceYaml(device, vars, header);
    if (values.out) writeFileSync(values.out, text);
    else (io.stdout ?? process.stdout).write(text);
  } finally {
    await link.close();
    await releaseCertificateManager(device.pkiDir);
  }
}

/** One line per endpoint: "SignAndEncrypt  Basic256Sha256  users: Anonymous, UserName, Certificate". */
async function printEndpoints(url: string, pkiDir: string, out: { write(s: string): unknown }): Promise<void> {
  routeNodeOpcuaLogs(createLogger({ fd: 2, level: 'warn' }));
  const cm = await acquireCertificateManager(pkiDir);
  const client = OPCUAClient.create({ applicationName: 'Jinyun', clientCertificateManager: cm, endpointMustExist: false, connectionStrategy: { maxRetry: 0 } });
  try {
    await client.connect(url).catch((e: unknown) => { throw new Error(`cannot connect to ${url}: ${errorMessage(e)}`); });
    const endpoints = await client.getEndpoints();
    for (const e of endpoints) {
      const users = [...new Set((e.userIdentityTokens ?? []).map((t) => UserTokenType[t.tokenType]))].join(', ');
      out.write(`${String(MessageSecurityMode[e.securityMode]).padEnd(15)} ${String(e.securityPolicyUri).replace(/^.*#/, '').padEnd(22)} users: ${users}\n`);
    }
  } finally {
    await client.disconnect().catch(() => undefined);
    await releaseCertificateManager(pkiDir);
  }
}
