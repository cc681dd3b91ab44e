import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { topicFor } from '../../core/topics.js';
import { encodeCatalog, encodeHealth } from '../../proto/codec.js';
import type { CloudBridge } from '../../cloud-bridge/bridge.js';
import { tempDir } from '../helpers/tmp.js';
import { prng } from '../helpers/prng.js';
import { mutate } from '../helpers/mutate.js';
import { CATALOG, GW1, GW2, T0, batchBytes, connectGateway, startTestBridge, testConfig, until } from './helpers.js';

/**
 * Fuzz of the broker's CONNECT and PUBLISH handling (RELIABILITY.md F1): mutated captures of real
 * sessions (a gateway's CONNECT, SUBSCRIBE, data and health PUBLISHes at QoS 0/1/2, PUBREL, PINGREQ,
 * DISCONNECT; an attacker's CONNECT and PUBLISH before authentication) are sent over real TCP
 * connections to the embedded broker. CI runs 10,000 cases with a fixed seed
 * (JINYUN_FUZZ_SEED replays another, JINYUN_BROKER_FUZZ_CASES runs the long form). Every case ends
 * with the connection closed or answered; the process throws nothing; memory stays bounded; and a
 * real gateway is served the same afterwards.
 */

const SEED = Number(process.env.JINYUN_FUZZ_SEED ?? 20261208);
const CASES = Number(process.env.JINYUN_BROKER_FUZZ_CASES ?? 10_000);
const PARALLEL = 32;

const gen = (p: Record<string, unknown>): Buffer => mqttPacket.generate(p as unknown as mqttPacket.Packet);

function sessions(): Buffer[] {
  const connect1 = gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: GW1.id, username: GW1.id, password: Buffer.from(GW1.password),
    will: { topic: topicFor(GW1.tenant, GW1.id, 'status'), payload: Buffer.from([8, 0]), qos: 1, retain: true } });
  const data = (qos: 0 | 1 | 2, id: number) => gen({ cmd: 'publish', topic: topicFor(GW1.tenant, GW1.id, 'data'), qos, messageId: qos ? id : undefined, retain: false, dup: false,
    payload: Buffer.from(batchBytes([{ tagId: 1, ts: T0, value: 1.5, quality: 0 }, { tagId: 2, ts: T0, value: true, quality: 0 }], 90_000 + id)) });
  const health = gen({ cmd: 'publish', topic: topicFor(GW1.tenant, GW1.id, 'health'), qos: 1, messageId: 9, retain: false, dup: false, payload: Buffer.from(encodeHealth({ timeMs: T0 } as never)) });
  const sub = gen({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: topicFor(GW1.tenant, GW1.id, 'ack'), qos: 1 }] });
  const tail = Buffer.concat([gen({ cmd: 'pubrel', messageId: 7 }), gen({ cmd: 'pingreq' }), gen({ cmd: 'disconnect' })]);
  const attacker = gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: 'gw-x', username: 'gw-x', password: Buffer.from('guess') });
  const foreign = gen({ cmd: 'publish', topic: topicFor(GW2.tenant, GW2.id, 'data'), qos: 1, messageId: 5, retain: false, dup: false, payload: Buffer.from(batchBytes([{ tagId: 1, ts: T0, value: 2, quality: 0 }], 1)) });
  return [
    Buffer.concat([connect1, sub, data(1, 1), health, data(2, 7), tail]),
    Buffer.concat([connect1, data(0, 0), data(1, 2), gen({ cmd: 'disconnect' })]),
    Buffer.concat([connect1, foreign]),
    Buffer.concat([attacker, data(1, 3)]),
    connect1,
  ];
}

/** Sends one case from 127.0.0.3 and resolves once the broker closed the connection (or 3 s passed). */
function send(port: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const s: Socket = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.3' }, () => s.end(bytes));
    const t = setTimeout(() => s.destroy(), 3000);
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => { clearTimeout(t); resolve(); });
  });
}

describe(`broker fuzz: ${CASES} mutated MQTT sessions (seed ${SEED})`, () => {
  let tmp: ReturnType<typeof tempDir>;
  let bridge: CloudBridge;

  beforeAll(async () => {
    tmp = tempDir('jinyun-broker-fuzz-');
    // The throttle would soon refuse every mutated CONNECT unchecked: raised here so the cases reach authentication and what follows it.
    bridge = await startTestBridge(await testConfig(tmp.dir, { mqtt: { maxConnectionsPerIp: 200, failedLoginLimit: 1000, loginDelayMs: 100, loginLockoutMs: 100 } }));
    const gw = await connectGateway(bridge.mqttPort, GW1);
    await gw.publish('catalog', encodeCatalog(CATALOG), true);
    await until(() => bridge.metrics.ingest.catalogs === 1);
    await gw.close();
  });
  afterAll(async () => {
    await bridge?.close();
    tmp?.cleanup();
  });

  it('closes or answers every case, throws nothing, keeps memory bounded, and still serves a real gateway', async () => {
    const rand = prng(SEED);
    const base = sessions();
    const rss0 = process.memoryUsage().rss;
    let next = 0;
    const worker = async () => {
      while (next < CASES) {
        const i = next++;
        await send(bridge.mqttPort, mutate(base[i % base.length]!, rand));
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const open = bridge.metrics.broker!.connections;
    await until(() => bridge.metrics.broker!.connections === 0, 10_000).catch((err: unknown) => { throw new Error(`${bridge.metrics.broker!.connections} connections still open (${open} right after the last case)`, { cause: err }); });
    const grownMb = (process.memoryUsage().rss - rss0) / 1024 / 1024;
    const m = bridge.metrics;
    process.stdout.write(`broker fuzz: ${CASES} cases, seed ${SEED}: RSS +${grownMb.toFixed(0)} MB; connects ${m.broker!.connects}, batches received ${m.ingest.batchesReceived}, `
      + `rejected ${JSON.stringify(m.ingest.rejected)}, refusals ${JSON.stringify(m.broker!.refusals)}\n`);
    expect(grownMb).toBeLessThan(256);
    expect(m.broker!.connects).toBeGreaterThan(CASES / 10); // mutated CONNECTs still got through authentication
    // A real gateway from another address: connected, its batch stored and acknowledged. Like the edge it resends until
    // answered: while the ingest still works through the fuzz sessions' queue, a batch over the queue bound is dropped unanswered.
    const gw = await connectGateway(bridge.mqttPort, GW1);
    const batch = batchBytes([{ tagId: 1, ts: T0 + 1, value: 42, quality: 0 }], 500_000);
    let ack: { result: string } | undefined;
    for (let i = 0; i < 15 && !ack; i++) {
      await gw.publish('data', batch);
      ack = await gw.nextAck((a) => a.seqFirst === 500_000, 2000).catch(() => undefined);
    }
    expect(ack?.result).toBe('ok');
    await gw.close();
  }, 120_000 + CASES * 10);
});
