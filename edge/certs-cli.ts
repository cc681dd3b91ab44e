import { parseArgs } from 'node:util';
import { UsageError } from '../core/errors.js';
import { findCertificate, listCertificates, moveCertificate, type CertEntry } from '../drivers/opcua/certs.js';

export const CERTS_USAGE = `usage: jinyun certs list [--json] (--pki DIR | --config EDGE.yaml [--device NAME])
       jinyun certs trust THUMBPRINT|FILE (--pki DIR | --config EDGE.yaml [--device NAME])
       jinyun certs reject THUMBPRINT|FILE (...)
  trust moves a server certificate from rejected/ to trusted/certs/ (a running edge retries and connects);
  reject moves it back. THUMBPRINT is the SHA-1 shown by list (6 or more leading hex digits).`;

const usage = (m: string): UsageError => new UsageError(`${m}\n${CERTS_USAGE}`);

async function pkiDirs(values: { pki?: string; config?: string; device?: string }): Promise<string[]> {
  if (values.pki) return [values.pki];
  if (!values.config) throw usage('give --pki DIR or --config FILE');
  const { loadEdgeConfig } = await import('./config.js');
  const cfg = loadEdgeConfig(values.config);
  const devs = cfg.devices.filter((d) => d.type === 'opcua' && (!values.device || d.name === values.device));
  if (devs.length === 0) throw usage(values.device ? `no opcua device "${values.device}" in ${values.config}` : `no opcua device in ${values.config}`);
  return [...new Set(devs.map((d) => (d.type === 'opcua' ? d.pkiDir : '')))];
}

function line(e: CertEntry): string {
  const warn = e.timeState === 'ok' ? '' : `  [${e.timeState.toUpperCase()}]`;
  return `${e.store.padEnd(8)} ${e.thumbprint}  valid to ${e.validTo.slice(0, 10)}  ${e.subject}${e.applicationUri ? `  ${e.applicationUri}` : ''}${warn}`;
}

export async function runCerts(argv: string[], out: { write(s: string): unknown } = process.stdout): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { pki: { type: 'string' }, config: { type: 'string' }, device: { type: 'string' }, json: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const [action, id] = positionals;
  const dirs = await pkiDirs(values);
  if (action === 'list') {
    for (const dir of dirs) {
      const entries = listCertificates(dir);
      if (values.json) out.write(`${JSON.stringify({ pki: dir, certificates: entries })}\n`);
      else {
        out.write(`# ${dir}\n`);
        for (const e of entries) out.write(`${line(e)}\n`);
        if (entries.some((e) => e.store === 'rejected')) out.write(`# check a rejected thumbprint with the server's operator, then: jinyun certs trust <thumbprint> --pki ${dir}\n`);
      }
    }
    return;
  }
  if (action !== 'trust' && action !== 'reject') throw usage(`unknown action "${action ?? ''}"`);
  if (!id) throw usage(`${action} needs a thumbprint or file name (see jinyun certs list)`);
  const from = action === 'trust' ? 'rejected' : 'trusted';
  const to = action === 'trust' ? 'trusted' : 'rejected';
  const errors: string[] = [];
  for (const dir of dirs) {
    try {
      const e = findCertificate(listCertificates(dir), from, id);
      const target = moveCertificate(dir, e, to);
      out.write(`${action === 'trust' ? 'trusted' : 'rejected'} ${e.subject} (${e.thumbprint}) -> ${target}\n`);
      return;
    } catch (err) {
      errors.push(`${dir}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  throw new UsageError(errors.join('\n'));
}
