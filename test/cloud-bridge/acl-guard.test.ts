import { describe, expect, it } from 'vitest';
import { checkConnectIdentity, checkForward, checkPublish, checkSubscribe } from '../../cloud-bridge/acl.js';
import { MqttHeaderScanner } from '../../cloud-bridge/packet-size-guard.js';
import { LogLimiter } from '../../cloud-bridge/metrics.js';

const me = { gateway: 'gw-1', tenant: 'ta', role: 'gateway' } as const;
const reader = { gateway: 'tok-ta1', tenant: 'ta', role: 'reader' } as const;

describe('topic ACL (pure)', () => {
  it('lets a gateway publish only its own data, health, catalog and status, with the tenant of its credential', () => {
    for (const k of ['data', 'health', 'catalog', 'status']) expect(checkPublish(me, `jinyun/v1/ta/gw-1/${k}`, false)).toBeNull();
    expect(checkPublish(me, 'jinyun/v1/ta/gw-1/catalog', true)).toBeNull();
    expect(checkPublish(me, 'jinyun/v1/ta/gw-1/data', true)).toBe('publish_retain_not_allowed');
    expect(checkPublish(me, 'jinyun/v1/ta/gw-1/ack', false)).toBe('publish_foreign_topic');
    expect(checkPublish(me, 'jinyun/v1/ta/gw-1/cmd', false)).toBe('publish_foreign_topic');
    expect(checkPublish(me, 'jinyun/v1/tb/gw-1/data', false)).toBe('publish_foreign_topic');
    expect(checkPublish(me, 'jinyun/v1/ta/gw-2/data', false)).toBe('publish_foreign_topic');
    expect(checkPublish(me, 'jinyun/v1/ta/gw-1/data/x', false)).toBe('publish_foreign_topic');
    expect(checkPublish(me, '$SYS/x', false)).toBe('publish_sys');
  });

  it('lets a gateway subscribe to and receive only its own ack and cmd, spelled out', () => {
    expect(checkSubscribe(me, 'jinyun/v1/ta/gw-1/ack')).toBe(true);
    expect(checkSubscribe(me, 'jinyun/v1/ta/gw-1/cmd')).toBe(true);
    for (const f of ['jinyun/v1/ta/gw-1/+', 'jinyun/v1/ta/+/ack', 'jinyun/#', '#', 'jinyun/v1/tb/gw-1/ack', 'jinyun/v1/ta/gw-1/data']) expect(checkSubscribe(me, f)).toBe(false);
    expect(checkForward(me, 'jinyun/v1/ta/gw-1/ack')).toBe(true);
    expect(checkForward(me, 'jinyun/v1/ta/gw-2/ack')).toBe(false);
  });

  it('lets a reader (a tenant API token) subscribe to and receive only its tenant\'s alarm topics, and publish nothing', () => {
    expect(checkSubscribe(reader, 'jinyun/v1/ta/+/alarm')).toBe(true);
    expect(checkSubscribe(reader, 'jinyun/v1/ta/gw-1/alarm')).toBe(true);
    for (const f of ['jinyun/v1/tb/+/alarm', 'jinyun/v1/+/+/alarm', 'jinyun/v1/ta/#', 'jinyun/v1/ta/gw-1/data', 'jinyun/v1/ta/gw-1/ack', 'jinyun/v1/ta/gw-1/alarm/#', 'jinyun/v1/ta/a/b/alarm', '#'])
      expect([f, checkSubscribe(reader, f)]).toEqual([f, false]);
    expect(checkForward(reader, 'jinyun/v1/ta/gw-2/alarm')).toBe(true);
    expect(checkForward(reader, 'jinyun/v1/tb/gw-2/alarm')).toBe(false);
    expect(checkForward(reader, 'jinyun/v1/ta/gw-2/data')).toBe(false);
    for (const t of ['jinyun/v1/ta/gw-1/alarm', 'jinyun/v1/ta/gw-1/data', 'jinyun/v1/ta/tok-ta1/status']) expect(checkPublish(reader, t, false)).toBe('publish_foreign_topic');
  });

  it('refuses wildcards, slashes and NUL in client ids and a username other than the client id', () => {
    expect(checkConnectIdentity('gw-1', 'gw-1')).toBeNull();
    for (const id of ['gw+1', 'gw#', 'a/b', 'gw\u0000', '']) expect(checkConnectIdentity(id, id)).toBe('bad_client_id');
    expect(checkConnectIdentity('gw-1', undefined)).toBe('no_credentials');
    expect(checkConnectIdentity('gw-1', 'gw-2')).toBe('client_id_mismatch');
    expect(checkConnectIdentity('gw-1', 'gw-1#')).toBe('client_id_mismatch');
  });
});

