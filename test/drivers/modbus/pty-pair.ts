import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PtyPair {
  /** The master's end (the driver opens it). */
  a: string;
  /** The slave's end (the simulator opens it). */
  b: string;
  /** Ends socat: both ends vanish, as when a USB serial adapter is unplugged. */
  unplug(): Promise<void>;
  /** Makes the pair again on the same paths (after unplug). */
  plugIn(): Promise<void>;
  close(): Promise<void>;
}

interface Socat {
  proc: ChildProcess;
  exited: Promise<void>;
}

async function startSocat(a: string, b: string): Promise<Socat> {
  const proc = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  for (let i = 0; i < 500 && !(existsSync(a) && existsSync(b)); i++) await new Promise((r) => setTimeout(r, 10));
  if (!existsSync(a) || !existsSync(b)) {
    proc.kill();
    throw new Error('socat did not create the pty pair (is socat installed?)');
  }
  return { proc, exited };
}

async function stopSocat(s: Socat | null): Promise<void> {
  if (!s) return;
  if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGTERM');
  await s.exited;
}

/** A pseudo-terminal pair made by socat: a real serial line between two paths. */
export async function ptyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'jinyun-pty-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  let socat: Socat | null = await startSocat(a, b);
  return {
    a,
    b,
    async unplug() {
      await stopSocat(socat);
      socat = null;
    },
    async plugIn() {
      socat ??= await startSocat(a, b);
    },
    async close() {
      await stopSocat(socat);
      socat = null;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
