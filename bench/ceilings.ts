import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { Sqlite, placeholders, type SqlParam } from '../core/sqlite.js';

/** Bare SQLite ceiling: multi-row INSERTs in 1,000-row transactions, WAL, synchronous=FULL. */
export async function sqliteBareRowsPerS(dir: string, rows = 300_000): Promise<number> {
  const db = await Sqlite.open(join(dir, 'bare.db'));
  await db.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE r (seq INTEGER PRIMARY KEY, tag INTEGER, ts INTEGER, value REAL)');
  const t0 = performance.now();
  for (let seq = 1; seq <= rows; ) {
    await db.transaction(async () => {
      for (let k = 0; k < 2; k++) {
        const params: SqlParam[] = [];
        for (let i = 0; i < 500; i++, seq++) params.push(seq, seq % 10, 1_700_000_000_000 + seq, seq * 0.01);
        await db.run(`INSERT INTO r (seq, tag, ts, value) VALUES ${placeholders(500, 4)}`, params);
      }
    });
  }
  const rate = rows / ((performance.now() - t0) / 1000);
  await db.close();
  return rate;
}

/** Bare aedes ceiling: one mqtt.js client publishing 8 KB QoS 1 messages, 64 unacknowledged at most, to an in-process subscriber. */
export async function aedesBareMsgsPerS(seconds = 3): Promise<number> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let received = 0;
  await new Promise<void>((r) => broker.subscribe('bench/#', (_p, cb) => { received++; cb(); }, r));
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, { reconnectPeriod: 0 });
  const payload = Buffer.alloc(8192, 7);
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const lanes = Array.from({ length: 64 }, async () => {
    while (performance.now() < end) await client.publishAsync('bench/x', payload, { qos: 1 });
  });
  await Promise.all(lanes);
  const rate = received / ((performance.now() - t0) / 1000);
  await client.endAsync();
  await new Promise<void>((r) => broker.close(() => r()));
  await new Promise<void>((r) => server.close(() => r()));
  return rate;
}
