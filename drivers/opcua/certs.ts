import { X509Certificate, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';
import { certificateTimeState } from './health.js';

/** One certificate in a node-opcua PKI folder (trusted/certs or rejected). */
export interface CertEntry {
  store: 'trusted' | 'rejected' | 'own';
  file: string;
  /** SHA-1 of the DER, hex lower case: the OPC UA thumbprint. */
  thumbprint: string;
  subject: string;
  applicationUri: string;
  validFrom: string;
  validTo: string;
  timeState: string;
}

const FOLDERS = { trusted: 'trusted/certs', rejected: 'rejected', own: 'own/certs' } as const;

function derOf(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const m = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(text);
  return m ? Buffer.from(m[1]!.replace(/\s/g, ''), 'base64') : raw;
}

function entry(store: CertEntry['store'], path: string, nowMs: number): CertEntry | null {
  try {
    const der = derOf(readFileSync(path));
    const x = new X509Certificate(der);
    const uri = /URI:([^,\s]+)/.exec(x.subjectAltName ?? '')?.[1] ?? '';
    const t = certificateTimeState(der, nowMs);
    return { store, file: path, thumbprint: createHash('sha1').update(der).digest('hex'), subject: x.subject.replace(/\n/g, ', '), applicationUri: uri, validFrom: new Date(x.validFrom).toISOString(), validTo: t.validTo, timeState: t.state };
  } catch {
    return null;
  }
}

/** Certificates in the PKI (own, trusted, rejected), newest file order within each store. */
export function listCertificates(pkiDir: string, nowMs = Date.now()): CertEntry[] {
  const out: CertEntry[] = [];
  for (const store of ['own', 'trusted', 'rejected'] as const) {
    const dir = join(pkiDir, FOLDERS[store]);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      if (!/\.(pem|der|crt|cer)$/i.test(f)) continue;
      const e = entry(store, join(dir, f), nowMs);
      if (e) out.push(e);
    }
  }
  return out;
}

/** Finds one certificate of a store by thumbprint prefix (>= 6 hex digits, colons ignored) or file name. */
export function findCertificate(entries: CertEntry[], store: 'trusted' | 'rejected', id: string): CertEntry {
  const want = id.toLowerCase().replace(/:/g, '');
  const hits = entries.filter((e) => e.store === store && (basename(e.file) === id || (want.length >= 6 && e.thumbprint.startsWith(want))));
  if (hits.length === 1) return hits[0]!;
  const names = entries.filter((e) => e.store === store).map((e) => `${e.thumbprint.slice(0, 12)} ${e.subject}`);
  if (hits.length === 0) throw new Error(`no ${store} certificate matches "${id}"; ${store}: ${names.length ? `\n  ${names.join('\n  ')}` : 'none'}`);
  throw new Error(`"${id}" matches ${hits.length} ${store} certificates; give more of the thumbprint`);
}

/** Moves a certificate between rejected/ and trusted/certs/ (what an engineer would otherwise do by hand). */
export function moveCertificate(pkiDir: string, e: CertEntry, to: 'trusted' | 'rejected'): string {
  const dir = join(pkiDir, FOLDERS[to]);
  mkdirSync(dir, { recursive: true });
  const target = join(dir, basename(e.file));
  renameSync(e.file, target);
  return target;
}
