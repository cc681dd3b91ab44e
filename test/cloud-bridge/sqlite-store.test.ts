import { join } from 'node:path';
import { silentLogger } from '../../core/logger.js';
import { SqliteStore } from '../../cloud-bridge/store/sqlite-store.js';
import { QUARANTINE_TEST_LIMITS, describeCloudStore } from './store-conformance.js';

describeCloudStore('SQLite', (dir) => SqliteStore.open({ path: join(dir, 'cloud.db'), insertChunkRows: 4, quarantine: QUARANTINE_TEST_LIMITS }, { logger: silentLogger() }));
