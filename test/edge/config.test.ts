import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadEdgeConfig } from '../../edge/config.js';
import { ConfigError } from '../../core/errors.js';
import { tempDir } from '../helpers/tmp.js';

const GOOD = `gateway:
  id: gw-1
  tenant: mine-a
spool:
  path: /tmp/spool.db
uplink:
  url: mqtt://127.0.0.1:1883
  password: \${PW}
devices:
  - type: modbus-tcp
    name: gas-face
    port: 5020
    pollIntervalMs: 500
    tags:
      - { name: methane, table: holding, address: 0, type: float32, unit: "%CH4" }
      - { name: co, table: holding, address: 2, type: uint16, unit: ppm }
`;

describe('edge config', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  const load = (text: string) => {
    const file = join(tmp.dir, 'edge.yaml');
    writeFileSync(file, text);
    return () => loadEdgeConfig(file, { PW: 'secret' });
  };
  const message = (text: string): string => {
    try {
      load(text)();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message.replaceAll(tmp.dir, '<dir>');
    }
    throw new Error('expected a ConfigError');
  };

  it('accepts a good config and fills the defaults', () => {
    const c = load(GOOD)();
    expect(c.uplink.password).toBe('secret');
    expect(c.uplink.ackTimeoutMs).toBe(10_000);
    expect(c.uplink.batch.maxBytes).toBe(256 * 1024);
    expect(c.spool.synchronous).toBe('FULL');
    const dev = c.devices[0]!;
    if (dev.type !== 'modbus-tcp') throw new Error('expected a modbus-tcp device');
    expect(dev.tags[0]!.scale).toBe(1);
    expect(dev.unitId).toBe(1);
  });

  it('names file, line and path of a value with the wrong type', () => {
    expect(message(GOOD.replace('pollIntervalMs: 500', 'pollIntervalMs: fast'))).toBe(
      'invalid config <dir>/edge.yaml (1 problem):\n  <dir>/edge.yaml:13: devices[0].pollIntervalMs: Invalid input: expected number, received string');
  });

  it('names an unknown key', () => {
    expect(message(GOOD.replace('    port: 5020', '    prot: 5020'))).toContain('<dir>/edge.yaml:12: devices[0].prot: unknown key "prot"');
  });

  it('refuses a duplicate tag name and a duplicate device name', () => {
    expect(message(GOOD.replace('name: co,', 'name: methane,'))).toContain('<dir>/edge.yaml:16: devices[0].tags[1].name: duplicate tag name "methane" in device "gas-face" (also tags[0])');
    const two = GOOD + GOOD.slice(GOOD.indexOf('  - type: modbus-tcp'));
    expect(message(two)).toContain('devices[1].name: duplicate device name "gas-face" (also devices[0])');
  });

  it('refuses an unknown device type and says which are known', () => {
    expect(message(GOOD.replace('type: modbus-tcp', 'type: profibus'))).toMatch(/edge\.yaml:10: devices\[0\]\.type: .*modbus-tcp/);
  });

  it('names the file, line and path of an unknown device or tag under reportByException', () => {
    const text = `${GOOD}reportByException:\n  gas-face:\n    tags:\n      methan: { deadband: 0.01 }\n  gas-back: { deadband: 1 }\n`;
    const m = message(text);
    expect(m).toContain('<dir>/edge.yaml:20: reportByException.gas-face.tags.methan: unknown tag "methan" of device "gas-face"');
    expect(m).toContain('<dir>/edge.yaml:21: reportByException.gas-back: unknown device "gas-back"; devices: gas-face');
  });

  it('loads the production example in configs/examples', () => {
    const c = loadEdgeConfig(join(process.cwd(), 'configs/examples/edge-production.yaml'));
    expect(c.uplink.tls).toEqual({ caFile: '/etc/jinyun/ca.pem', certFile: '/etc/jinyun/mine-a-gw1.crt', keyFile: '/etc/jinyun/mine-a-gw1.key', rejectUnauthorized: true });
    expect(c.uplink.password).toBeUndefined();
    expect(c.reportByException['pump-station']?.tags.flow).toEqual({ deadband: 0.5 });
  });

  it('refuses a bool on a holding register with a message that says what to use', () => {
    expect(message(GOOD.replace('type: uint16', 'type: bool'))).toContain('edge.yaml:16: devices[0].tags[1].type: type "bool" on a holding register needs "bit" (0-15); or use a numeric type');
  });
});
