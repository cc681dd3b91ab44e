import { join } from 'node:path';
import { expect, it } from 'vitest';
import { silentLogger } from '../../../core/logger.js';
import { Spool, SPOOL_DEFAULTS } from '../../../edge/spool.js';
import { tempDir } from '../../helpers/tmp.js';

// The edge Subscriber (OPC UA) appends again as soon as its previous append resolved, a few microtasks later.
it.each([0, 1, 2, 3, 4, 5])('an append %i microtasks after the previous one resolved is committed', async (hops) => {
  const tmp = tempDir('jinyun-spool-race-');
  const spool = await Spool.open({ ...SPOOL_DEFAULTS, path: join(tmp.dir, 's.db'), synchronous: 'NORMAL', logger: silentLogger() });
  const [id] = [...(await spool.tagIds(['d/t'])).values()];
  try {
    for (let i = 0; i < 20; i++) {
      const r = await Promise.race([spool.append([{ tagId: id!, ts: 1000 + i, value: i, quality: 0 }], 'd'), new Promise((res) => setTimeout(() => res('hung'), 5000))]);
      expect(r).toEqual({ stored: 1, dropped: 0 });
      for (let h = 0; h < hops; h++) await null;
    }
  } finally {
    await spool.close().catch(() => undefined);
    tmp.cleanup();
  }
}, 60_000);
