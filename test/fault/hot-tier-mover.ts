/** Child process of hot-tier-kill.test.ts: moves the hot tier of the given store file to the cold tier, 20,000 rows per transaction, until it is empty; a line on stdout after each committed move. */
import { Sqlite } from '../../core/sqlite.js';
import { applyPragmas } from '../../cloud-bridge/store/sqlite-schema.js';
import { settleHotRows } from '../../cloud-bridge/store/hot-tier.js';

const db = await Sqlite.open(process.argv[2]!);
await applyPragmas(db);
process.stdout.write('moving\n');
while ((await db.transaction(() => settleHotRows(db, 20_000))) > 0) process.stdout.write('moved\n');
await db.close();
