import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * How to start this CLI again as a child process: the same form as the running code, i.e. the
 * compiled dist/cli/main.js when running from dist, the TypeScript source through tsx when running
 * from source (tests, benchmarks, `npm run jinyun`). JINYUN_CHILD=dist forces the compiled form.
 */
export function jinyunCommand(): { cmd: string; args: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) return { cmd: process.execPath, args: [join(here, 'main.js')] };
  const dist = join(here, '..', 'dist', 'cli', 'main.js');
  if (process.env.JINYUN_CHILD === 'dist') {
    if (!existsSync(dist)) throw new Error('JINYUN_CHILD=dist but dist/cli/main.js is missing: run npm run build');
    return { cmd: process.execPath, args: [dist] };
  }
  return { cmd: process.execPath, args: ['--import', 'tsx', join(here, 'main.ts')] };
}

export interface Child {
  proc: ChildProcess;
  /** Resolves with the first JSON line on stdout whose "event" equals the given name. */
  waitFor(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Everything written to stderr so far (bounded). */
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `jinyun <args>`; JSON event lines on stdout are collected; other lines go to onLine. */
export function spawnJinyun(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; onLine?: (line: string) => void; nodeArgs?: string[] } = {}): Child {
  const { cmd, args: pre } = jinyunCommand();
  const proc = spawn(cmd, [...(opts.nodeArgs ?? []), ...pre, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Record<string, unknown>[] = [];
  const waiters: { event: string; resolve: (v: Record<string, unknown>) => void }[] = [];
  let err = '';
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let parsed: Record<string, unknown> | null = null;
    if (line.startsWith('{"event"')) {
      try { parsed = JSON.parse(line) as Record<string, unknown>; } catch { parsed = null; }
    }
    if (parsed) {
      events.push(parsed);
      for (const w of waiters.filter((x) => x.event === parsed!.event)) w.resolve(parsed);
    } else opts.onLine?.(line);
  });
  proc.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-64 * 1024);
    opts.onLine?.(d.toString().trimEnd());
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    stderr: () => err,
    exited,
    waitFor(event, timeoutMs = 20_000) {
      const seen = events.find((e) => e.event === event);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for "${event}" from jinyun ${args.join(' ')}\n${err.slice(-4000)}`)), timeoutMs);
        void exited.then(({ code, signal }) => {
          clearTimeout(t);
          reject(new Error(`jinyun ${args.join(' ')} exited (code ${code}, signal ${signal}) before "${event}"\n${err.slice(-4000)}`));
        });
        waiters.push({ event, resolve: (v) => { clearTimeout(t); resolve(v); } });
      });
    },
  };
}

/** Sends a signal and waits for the exit (SIGKILL after graceMs). */
export async function stopChild(child: Child, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill(signal);
  const t = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(t);
}
