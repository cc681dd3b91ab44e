import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fmt, type BenchGroup, type Figure } from './harness.js';
import { pipelineGroup } from './pipeline.js';
import { edgeGroup } from './edge.js';
import { apiGroup } from './api.js';
import { modbusGroup } from './modbus.js';
import { ingestGroup } from './ingest.js';
import { opcuaGroup } from './opcua.js';
import { plantGroup } from './plant.js';

/** Every group, in the order `npm run bench` runs them. Explicit list, no discovery by file name. */
const GROUPS: BenchGroup[] = [plantGroup, pipelineGroup, edgeGroup, apiGroup, modbusGroup, opcuaGroup, ingestGroup];

async function main(): Promise<void> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { only: { type: 'string', multiple: true }, json: { type: 'string' }, list: { type: 'boolean' } } });
  if (values.list) {
    for (const g of GROUPS) process.stdout.write(`${g.name.padEnd(12)} ${g.description}\n`);
    return;
  }
  const only = values.only ?? [];
  const unknown = only.filter((o) => !GROUPS.some((g) => g.name === o));
  if (unknown.length > 0) throw new Error(`unknown bench group ${unknown.join(', ')}; groups: ${GROUPS.map((g) => g.name).join(', ')}`);
  const figures: Figure[] = [];
  for (const g of GROUPS.filter((x) => only.length === 0 || only.includes(x.name))) {
    process.stdout.write(`\n# ${g.name}: ${g.description}\n`);
    await g.run((f) => {
      figures.push(f);
      process.stdout.write(`${fmt(f)}\n`);
    });
  }
  if (values.json) writeFileSync(values.json, `${JSON.stringify(figures, null, 2)}\n`);
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
