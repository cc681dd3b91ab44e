import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseConfigText, interpolate } from '../../core/config-file.js';
import { ConfigError } from '../../core/errors.js';

const schema = z.strictObject({
  name: z.string(),
  items: z.array(z.strictObject({ id: z.string(), periodMs: z.number().int().min(10) })),
});

function issues(text: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfigText('site.yaml', text, schema, [], { env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message.split('\n').slice(1).map((l) => l.trim());
  }
  throw new Error('expected a ConfigError');
}

describe('config loading', () => {
  it('names file, line, path and what was expected for a wrong type', () => {
    expect(issues('name: a\nitems:\n  - id: x\n    periodMs: fast\n')).toEqual([
      'site.yaml:4: items[0].periodMs: Invalid input: expected number, received string',
    ]);
  });

  it('names an unknown key and where it is', () => {
    expect(issues('name: a\nitems:\n  - id: x\n    periodMs: 100\n    perodMs: 5\n')).toEqual([
      'site.yaml:5: items[0].perodMs: unknown key "perodMs" (check the spelling; allowed keys are listed in the JSON Schema under configs/schemas/)',
    ]);
  });

  it('reports a missing key at its parent and every problem at once', () => {
    expect(issues('items:\n  - id: x\n    periodMs: 1\n')).toEqual([
      'site.yaml: name: Invalid input: expected string, received undefined',
      'site.yaml:3: items[0].periodMs: Too small: expected number to be >=10',
    ]);
  });

  it('refuses __proto__ keys and duplicate keys', () => {
    expect(issues('name: a\n__proto__:\n  x: 1\nitems: []\n')[0]).toMatch(/site\.yaml:2: __proto__: key not allowed/);
    expect(issues('name: a\nname: b\nitems: []\n')[0]).toMatch(/site\.yaml:2: \(root\): YAML syntax: Map keys must be unique/);
  });

  it('substitutes ${VAR} and ${VAR:-default}, and names an unset variable with its line', () => {
    const cfg = parseConfigText('site.yaml', 'name: ${N}\nitems:\n  - id: ${ID:-x1}\n    periodMs: ${P}\n', schema, [], { env: { N: 'mine', P: '250' } });
    expect(cfg).toEqual({ name: 'mine', items: [{ id: 'x1', periodMs: 250 }] });
    expect(() => interpolate('f.yaml', 'a: 1\nb: ${MISSING}\n', {})).toThrow('f.yaml:2: (root): environment variable MISSING is not set');
  });

  it('runs semantic checks after the schema and places them by path', () => {
    const dupes = (c: z.output<typeof schema>) => c.items.flatMap((it, i) => (c.items.findIndex((o) => o.id === it.id) < i ? [{ path: ['items', i, 'id'], message: `duplicate id "${it.id}"` }] : []));
    let msg = '';
    try {
      parseConfigText('s.yaml', 'name: a\nitems:\n  - id: x\n    periodMs: 10\n  - id: x\n    periodMs: 10\n', schema, [dupes], { env: {} });
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toContain('s.yaml:5: items[1].id: duplicate id "x"');
  });
});
