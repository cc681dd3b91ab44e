import { describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sqlite } from '../../core/sqlite.js';
import { startCloudChild } from '../helpers/cloud-child.js';
import { edgeSite, getJson, until } from '../helpers/edge-child.js';
import { counterRows, faultRig, lastServedCounter, missingCounterValues } from '../helpers/fault-rig.js';

const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const have = existsSync(FAKETIME);
if (!have && process.env.CI) throw new Error(`libfaketime is missing (${FAKETIME}): .ci/run installs the faketime package`);
if (!have) console.warn('SKIPPED: edge clock jumps: libfaketime is not installed (apt-get install faketime)');

const HOUR = 3_600_000;
interface Latest { items: { key: string; tsMs: number; receivedMs: number | null; value: number }[] }
interface Gateways { items: { id: string; clock: { skewMs: number | null; ok: boolean } }[] }
interface Alarms { items: { type: string; gateway: string; clearedAt: string | null; message: string }[] }

/**
 * A real edge process whose wall clock jumps back an hour, then forward an hour (two hours at once),
 * then back to true time, mid-stream (libfaketime, re-read every second; the monotonic clock is left
 * alone), as on a board without a battery-backed clock or with a failing NTP (issue 23, item 1):
 * "latest" follows the newest reading each time, with the receive time beside the source time; the
 * skew is shown per gateway and alarmed (cleared when the clock is right again); every reading is
 * stored once, in the order it was read.
 */
describe.skipIf(!have)('fault: the edge clock jumps back 1 h, forward 1 h, and back to true time mid-stream', () => {
  const rig = faultRig('jinyun-clock-jump-');

  it('keeps latest on the newest reading, reports and alarms the skew, loses and reorders nothing', async () => {
    const simPort = await rig.sim.start();
    rig.cloud = await startCloudChild(rig.tmp.dir);
    const api = `http://127.0.0.1:${rig.cloud.httpPort}/api/v1`;
    const fake = join(rig.tmp.dir, 'faketime');
    writeFileSync(fake, '+0\n');
    rig.edge = edgeSite(rig.tmp.dir, { simPort, mqttPort: rig.cloud.mqttPort, password: rig.cloud.gateway.password, pollIntervalMs: 100 })
      .start({ LD_PRELOAD: FAKETIME, FAKETIME_TIMESTAMP_FILE: fake, FAKETIME_CACHE_DURATION: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' });
    await rig.edge.waitFor('started', 30_000);
    const counter = async () => (await getJson<Latest>(`${api}/latest?gateway=gw-1`)).items.find((i) => i.key === 'gas-monitor/counter');
    const skew = async () => (await getJson<Gateways>(`${api}/gateways`)).items.find((g) => g.id === 'gw-1')!.clock;
    const clockAlarms = async () => (await getJson<Alarms>(`${api}/alarms?state=all`)).items.filter((a) => a.type === 'clock_skew');

    /** Waits until latest moved past `after` and its source time is about `offsetMs` off the receive time. */
    const latestAt = async (after: number, offsetMs: number) => until(`latest past ${after} at ${offsetMs / HOUR} h`, async () => {
      const c = await counter();
      return c && c.value > after + 5 && c.receivedMs !== null && Math.abs(c.tsMs - c.receivedMs - offsetMs) < 10_000 ? c : null;
    }, 30_000, 200);

    const c0 = await latestAt(0, 0);
    expect(Math.abs(c0.receivedMs! - Date.now())).toBeLessThan(10_000);
    expect((await skew()).ok).toBe(true);

    writeFileSync(fake, '-3600\n');
    const c1 = await latestAt(c0.value, -HOUR);
    const s1 = await until('skew -1 h reported', async () => { const s = await skew(); return s.skewMs !== null && Math.abs(s.skewMs + HOUR) < 10_000 ? s : null; }, 20_000, 200);
    expect(s1.ok).toBe(false);
    const a1 = await until('clock alarm', async () => (await clockAlarms())[0], 10_000, 200);
    expect(a1.message).toMatch(/^the clock of gw-1 is 3\d{3} s behind the cloud's/);

    writeFileSync(fake, '+3600\n');
    const c2 = await latestAt(c1.value, HOUR);
    await until('skew +1 h reported', async () => { const s = await skew(); return s.skewMs !== null && Math.abs(s.skewMs - HOUR) < 10_000 ? s : null; }, 20_000, 200);

    writeFileSync(fake, '+0\n');
    const c3 = await latestAt(c2.value, 0);
    await until('skew back under the limit', async () => (await skew()).ok, 20_000, 200);
    const alarms = await until('clock alarm cleared', async () => { const a = await clockAlarms(); return a.every((x) => x.clearedAt !== null) ? a : null; }, 20_000, 200);
    expect(alarms.length).toBe(1); // one episode: raised at the first jump, cleared when the clock was right again
    process.stdout.write(`clock jumps: latest counter ${c0.value} -> ${c1.value} (1 h behind) -> ${c2.value} (1 h ahead) -> ${c3.value}\n`);

    // Nothing lost, nothing twice, and in seq order the counter only rises: the order is the order of reading.
    const served = await lastServedCounter(rig.sim);
    const db = await Sqlite.open(join(rig.tmp.dir, 'cloud.db'), { readonly: true });
    try {
      let missing: number[] = [];
      await until('every served counter value stored', async () => (missing = missingCounterValues((await counterRows(db)).map((r) => r.value), served)).length === 0, 60_000, 200)
        .catch((err: unknown) => { throw new Error(`served ${served}, missing ${missing.join(', ')}`, { cause: err }); });
      const rows = (await counterRows(db)).sort((a, b) => a.epoch - b.epoch || a.seq - b.seq);
      expect(new Set(rows.map((r) => r.value)).size).toBe(rows.length);
      expect(rows.every((r, i) => i === 0 || r.value > rows[i - 1]!.value)).toBe(true);
      const quarantined = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM quarantine');
      expect(quarantined?.n).toBe(0); // readings an hour ahead were taken at the edge's word, not refused
    } finally {
      await db.close();
    }
  }, 240_000);
});
