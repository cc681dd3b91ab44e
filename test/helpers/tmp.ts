import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp directory, removed by the returned cleanup. */
export interface TempDir { dir: string; cleanup: () => void }

export function tempDir(prefix = 'jinyun-'): TempDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // JINYUN_TEST_KEEP=1 keeps the directory (databases, configs) for a post-mortem.
  return { dir, cleanup: () => { if (process.env.JINYUN_TEST_KEEP !== '1') rmSync(dir, { recursive: true, force: true }); } };
}
