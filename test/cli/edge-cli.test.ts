import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnJinyun } from '../../cli/process.js';
import { tempDir } from '../helpers/tmp.js';

describe('jinyun edge with a bad config', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('exits with code 2 and a message naming the file, line, path and expectation', async () => {
    const file = join(tmp.dir, 'bad.yaml');
    writeFileSync(file, 'gateway:\n  id: gw-1\n  tenant: t\nspool:\n  path: x.db\nuplink:\n  url: mqtt://127.0.0.1:1\n  maxInFlight: "4"\ndevices: []\n');
    const child = spawnJinyun(['edge', '--config', file]);
    const { code } = await child.exited;
    expect(code).toBe(2);
    expect(child.stderr()).toBe(`invalid config ${file} (2 problems):\n  ${file}:8: uplink.maxInFlight: Invalid input: expected number, received string\n  ${file}:9: devices: at least one device is needed\n`);
  });
});