describe('MQTT fixed-header scanner', () => {
  const connect = (remaining: number): number[] => {
    const out = [0x10];
    let n = remaining;
    do {
      let b = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) b |= 0x80;
      out.push(b);
    } while (n > 0);
    return out;
  };

  it('follows packets across arbitrary chunk boundaries and accepts a packet of exactly the limit', () => {
    const s = new MqttHeaderScanner(1000);
    const pkt1 = [...connect(997), ...new Array<number>(997).fill(0)]; // 1 + 2 + 997 = 1000 bytes
    const pkt2 = [0x30, 0x02, 0x00, 0x00];
    const all = Uint8Array.from([...pkt1, ...pkt2, ...pkt2]);
    for (let i = 0; i < all.length; i += 7) expect(s.feed(all.subarray(i, i + 7))).toBeNull();
  });

  it('refuses an oversized packet as soon as its header is complete', () => {
    const s = new MqttHeaderScanner(1000);
    expect(s.feed(Uint8Array.from([0x10, 0xe6]))).toBeNull(); // varint not finished yet
    expect(s.feed(Uint8Array.from([0x07]))).toBe('packet_too_large'); // 998 + 3 > 1000
  });

  it('caps the CONNECT (what a peer without credentials sends) below the packet limit; later packets get the packet limit', () => {
    const s = new MqttHeaderScanner(1000, 100);
    expect(s.feed(Uint8Array.from(connect(99)))).toBe('connect_too_large'); // 1 + 1 + 99 > 100
    expect(new MqttHeaderScanner(1000, 100).feed(Uint8Array.from(connect(2000)))).toBe('packet_too_large'); // over both: the packet limit names it
    const ok = new MqttHeaderScanner(1000, 100);
    expect(ok.feed(Uint8Array.from([...connect(98), ...new Array<number>(98).fill(0)]))).toBeNull(); // exactly 100
    expect(ok.feed(Uint8Array.from([0x30, 0xe5, 0x07]))).toBeNull(); // a PUBLISH of 1 + 2 + 997 = 1000 bytes
    expect(ok.feed(Uint8Array.from(new Array<number>(997).fill(0)))).toBeNull();
    expect(ok.feed(Uint8Array.from([0x30, 0xe6, 0x07]))).toBe('packet_too_large');
  });

  it('LogLimiter: one line per key and interval, keys cut to 200 characters, at most maxKeys keys, expired ones dropped first', () => {
    let t = 0;
    const l = new LogLimiter(1000, () => t, 3);
    expect(l.allow('a'.repeat(70_000))).toBe(true);
    expect(l.allow(`${'a'.repeat(200)}zzz`)).toBe(false); // the same key once cut
    expect([l.allow('b'), l.allow('c'), l.allow('b')]).toEqual([true, true, false]);
    expect(l.size).toBe(3);
    expect(l.allow('d')).toBe(true); // full: the oldest live key ('a...') goes
    expect(l.size).toBe(3);
    expect(l.allow('a'.repeat(200))).toBe(true);
    t = 1500;
    expect(l.allow('e')).toBe(true); // every other key expired: dropped
    expect(l.size).toBe(1);
  });

  it('refuses a first packet that is not CONNECT and a Remaining Length longer than four bytes', () => {
    expect(new MqttHeaderScanner(1000).feed(Uint8Array.from([0x30, 0x00]))).toBe('first_packet_not_connect');
    expect(new MqttHeaderScanner(1 << 30).feed(Uint8Array.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x01]))).toBe('malformed_header');
    expect(new MqttHeaderScanner(1 << 30).feed(Uint8Array.from([0x10, 0xff, 0xff, 0xff, 0x7f]))).toBeNull(); // 268 MB fits a 1 GiB limit
  });
});
