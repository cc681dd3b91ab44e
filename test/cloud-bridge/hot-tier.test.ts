import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Sqlite } from '../../core/sqlite.js';
import { silentLogger } from '../../core/logger.js';
import type { Reading } from '../../core/reading.js';
import { decodeBatch } from '../../proto/codec.js';
import { SqliteStore } from '../../cloud-bridge/store/sqlite-store.js';
import { applyPragmas, migrate } from '../../cloud-bridge/store/sqlite-schema.js';
import { settleAll } from '../../cloud-bridge/store/hot-tier.js';
import { tempDir } from '../helpers/tmp.js';
import { CATALOG, T0, batchBytes } from './helpers.js';

/** The SQLite store's two tiers of reading rows (cloud-bridge/store/hot-tier.ts). */
describe('SQLite hot and cold reading tiers', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  beforeEach(() => {
    tmp = tempDir('jinyun-hot-');
    file = join(tmp.dir, 'cloud.db');
  });
  afterEach(() => tmp.cleanup());

  const tiers = async (): Promise<{ hot: number; cold: number; both: number }> => {
    const db = await Sqlite.open(file, { readonly: true });
    try {
      return (await db.get<{ hot: number; cold: number; both: number }>(
        'SELECT (SELECT COUNT(*) FROM readings_hot) AS hot, (SELECT COUNT(*) FROM readings_cold) AS cold, (SELECT COUNT(*) FROM readings_hot h JOIN readings_cold c ON c.id = h.id) AS both'))!;
    } finally {
      await db.close();
    }
  };
  const open = (hotTier: { rows: number; ms: number }) => SqliteStore.open({ path: file, hotTier }, { logger: silentLogger() });
  const readings = (n: number, from = 0): Reading[] => Array.from({ length: n }, (_, i) => ({ tagId: 1 + ((from + i) % 2), ts: T0 + (from + i) * 1000, value: (from + i) % 2 === 0 ? (from + i) * 0.25 : (from + i) % 4 === 1, quality: 0 }));
  const write = async (store: SqliteStore, rs: Reading[], seqFirst: number) => {
    const bytes = batchBytes(rs, seqFirst);
    return store.writeBatch('gw-1', decodeBatch(bytes), { receivedMs: T0, bytes });
  };
  const all = async (store: SqliteStore) => [
    ...(await store.query({ gateway: 'gw-1', key: 'pump/flow', limit: 1000 }))!.readings,
    ...(await store.query({ gateway: 'gw-1', key: 'pump/running', limit: 1000 }))!.readings,
  ];

  it('moves rows after the configured count, in chunks, keeping ids, values and order; queries read both tiers the same', async () => {
    const store = await open({ rows: 4, ms: 3_600_000 });
    await store.registerGateways([{ id: 'gw-1', tenant: 'ta' }]);
    await store.upsertCatalog('gw-1', CATALOG);
    expect(await write(store, readings(3), 1)).toEqual({ result: 'ok', stored: 3, skipped: 0 });
    const before = await all(store);
    expect(before.map((r) => r.value)).toEqual([0, 0.5, true]);
    await write(store, readings(7, 3), 4); // 10 rows in the hot tier: due, the oldest 4 move
    await store.close();
    expect(await tiers()).toEqual({ hot: 6, cold: 4, both: 0 });

    const again = await open({ rows: 4, ms: 3_600_000 });
    const mixed = await all(again);
    expect(mixed.slice(0, 2)).toEqual(before.slice(0, 2)); // same ids after the move
    expect(mixed.map((r) => r.seq)).toEqual([1, 3, 5, 7, 9, 2, 4, 6, 8, 10]);
    // Keyset pages across the tier boundary: every reading once, in (ts, id) order.
    const first = (await again.query({ gateway: 'gw-1', key: 'pump/flow', limit: 2 }))!.readings;
    const last = first[first.length - 1]!;
    const rest = (await again.query({ gateway: 'gw-1', key: 'pump/flow', limit: 100, after: { ts: last.ts, id: last.id } }))!.readings;
    expect([...first, ...rest].map((r) => r.seq)).toEqual([1, 3, 5, 7, 9]);
    await again.close();

    const db = await Sqlite.open(file);
    await applyPragmas(db);
    expect(await settleAll(db)).toBe(6);
    await db.close();
    expect(await tiers()).toEqual({ hot: 0, cold: 10, both: 0 });
    const settled = await open({ rows: 4, ms: 3_600_000 });
    expect(await all(settled)).toEqual(mixed);
    await settled.close();
  });

  it('moves a hot tier older than the configured time at the next commit, whatever its size', async () => {
    const store = await open({ rows: 1_000_000, ms: 0 });
    await store.registerGateways([{ id: 'gw-1', tenant: 'ta' }]);
    await store.upsertCatalog('gw-1', CATALOG);
    await write(store, readings(5), 1);
    await store.close();
    expect(await tiers()).toEqual({ hot: 0, cold: 5, both: 0 });
  });

  it('migrates a version-6 file: its readings become the cold tier, new ids continue above them, SQL readers see one readings relation', async () => {
    const db = await Sqlite.open(file);
    await applyPragmas(db);
    await migrate(db, 6);
    await db.exec(`INSERT INTO readings (id, series_id, ts, kind, value, value_text, quality, epoch, seq, historical) VALUES
      (41, 1, ${T0}, 0, 1.5, NULL, 0, 1, 1, 0), (42, 1, ${T0 + 1000}, 0, 2.5, NULL, 0, 1, 2, 0)`);
    await migrate(db);
    // An INSERT into the view lands in the hot tier, with the next id.
    await db.exec(`INSERT INTO readings (series_id, ts, kind, value, value_text, quality, epoch, seq, historical) VALUES (1, ${T0 + 2000}, 0, 3.5, NULL, 0, 1, 3, 0)`);
    expect(await db.all('SELECT id, value FROM readings ORDER BY id')).toEqual([{ id: 41, value: 1.5 }, { id: 42, value: 2.5 }, { id: 43, value: 3.5 }]);
    expect(await db.all('SELECT id FROM readings_hot')).toEqual([{ id: 43 }]);
    // Ids are never handed out twice, even once the newest are gone from both tiers.
    await db.exec('DELETE FROM readings_hot; DELETE FROM readings_cold WHERE id = 42');
    await db.exec(`INSERT INTO readings (series_id, ts, kind, value, value_text, quality, epoch, seq, historical) VALUES (1, ${T0 + 3000}, 0, 4.5, NULL, 0, 1, 4, 0)`);
    expect(await db.all('SELECT id FROM readings ORDER BY id')).toEqual([{ id: 41 }, { id: 44 }]);
    await db.close();
  });
});
