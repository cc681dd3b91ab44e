import { readFileSync, writeFileSync } from 'node:fs';
import { Sqlite } from '../../core/sqlite.js';

/** Extra Modbus devices of 100 holding registers each, polled every 50 ms (2,000 readings/s each). */
export function loadDevices(simPort: number, devices: number): string {
  return Array.from({ length: devices }, (_, d) => [
    `  - type: modbus-tcp`, `    name: load-${d}`, `    port: ${simPort}`, `    unitId: 1`, `    pollIntervalMs: 50`, `    tags:`,
    ...Array.from({ length: 100 }, (_, a) => `      - { name: r${a}, table: holding, address: ${300 + a}, type: uint16 }`),
  ].join('\n')).join('\n');
}

/** Adds keys to the spool section of an edge config written by edgeSite. */
export function setSpool(file: string, yaml: Record<string, string | number>): void {
  const lines = Object.entries(yaml).map(([k, v]) => `  ${k}: ${v}`).join('\n');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/(  path: .*spool\.db)\n/, `$1\n${lines}\n`));
}

/** The samples of one Prometheus text exposition: name{labels} -> value. */
export class Scrape {
  private constructor(private readonly samples: Map<string, number>) {}

  static async of(httpPort: number): Promise<Scrape> {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const samples = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      const at = line.lastIndexOf(' ');
      samples.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return new Scrape(samples);
  }

  /** A gateway-level sample (label gateway only). */
  value(name: string, gateway = 'gw-1'): number {
    const v = this.samples.get(`${name}{gateway="${gateway}"}`);
    if (v === undefined) throw new Error(`no sample ${name}`);
    return v;
  }

  /** Per-device samples of a metric labelled device and gateway. */
  byDevice(name: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, v] of this.samples) {
      const m = new RegExp(`^${name}\\{device="([^"]+)",gateway="[^"]+"\\}$`).exec(k);
      if (m) out.set(m[1]!, v);
    }
    return out;
  }
}

export const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** What the spool file holds, read-only: readings kept, their sequence range, drops by device, integrity. */
export async function spoolFile(path: string): Promise<{ depth: number; minSeq: number; maxSeq: number; drops: Map<string, number>; integrity: string }> {
  const db = await Sqlite.open(path, { readonly: true });
  try {
    const r = (await db.get<{ n: number | null; lo: number | null; hi: number | null }>('SELECT SUM(count) AS n, MIN(seq_first) AS lo, MAX(seq_last) AS hi FROM blocks'))!;
    const drops = new Map((await db.all<{ source: string; readings: number }>('SELECT source, readings FROM drops')).map((d) => [d.source, d.readings]));
    const integrity = (await db.get<{ integrity_check: string }>('PRAGMA integrity_check'))!.integrity_check;
    return { depth: r.n ?? 0, minSeq: r.lo ?? 0, maxSeq: r.hi ?? 0, drops, integrity };
  } finally {
    await db.close();
  }
}

/** CPU seconds (user + system) a process used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // After "pid (comm) ": state is field 0, utime field 11, stime field 12 (in clock ticks, 100 Hz).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
