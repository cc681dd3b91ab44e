import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import mqttPacket from 'mqtt-packet';
import mqtt from 'mqtt';
import { topicFor } from '../../core/topics.js';
import type { CloudBridge } from '../../cloud-bridge/bridge.js';
import { tempDir } from '../helpers/tmp.js';
import { startCloudChild, type CloudChild } from '../helpers/cloud-child.js';
import { CATALOG, GW1, T0, batchBytes, connectGateway, startTestBridge, testConfig, until } from './helpers.js';
import { encodeCatalog } from '../../proto/codec.js';

/**
 * The broker's listener attacked at the packet level by peers without (or with wrong) credentials
 * (issue 31): what such a peer can make the cloud keep is bounded, sessions are bounded, and an
 * unauthenticated connection cannot touch an authenticated client's QoS 2 state.
 */

const gen = (p: Record<string, unknown>): Buffer => mqttPacket.generate(p as unknown as mqttPacket.Packet);

/** Opens a raw TCP connection, writes `bytes`, and resolves with everything the broker sent back once it closed the connection (or after `ms`). */
function rawExchange(port: number, bytes: Buffer, ms = 5000): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s: Socket = connect(port, '127.0.0.1', () => s.write(bytes));
    const t = setTimeout(() => s.destroy(), ms);
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => undefined);
    s.on('close', () => { clearTimeout(t); resolve(Buffer.concat(chunks)); });
  });
}

