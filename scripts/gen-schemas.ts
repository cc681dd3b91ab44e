// Writes configs/schemas/*.schema.json from the zod schemas (the single source of truth), for editors.
// CI regenerates them and fails when the committed files are stale.
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { edgeConfigSchema } from '../edge/config.js';
import { cloudConfigSchema } from '../cloud-bridge/config.js';

const targets: [string, z.ZodType, string][] = [
  ['configs/schemas/edge.schema.json', edgeConfigSchema, 'Jinyun edge agent configuration'],
  ['configs/schemas/cloud.schema.json', cloudConfigSchema, 'Jinyun cloud bridge configuration'],
];
for (const [file, schema, title] of targets) {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  writeFileSync(file, `${JSON.stringify({ title, ...json }, null, 2)}\n`);
}
