import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

/**
 * The dependency rule of the house: arrows point one way. core <- proto <- drivers <- edge, and
 * proto <- cloud-bridge. A folder may import itself and the folders listed for it, nothing else
 * (cli/, simulators/, bench/, scripts/ and test/ sit on top and may import anything).
 */
export const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  proto: ['core'],
  drivers: ['core', 'proto'],
  edge: ['core', 'proto', 'drivers'],
  'cloud-bridge': ['core', 'proto'],
};

export interface BackArrow { file: string; imports: string; from: string; to: string }

/** Relative imports of a TypeScript source (static imports, re-exports and dynamic import()). */
export function relativeImports(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*'(\.[^']*)'|import\(\s*'(\.[^']*)'\s*\)|(?:^|\n)\s*import\s*'(\.[^']*)'/g)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

/** Every import in `files` (path relative to the root -> source) that points against the rule. */
export function backArrows(files: Map<string, string>): BackArrow[] {
  const found: BackArrow[] = [];
  for (const [file, source] of files) {
    const from = file.split('/')[0]!;
    const allowed = ALLOWED[from];
    if (!allowed) continue;
    for (const spec of relativeImports(source)) {
      const to = normalize(join(dirname(file), spec)).split('/')[0]!;
      if (to !== from && !allowed.includes(to)) found.push({ file, imports: spec, from, to });
    }
  }
  return found;
}

/** The TypeScript sources of the ruled folders under root (generated code included: it is imported like the rest). */
export function sources(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|js)$/.test(name) && !name.endsWith('.d.ts')) files.set(relative(root, path), readFileSync(path, 'utf8'));
    }
  };
  for (const top of Object.keys(ALLOWED)) walk(join(root, top));
  return files;
}