const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('broker under attack: a real cloud process and 1,000 CONNECTs with 64 KB client ids', () => {
  let tmp: ReturnType<typeof tempDir>;
  let cloud: CloudChild;
  let logBytes = 0;

  beforeAll(async () => {
    tmp = tempDir('jinyun-attack-');
    cloud = await startCloudChild(tmp.dir, { onLine: (l) => { logBytes += Buffer.byteLength(l) + 1; } });
  }, 60_000);
  afterAll(async () => {
    await cloud?.stop();
    tmp?.cleanup();
  });

  it('grows the cloud\'s RSS by < 50 MB and its log by < 1 MB; a client id over 64 characters is refused at every protocol level; the real gateway still connects', async () => {
    const pid = cloud.child.proc.pid!;
    // Warm up the paths (and the heap) with 100 of them, then measure.
    for (let i = 0; i < 4; i++) await Promise.all(Array.from({ length: 25 }, () => rawExchange(cloud.mqttPort, gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'x'.repeat(65_535) }))));
    const rss0 = rssMb(pid);
    const log0 = logBytes;
    const big = gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'x'.repeat(65_535) });
    const mid = (i: number) => gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: `${i}-${'y'.repeat(4000)}` });
    const v3 = (i: number) => gen({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clean: true, keepalive: 60, clientId: `${i}-${'z'.repeat(1000)}`, username: `${i}-${'z'.repeat(1000)}`, password: Buffer.from('pw') });
    const v5 = (i: number) => gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: `${i}-${'z'.repeat(1000)}`, username: `${i}-${'z'.repeat(1000)}`, password: Buffer.from('pw') });
    // 1,000 CONNECTs with 64 KB client ids, 25 at a time: cut at the CONNECT header (no CONNACK).
    const answers: Buffer[] = [];
    for (let round = 0; round < 1000; round += 25) answers.push(...await Promise.all(Array.from({ length: 25 }, () => rawExchange(cloud.mqttPort, big))));
    await new Promise((r) => setTimeout(r, 1000));
    const grownMb = rssMb(pid) - rss0;
    process.stdout.write(`1,000 CONNECTs with 64 KB client ids: RSS +${grownMb.toFixed(1)} MB, log +${logBytes - log0} bytes\n`);
    expect(answers.filter((a) => a.length === 0).length).toBe(1000);
    expect(grownMb).toBeLessThan(50);
    // 1,000 more with ids that fit the CONNECT cap but not maxClientIdLength, at each protocol level: a refusing CONNACK.
    const refused: Buffer[] = [];
    for (let round = 0; round < 1000; round += 25) refused.push(...await Promise.all(Array.from({ length: 25 }, (_, j) => rawExchange(cloud.mqttPort, [mid, v3, v5][(round + j) % 3]!(round + j)))));
    expect(refused.filter((a) => a[0] === 0x20).length).toBe(1000);
    const refusals = (await (await fetch(`http://127.0.0.1:${cloud.httpPort}/api/v1/metrics`)).json()) as { broker: { refusals: Record<string, number> } };
    // 3.1.1: refused by our check before the id is used; 3.1: by aedes' own length check; MQTT 5: aedes speaks 3.1/3.1.1 only.
    expect(refusals.broker.refusals).toEqual({ connect_too_large: 1100, auth_bad_client_id: 334, client_id_rejected: 333, bad_protocol_version: 333 });
    const logged = logBytes - log0;
    process.stdout.write(`all 2,000: RSS +${(rssMb(pid) - rss0).toFixed(1)} MB, log +${logged} bytes\n`);
    expect(logged).toBeLessThan(1024 * 1024);
    // Nothing of it kept the real gateway out.
    const gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${cloud.mqttPort}`, { clientId: cloud.gateway.id, username: cloud.gateway.id, password: cloud.gateway.password, reconnectPeriod: 0, protocolVersion: 4 });
    await gw.endAsync();
  }, 120_000);
});

describe('broker under attack: sessions and QoS 2 state', () => {
  let tmp: ReturnType<typeof tempDir>;
  let bridge: CloudBridge;

  beforeAll(async () => {
    tmp = tempDir('jinyun-attack-session-');
    bridge = await startTestBridge(await testConfig(tmp.dir));
    const gw = await connectGateway(bridge.mqttPort, GW1);
    await gw.publish('catalog', encodeCatalog(CATALOG), true);
    await until(() => bridge.metrics.ingest.catalogs === 1);
    await gw.close();
  }, 30_000);
  afterAll(async () => {
    await bridge?.close();
    tmp?.cleanup();
  });

  it('refuses a persistent session (clean session 0) with "identifier rejected", for a gateway with the right password', async () => {
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${bridge.mqttPort}`, { clientId: GW1.id, username: GW1.id, password: GW1.password, clean: false, reconnectPeriod: 0, protocolVersion: 4 }))
      .rejects.toMatchObject({ code: 2 });
    expect(bridge.metrics.broker!.refusals.auth_persistent_session).toBe(1);
  });

  it('a CONNECT with the victim\'s id and a wrong password does not wipe the victim\'s QoS 2 state: its DUP retransmission is not delivered twice', async () => {
    const received = bridge.metrics.ingest.batchesReceived;
    const victim: Socket = connect(bridge.mqttPort, '127.0.0.1');
    const packets: mqttPacket.Packet[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => packets.push(p));
    victim.on('data', (d) => parser.parse(d));
    await new Promise((r) => victim.once('connect', r));
    victim.write(gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: GW1.id, username: GW1.id, password: Buffer.from(GW1.password) }));
    await until(() => packets.some((p) => p.cmd === 'connack'));
    const publish = { cmd: 'publish', topic: topicFor(GW1.tenant, GW1.id, 'data'), qos: 2, messageId: 7, retain: false, dup: false, payload: Buffer.from(batchBytes([{ tagId: 1, ts: T0, value: 1, quality: 0 }], 1)) };
    victim.write(gen(publish));
    await until(() => packets.some((p) => p.cmd === 'pubrec'));
    await until(() => bridge.metrics.ingest.batchesReceived === received + 1);
    // The attacker: the victim's id, a wrong password.
    const answer = await rawExchange(bridge.mqttPort, gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: GW1.id, username: GW1.id, password: Buffer.from('wrong') }), 3000);
    expect([...answer]).toEqual([0x20, 0x02, 0x00, 0x05]);
    // The victim never saw the PUBREC (as far as it knows) and retransmits with DUP.
    victim.write(gen({ ...publish, dup: true }));
    await until(() => packets.filter((p) => p.cmd === 'pubrec').length === 2);
    victim.write(gen({ cmd: 'pubrel', messageId: 7 }));
    await until(() => packets.some((p) => p.cmd === 'pubcomp'));
    await new Promise((r) => setTimeout(r, 300));
    expect(bridge.metrics.ingest.batchesReceived).toBe(received + 1);
    victim.destroy();
  });
});
