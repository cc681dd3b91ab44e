import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
/** One measured figure; a ratio is a figure of its own (unit "ratio"). */
export interface Figure {
  name: string;
  value: number;
  unit: string;
}

export interface BenchGroup {
  name: string;
  description: string;
  run(report: (f: Figure) => void): Promise<void>;
}

export function fmt(f: Figure): string {
  const v = Math.abs(f.value) >= 1000 ? Math.round(f.value).toLocaleString('en-US') : Number(f.value.toPrecision(4)).toString();
  return `${f.name.padEnd(40)} ${v.padStart(14)} ${f.unit}`;
}

/** Runs fn repeatedly for at least minMs and returns operations per second. */
export async function rate(fn: () => Promise<number>, minMs = 2000): Promise<number> {
  let ops = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) ops += await fn();
  return ops / ((performance.now() - t0) / 1000);
}

/** CPU seconds (user + system) a process used so far, from /proc (clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Machine-wide CPU time from /proc/stat: busy and total clock ticks over all cores. */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

/** Starts measuring the whole machine; the function it returns gives the busy cores since then (0..cores). */
export function machineBusy(): () => number {
  const a = machineTicks();
  const cores = availableParallelism();
  return () => {
    const b = machineTicks();
    return b.total === a.total ? 0 : ((b.busy - a.busy) / (b.total - a.total)) * cores;
  };
}

/** CPU seconds used so far by every process whose command name is `comm` (e.g. postgres, mosquitto); processes that exit in between drop out. */
export function commCpuSeconds(comm: string): number {
  let sum = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm) sum += cpuSeconds(Number(d));
    } catch { /* the process exited meanwhile */ }
  }
  return sum;
}
