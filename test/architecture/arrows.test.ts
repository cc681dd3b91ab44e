import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { backArrows, relativeImports, sources } from '../../scripts/arrows.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('the dependency rule: arrows point one way (core <- proto <- drivers <- edge, proto <- cloud-bridge)', () => {
  it('holds in this tree', () => {
    const files = sources(ROOT);
    expect(files.size).toBeGreaterThan(100);
    expect(backArrows(files)).toEqual([]);
  });

  it('fails on a deliberate back arrow, naming the file, the import and the direction', () => {
    const files = new Map([
      ['drivers/opcua/certs-cli.ts', "import { UsageError } from '../../core/errors.js';\nconst { loadEdgeConfig } = await import('../../edge/config.js');\n"],
      ['proto/codec.ts', "export { pb } from './generated/jinyun.js';\nimport type { Ingest } from '../cloud-bridge/ingest.js';\n"],
      ['cloud-bridge/api.ts', "import { Spool } from '../edge/spool.js';\nimport { isBad } from '../core/quality.js';\n"],
      ['edge/agent.ts', "import { ModbusDriver } from '../drivers/modbus/modbus-driver.js';\n"],
      ['cli/main.ts', "import { startEdge } from '../edge/agent.js';\n"],
    ]);
    expect(backArrows(files)).toEqual([
      { file: 'drivers/opcua/certs-cli.ts', imports: '../../edge/config.js', from: 'drivers', to: 'edge' },
      { file: 'proto/codec.ts', imports: '../cloud-bridge/ingest.js', from: 'proto', to: 'cloud-bridge' },
      { file: 'cloud-bridge/api.ts', imports: '../edge/spool.js', from: 'cloud-bridge', to: 'edge' },
    ]);
  });

  it('reads static, type-only, re-export, side-effect and dynamic imports', () => {
    expect(relativeImports([
      "import a from './a.js';", "import type { B } from '../b.js';", "export * from './c.js';",
      "export { d } from './d.js';", "import './e.js';", "const f = await import('../f.js');", "import x from 'node:fs';",
    ].join('\n'))).toEqual(['./a.js', '../b.js', './c.js', './d.js', './e.js', '../f.js']);
  });
});
