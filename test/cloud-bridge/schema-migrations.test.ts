import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pg from 'pg';
import { Sqlite } from '../../core/sqlite.js';
import { silentLogger } from '../../core/logger.js';
import { SqliteStore } from '../../cloud-bridge/store/sqlite-store.js';
import { PgStore } from '../../cloud-bridge/store/pg-store.js';
import { SCHEMA_VERSION, applyPragmas, migrate } from '../../cloud-bridge/store/sqlite-schema.js';
import { PG_SCHEMA_VERSION } from '../../cloud-bridge/store/pg-schema.js';
import { PG_URL, dropSchemas, havePostgres, uniqueSchema } from '../helpers/services.js';
import { tempDir } from '../helpers/tmp.js';

/** Versioned migrations of the cloud stores: an older file is brought forward with its data; a newer one is refused untouched. */
describe('cloud store schema migrations (SQLite)', () => {
  const tmp = tempDir('jinyun-migrate-');
  afterAll(() => tmp.cleanup());

  const version = async (file: string): Promise<number> => {
    const db = await Sqlite.open(file, { readonly: true });
    try {
      return (await db.get<{ version: number }>('SELECT version FROM schema_version'))!.version;
    } finally {
      await db.close();
    }
  };

  it(`brings a version-1 file (before the registry) to version ${SCHEMA_VERSION} and keeps its data`, async () => {
    expect(SCHEMA_VERSION).toBeGreaterThan(1);
    const file = join(tmp.dir, 'v1.db');
    const db = await Sqlite.open(file);
    await applyPragmas(db);
    await migrate(db, 1);
    await db.run("INSERT INTO gateways (id, tenant, online, last_seen_ms, epoch, producer_id, readings_stored) VALUES ('gw-old', 't-old', 0, 1700000000000, 3, 'p-old', 7)");
    await db.close();
    expect(await version(file)).toBe(1);

    const store = await SqliteStore.open({ path: file }, { logger: silentLogger() });
    try {
      expect(await version(file)).toBe(SCHEMA_VERSION);
      expect((await store.gateways({})).map((g) => [g.id, g.tenant, g.epoch, g.producerId, g.readingsStored, g.lastSeenMs])).toEqual([['gw-old', 't-old', 3, 'p-old', 7, 1700000000000]]);
      // The tables of version 2 are there and work.
      await store.applyRegistry({ op: 'addTenant', id: 't-new', atMs: 1 });
      expect((await store.loadRegistry()).tenants).toContain('t-new');
    } finally {
      await store.close();
    }
  });

  it('refuses a file of a newer version with a clear message and leaves it as it was', async () => {
    const file = join(tmp.dir, 'newer.db');
    await (await SqliteStore.open({ path: file }, { logger: silentLogger() })).close();
    const db = await Sqlite.open(file);
    await db.run('UPDATE schema_version SET version = ?', [SCHEMA_VERSION + 1]);
    await db.close();
    await expect(SqliteStore.open({ path: file }, { logger: silentLogger() })).rejects.toThrow(`${file} has schema version ${SCHEMA_VERSION + 1}, newer than this program knows (${SCHEMA_VERSION})`);
    expect(await version(file)).toBe(SCHEMA_VERSION + 1);
  });
});

const pgOk = await havePostgres();

describe.skipIf(!pgOk)('cloud store schema migrations (PostgreSQL)', () => {
  const schemas: string[] = [];
  afterAll(async () => {
    await dropSchemas(schemas);
  });

  it('records its version, opens again without change, and refuses a newer schema untouched', async () => {
    const schema = uniqueSchema('jy_migrate');
    schemas.push(schema);
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await (await PgStore.open({ url: PG_URL, schema }, { logger: silentLogger() })).close();
      const v = async () => (await c.query<{ version: number }>(`SELECT version FROM ${schema}.schema_version`)).rows.map((r) => r.version);
      expect(await v()).toEqual([PG_SCHEMA_VERSION]);
      await (await PgStore.open({ url: PG_URL, schema }, { logger: silentLogger() })).close();
      expect(await v()).toEqual([PG_SCHEMA_VERSION]);
      await c.query(`UPDATE ${schema}.schema_version SET version = $1`, [PG_SCHEMA_VERSION + 1]);
      await expect(PgStore.open({ url: PG_URL, schema }, { logger: silentLogger() })).rejects.toThrow(`schema ${schema} has version ${PG_SCHEMA_VERSION + 1}, newer than this program knows (${PG_SCHEMA_VERSION})`);
      expect(await v()).toEqual([PG_SCHEMA_VERSION + 1]);
    } finally {
      await c.end();
    }
  });
});
