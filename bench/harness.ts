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
