import { afterAll, describe } from 'vitest';
import { silentLogger } from '../../core/logger.js';
import { PgStore } from '../../cloud-bridge/store/pg-store.js';
import { PG_URL, dropSchemas, havePostgres, uniqueSchema } from '../helpers/services.js';
import { QUARANTINE_TEST_LIMITS, describeCloudStore } from './store-conformance.js';

const ok = await havePostgres();
const schemas = new Map<string, string>();

describe.skipIf(!ok)('PostgreSQL store', () => {
  afterAll(() => dropSchemas(schemas.values()));
  // One schema per temp dir: the suite's reopen test finds its data again.
  describeCloudStore('PostgreSQL', (dir) => {
    let schema = schemas.get(dir);
    if (!schema) {
      schema = uniqueSchema('jy_conf');
      schemas.set(dir, schema);
    }
    return PgStore.open({ url: PG_URL, schema, poolSize: 3, quarantine: QUARANTINE_TEST_LIMITS }, { logger: silentLogger() });
  });
});
