import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { hashPassword, parseScryptHash, runHashPassword, verifyPassword } from '../../cloud-bridge/credentials.js';

describe('gateway credentials (scrypt)', () => {
  it('hashes in the documented format with a fresh salt and verifies only the right password', async () => {
    const h = await hashPassword('s3cret-pw');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    const parsed = parseScryptHash(h)!;
    expect(parsed.salt).toHaveLength(16);
    expect(parsed.key).toHaveLength(32);
    expect(await hashPassword('s3cret-pw')).not.toBe(h);
    expect(await verifyPassword('s3cret-pw', h)).toBe(true);
    expect(await verifyPassword('s3cret-pW', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  it('never matches a malformed or out-of-bounds stored hash', async () => {
    const h = await hashPassword('x');
    for (const bad of ['', 'plain', h.replace('scrypt$', 'bcrypt$'), h.replace('$16384$', '$16383$'), h.replace('$16384$', '$4194304$'), h.replace('$8$1$', '$8$99$'), `${h}$extra`]) {
      expect(parseScryptHash(bad)).toBeNull();
      expect(await verifyPassword('x', bad)).toBe(false);
    }
  });

  it('runHashPassword prints a verifiable hash from --password or stdin, never the password', async () => {
    const out: string[] = [];
    const io = (stdin: string) => ({ stdin: Readable.from([stdin]), stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(`ERR ${s}`) } });
    await runHashPassword(['--password', 'pw-a'], io(''));
    await runHashPassword([], io('pw-b\nignored\n'));
    expect(out).toHaveLength(2);
    expect(out.join('')).not.toMatch(/pw-a|pw-b/);
    expect(await verifyPassword('pw-a', out[0]!.trim())).toBe(true);
    expect(await verifyPassword('pw-b', out[1]!.trim())).toBe(true);
  });
});
