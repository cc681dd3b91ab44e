import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { parseArgs } from 'node:util';

/** Parameters of new hashes: scrypt N=2^14, r=8, p=1 (16 MiB, tens of ms), 16-byte salt, 32-byte key. */
export const SCRYPT_DEFAULTS = { N: 16384, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } as const;

/** Bounds accepted when reading a stored hash, so a hand-edited config cannot make a login cost seconds or gigabytes. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

const FORMAT = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

export interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

/** Parses 'scrypt$N$r$p$saltB64$hashB64'; null when the string is not one or its parameters are out of bounds. */
export function parseScryptHash(stored: string): ScryptHash | null {
  const m = FORMAT.exec(stored);
  if (!m) return null;
  const N = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  const salt = Buffer.from(m[4]!, 'base64');
  const key = Buffer.from(m[5]!, 'base64');
  const powerOfTwo = N >= 2 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > MAX_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P) return null;
  if (salt.length < 8 || key.length < 16 || key.length > 64) return null;
  return { N, r, p, salt, key };
}

function scryptAsync(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

const maxmem = (h: { N: number; r: number; p: number }): number => 128 * h.N * h.r * h.p + 32 * 1024 * 1024;

/** Hashes a gateway password as 'scrypt$N$r$p$saltB64$hashB64' with a fresh random salt. */
export async function hashPassword(plain: string): Promise<string> {
  const { N, r, p, saltBytes, keyBytes } = SCRYPT_DEFAULTS;
  const salt = randomBytes(saltBytes);
  const key = await scryptAsync(plain, salt, keyBytes, { N, r, p, maxmem: maxmem({ N, r, p }) });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when plain matches the stored hash (constant-time comparison). A malformed stored hash never matches. */
export async function verifyPassword(plain: string, stored: string): Promise<boolean> {
  const h = parseScryptHash(stored);
  if (!h) return false;
  const key = await scryptAsync(plain, h.salt, h.key.length, { N: h.N, r: h.r, p: h.p, maxmem: maxmem(h) });
  return key.length === h.key.length && timingSafeEqual(key, h.key);
}

export interface HashPasswordIo {
  stdin: NodeJS.ReadableStream;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/**
 * `jinyun hash-password [--password P]`: prints the scrypt hash of a gateway password for the cloud
 * config. Without --password the password is read from stdin (first line), so it stays out of the
 * shell history. The password itself is never printed.
 */
export async function runHashPassword(argv: string[], io: HashPasswordIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { password: { type: 'string', short: 'p' } }, strict: true });
  const password = values.password ?? (await readFirstLine(io.stdin));
  if (!password) {
    io.stderr.write('jinyun hash-password: empty password (pass --password P or write it to stdin)\n');
    process.exitCode = 64;
    return;
  }
  io.stdout.write(`${await hashPassword(password)}\n`);
}

async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (text.includes('\n') || text.length > 64 * 1024) break;
  }
  return (text.split(/\r?\n/)[0] ?? '').slice(0, 4096);
}
