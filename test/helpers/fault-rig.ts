import { afterAll, expect } from 'vitest';
import { join } from 'node:path';
import { ModbusSimServer } from '../../simulators/modbus/modbus-sim-server.js';
import { stopChild, type Child } from '../../cli/process.js';
import { Sqlite } from '../../core/sqlite.js';
import { tempDir, type TempDir } from './tmp.js';
import type { CloudChild } from './cloud-child.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * What the process fault tests share: a temp dir, the coal-mine simulator, and the cloud and edge
 * processes of the test, all stopped (by PID) and removed after the file's tests.
 */
export interface FaultRig {
  tmp: TempDir;
  sim: ModbusSimServer;
  cloud?: CloudChild;
  edge?: Child;
}

/** Call inside a describe block: registers the afterAll that stops what the test started. */
export function faultRig(prefix: string): FaultRig {
  const rig: FaultRig = { tmp: tempDir(prefix), sim: new ModbusSimServer({ port: 0, profile: 'coal-mine' }) };
  afterAll(async () => {
    if (rig.edge) await stopChild(rig.edge);
    if (rig.cloud) await rig.cloud.stop();
    await rig.sim.stop();
    rig.tmp.cleanup();
  });
  return rig;
}

/**
 * Stops the device answering and returns the last sample counter value it served (holding 100 of
 * unit 1, +1 per poll): every value 1..served was read by the edge at most once.
 */
export async function lastServedCounter(sim: ModbusSimServer): Promise<number> {
  sim.setFaults({ silent: true });
  await sleep(200);
  return sim.unit(1).getNumber('holding', 100, 'uint32');
}

export interface CounterRow { value: number; epoch: number; seq: number }

/** The good `gas-monitor/counter` readings in a cloud store, ordered by value. */
export function counterRows(db: Sqlite): Promise<CounterRow[]> {
  return db.all<CounterRow>(
    `SELECT r.value, r.epoch, r.seq FROM readings r JOIN series s ON s.id = r.series_id
     WHERE s.key = 'gas-monitor/counter' AND r.quality = 0 ORDER BY r.value`);
}

/** The counter values 1..served that are not among `values`. */
export function missingCounterValues(values: readonly number[], served: number): number[] {
  const have = new Set(values);
  return Array.from({ length: served }, (_, i) => i + 1).filter((v) => !have.has(v));
}

/** Per epoch: readings, distinct sequence numbers, lowest and highest sequence. */
export interface EpochKeys { epoch: number; n: number; distinct_seq: number; lo: number; hi: number }

export function epochKeys(db: Sqlite): Promise<EpochKeys[]> {
  return db.all<EpochKeys>(
    'SELECT epoch, COUNT(*) AS n, COUNT(DISTINCT seq) AS distinct_seq, MIN(seq) AS lo, MAX(seq) AS hi FROM readings GROUP BY epoch ORDER BY epoch');
}

/** Within each epoch the sequence numbers are unique and without holes. */
export function expectDenseSequences(keys: readonly EpochKeys[]): void {
  for (const k of keys) {
    expect(k.distinct_seq).toBe(k.n);
    expect(k.hi - k.lo + 1).toBe(k.n);
  }
}

/** The edge's spool file passes `PRAGMA integrity_check` (read-only, also while an agent uses it). */
export async function expectSpoolIntact(dir: string): Promise<void> {
  const spool = await Sqlite.open(join(dir, 'spool.db'), { readonly: true });
  try {
    expect(await spool.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
  } finally {
    await spool.close();
  }
}
