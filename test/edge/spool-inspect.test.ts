import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sqlite } from '../../core/sqlite.js';
import { migrate } from '../../edge/spool-schema.js';
import { Spool, SPOOL_DEFAULTS } from '../../edge/spool.js';
import { silentLogger } from '../../core/logger.js';
import { inspectSpool } from '../../edge/spool-inspect.js';
import { formatInspection } from '../../edge/spool-cli.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { jinyunCommand } from '../../cli/process.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

/** A spool file written through the schema migrations, filled by hand with a known content. */
async function makeSpool(path: string): Promise<void> {
  const db = await Sqlite.open(path);
  await db.exec('PRAGMA journal_mode=WAL');
  await migrate(db);
  await db.exec(`INSERT INTO meta (key, value) VALUES ('producer_id', 'p-123'), ('epoch', '7');
    INSERT INTO readings (epoch, tag_id, ts, quality, kind, value) VALUES (7, 1, 1700000000000, 0, 0, 1.5), (7, 1, 1700000001000, 0, 0, 2.5), (7, 2, 1700000005000, 0, 0, 3);
    INSERT INTO batches (seq_first, seq_last, epoch, count, historical, sealed_ms, attempts) VALUES (1, 2, 7, 2, 0, 1700000002000, 3);
    INSERT INTO quarantine (seq_first, epoch, count, reason_code, reason, at_ms, bytes) VALUES (40, 6, 10, 'malformed', 'value out of range', 1690000000000, x'0102');`);
  await db.close();
}

describe('spool inspection (jinyun spool stats)', () => {
  const tmp = tempDir('jinyun-spool-inspect-');
  const path = join(tmp.dir, 'spool.db');
  beforeAll(() => makeSpool(path));
  afterAll(() => tmp.cleanup());

  it('reports identity, depth, time range, sealed and quarantined batches and sizes', async () => {
    const i = await inspectSpool(path);
    expect(i).toMatchObject({
      producerId: 'p-123', epoch: 7,
      readings: { count: 3, oldestTs: 1700000000000, newestTs: 1700000005000, lastSeq: 3 },
      sealed: { batches: 1, readings: 2, oldestSealedMs: 1700000002000, maxAttempts: 3 },
      quarantine: { batches: 1, readings: 10, latest: [{ seqFirst: 40, epoch: 6, count: 10, reasonCode: 'malformed', reason: 'value out of range', atMs: 1690000000000, bytes: 2 }] },
    });
    expect(i.fileBytes).toBeGreaterThan(0);
    const text = formatInspection(i, 1700000065000);
    expect(text).toContain('epoch             7 (the next start uses 8)');
    expect(text).toContain('oldest reading    2023-11-14T22:13:20.000Z (65 s ago)');
    expect(text).toContain('seq 40..49 epoch 6 at 2023-07-22T04:26:40.000Z: malformed: value out of range');
  });

  it('counts readings kept by the running Spool implementation', async () => {
    const file = join(tmp.dir, 'live.db');
    const spool = await Spool.open({ ...SPOOL_DEFAULTS, path: file, synchronous: 'FULL', logger: silentLogger() });
    await spool.append([1, 2, 3, 4, 5].map((i) => ({ tagId: 1, ts: 1700000000000 + i * 1000, value: i, quality: 0 })), 'd');
    await spool.append([{ tagId: 1, ts: 1700000009000, value: 9, quality: 0 }], 'd');
    const i = await inspectSpool(file);
    await spool.close();
    expect(i.producerId).toBe(spool.producerId);
    expect(i.epoch).toBe(spool.epoch);
    expect(i.readings).toMatchObject({ count: 6, oldestTs: 1700000001000, lastSeq: 6 });
    expect(i.readings.newestTs).toBeGreaterThanOrEqual(1700000001000);
    expect(i.dropped).toEqual({ readings: 0, byDevice: {} });
  });

  it('shows the readings the policy dropped, by device', async () => {
    const file = join(tmp.dir, 'capped.db');
    const spool = await Spool.open({ ...SPOOL_DEFAULTS, path: file, synchronous: 'FULL', maxReadings: 1000, policy: 'dropNewest', logger: silentLogger() });
    const n = (count: number, from: number) => Array.from({ length: count }, (_, k) => ({ tagId: 1, ts: 1700000000000 + (from + k) * 1000, value: k, quality: 0 }));
    await spool.append(n(990, 0), 'pump');
    await spool.append(n(20, 990), 'fan');
    await spool.append(n(7, 1010), 'pump');
    await spool.append(n(10, 1017), 'pump');
    const i = await inspectSpool(file);
    await spool.close();
    // 990 kept; fan's 20 would go over 1000: dropped; pump's 7 fit; pump's next 10 do not.
    expect(i.readings.count).toBe(997);
    expect(i.dropped).toEqual({ readings: 30, byDevice: { fan: 20, pump: 10 } });
    expect(formatInspection(i, 1700000065000)).toContain('dropped           30 readings (fan 20, pump 10)');
  });

  it('fails clearly on a missing file and on a file that is not a spool', async () => {
    await expect(inspectSpool(join(tmp.dir, 'nope.db'))).rejects.toThrow(/no spool file at/);
    const other = join(tmp.dir, 'other.db');
    const db = await Sqlite.open(other);
    await db.exec('CREATE TABLE x (a)');
    await db.close();
    await expect(inspectSpool(other)).rejects.toThrow(/is not a Jinyun spool/);
  });

  it('runs as a CLI from the edge config, secrets unset, with --json', async () => {
    const cfg = join(tmp.dir, 'edge.yaml');
    writeFileSync(cfg, `gateway: { id: gw-1, tenant: t }\nspool: { path: ${path} }\nuplink: { url: "mqtt://127.0.0.1:1", password: "\${NOT_SET_ANYWHERE}" }\ndevices:\n  - { type: modbus-tcp, name: d, port: 1, tags: [{ name: a, table: holding, address: 0, type: uint16 }] }\n`);
    const { cmd, args } = jinyunCommand();
    const { stdout, stderr } = await run(cmd, [...args, 'spool', 'stats', '--config', cfg, '--json']);
    expect(stderr).toBe('');
    const out = stdout;
    expect(JSON.parse(out)).toMatchObject({ producerId: 'p-123', epoch: 7, readings: { count: 3 } });
  });
});
