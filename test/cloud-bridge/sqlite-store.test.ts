import { join } from 'node:path';
import { silentLogger } from '../../core/logger.js';
import { SqliteStore } from '../../cloud-bridge/store/sqlite-store.js';
import { QUARANTINE_TEST_LIMITS, describeCloudStore } from './store-conformance.js';

describeCloudStore('SQLite', (dir) => SqliteStore.open({ path: join(dir, 'cloud.db'), insertChunkRows: 4, quarantine: QUARANTINE_TEST_LIMITS }, { logger: silentLogger() }));
// The same suite with the hot tier moving after every commit, 3 rows at a time: readings split across both tiers at every step.
describeCloudStore('SQLite, hot tier settled after every commit', (dir) => SqliteStore.open({ path: join(dir, 'cloud.db'), insertChunkRows: 4, quarantine: QUARANTINE_TEST_LIMITS, hotTier: { rows: 3, ms: 0 } }, { logger: silentLogger() }));
