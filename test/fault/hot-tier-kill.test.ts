import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Sqlite } from '../../core/sqlite.js';
import { applyPragmas, migrate } from '../../cloud-bridge/store/sqlite-schema.js';
import { tempDir } from '../helpers/tmp.js';

const ROWS = 300_000;

/**
 * kill -9 while the SQLite store moves readings from its hot to its cold tier (hot-tier.ts): after
 * every kill, each reading is in exactly one tier, with its id and values, and the next run goes on.
 */
describe('fault: the store killed while moving readings between tiers', () => {
  const tmp = tempDir('jinyun-hot-kill-');
  afterAll(() => tmp.cleanup());

  it('keeps every reading exactly once, whatever the moment of the kill', async () => {
    const file = join(tmp.dir, 'cloud.db');
    const db = await Sqlite.open(file);
    await applyPragmas(db);
    await migrate(db);
    await db.exec(`INSERT INTO readings_hot (series_id, ts, kind, value, value_text, quality, epoch, seq, historical)
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${ROWS}) SELECT i % 997, 1700000000000 + i * 10, 0, i * 0.5, NULL, 0, 1, i, 0 FROM c`);
    const check = async () => {
      const r = (await db.get<{ hot: number; cold: number; both: number; ids: number; seqs: number; values: number }>(
        `SELECT (SELECT COUNT(*) FROM readings_hot) AS hot, (SELECT COUNT(*) FROM readings_cold) AS cold,
          (SELECT COUNT(*) FROM readings_hot h JOIN readings_cold c ON c.id = h.id) AS both,
          (SELECT SUM(id) FROM readings) AS ids, (SELECT SUM(seq) FROM readings) AS seqs, (SELECT SUM(value) FROM readings WHERE value = seq * 0.5) AS "values"`))!;
      expect(r.hot + r.cold).toBe(ROWS);
      expect(r.both).toBe(0);
      expect(r.ids).toBe((ROWS * (ROWS + 1)) / 2);
      expect(r.seqs).toBe((ROWS * (ROWS + 1)) / 2);
      expect(r.values).toBe((ROWS * (ROWS + 1)) / 4);
      return r;
    };
    /** One mover run, killed `delayMs` after its `afterMoves`-th committed transaction (or left to finish). */
    const moveOnce = async (kill: { afterMoves: number; delayMs: number } | null): Promise<number | null> => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'hot-tier-mover.ts'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      let moves = 0;
      let killer: NodeJS.Timeout | undefined;
      child.stdout.on('data', (d: Buffer) => {
        moves += (d.toString().match(/moved/g) ?? []).length;
        if (kill && !killer && moves >= kill.afterMoves) killer = setTimeout(() => child.kill('SIGKILL'), kill.delayMs);
      });
      const code = await exited;
      clearTimeout(killer);
      return code;
    };
    // Killed at 12 moments spread over the move (inside and between its transactions); the cold tier
    // grows from kill to kill, so the kills land mid-move, not before it began.
    const cold: number[] = [];
    for (let run = 0; run < 12; run++) {
      expect(await moveOnce({ afterMoves: run % 2, delayMs: (run * 13) % 60 })).toBeNull();
      cold.push((await check()).cold);
    }
    console.info(`hot-tier move killed 12 times; cold tier after each kill: ${cold.join(', ')}`);
    expect(cold[cold.length - 1]).toBeGreaterThan(0);
    expect(new Set(cold).size).toBeGreaterThan(3);
    expect(await moveOnce(null)).toBe(0);
    expect(await check()).toMatchObject({ hot: 0, cold: ROWS });
    await db.close();
  }, 120_000);
});
