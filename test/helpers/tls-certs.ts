import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  ca: string;
  /** Broker certificate for 127.0.0.1/localhost signed by `ca`. */
  server: { cert: string; key: string };
  /** Broker certificate for 127.0.0.1/localhost signed by a CA nobody trusts. */
  rogue: { cert: string; key: string };
  /** Client certificate (CN gw-1) signed by `ca`. */
  client: { cert: string; key: string };
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

function newCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', `${name}.key`, '-out', `${name}.crt`]);
}

function newLeaf(dir: string, ca: string, name: string, cn: string, ext: string): { cert: string; key: string } {
  writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** A throwaway PKI made with the openssl CLI: a trusted CA, an unknown CA, broker and client certificates. */
export function makePki(dir: string): Pki {
  newCa(dir, 'test-ca');
  newCa(dir, 'unknown-ca');
  const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth';
  return {
    ca: join(dir, 'test-ca.crt'),
    server: newLeaf(dir, 'test-ca', 'server', 'localhost', serverExt),
    rogue: newLeaf(dir, 'unknown-ca', 'rogue', 'localhost', serverExt),
    client: newLeaf(dir, 'test-ca', 'client', 'gw-1', 'extendedKeyUsage=clientAuth'),
  };
}
