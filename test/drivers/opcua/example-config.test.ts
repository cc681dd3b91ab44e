import { describe, expect, it } from 'vitest';
import { loadEdgeConfig } from '../../../edge/config.js';

describe('configs/examples/edge-opcua.yaml', () => {
  it('is a valid edge config whose OPC UA devices all use SignAndEncrypt with a user identity', () => {
    const cfg = loadEdgeConfig(new URL('../../../configs/examples/edge-opcua.yaml', import.meta.url).pathname, { OPCUA_PASSWORD: 'secret' });
    const devices = cfg.devices.filter((d) => d.type === 'opcua');
    expect(devices.map((d) => d.name)).toEqual(['scada', 'drainage-plc']);
    for (const d of devices) {
      expect(d.securityMode).toBe('SignAndEncrypt');
      expect(d.securityPolicy).not.toBe('None');
      expect(d.user.type).not.toBe('anonymous');
    }
    expect(devices[0]!.user).toEqual({ type: 'username', username: 'jinyun-edge', password: 'secret' });
    expect(devices.map((d) => d.mode)).toEqual(['subscribe', 'poll']);
  });

  it('refuses to load without the password variable', () => {
    expect(() => loadEdgeConfig(new URL('../../../configs/examples/edge-opcua.yaml', import.meta.url).pathname, {})).toThrow(/OPCUA_PASSWORD/);
  });
});
