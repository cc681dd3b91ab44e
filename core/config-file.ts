import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isNode, isScalar, isSeq, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.js';

export interface LoadOptions {
  /** Variables for ${NAME} and ${NAME:-default}; process.env by default. */
  env?: Record<string, string | undefined>;
}

/** A semantic check run after the schema passed; returns issues with paths. */
export type ConfigCheck<T> = (config: T) => ConfigIssue[];

/**
 * Reads a YAML (or JSON) config, substitutes ${VAR} references, validates it against the
 * component's zod schema and any semantic checks, and throws one ConfigError that lists every
 * problem with file, line and path. Keys named __proto__ or constructor are refused.
 */
export function loadConfigFile<S extends z.ZodType>(file: string, schema: S, checks: ConfigCheck<z.output<S>>[] = [], opts: LoadOptions = {}): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: [], message: `cannot read file: ${(err as Error).message}` }], { cause: err });
  }
  return parseConfigText(file, text, schema, checks, opts);
}

export function parseConfigText<S extends z.ZodType>(file: string, raw: string, schema: S, checks: ConfigCheck<z.output<S>>[] = [], opts: LoadOptions = {}): z.output<S> {
  const text = interpolate(file, raw, opts.env ?? process.env);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => ({ path: [], line: lines.linePos(e.pos[0]).line, message: `YAML syntax: ${e.message.split('\n')[0]}` })));
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const bad = findForbiddenKeys(data, []);
  if (bad.length > 0) throw new ConfigError(file, bad.map((path) => ({ path, line: lineOf(doc, lines, path), message: 'key not allowed' })));
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => toIssue(i, doc, lines));
    throw new ConfigError(file, issues);
  }
  const config = parsed.data as z.output<S>;
  const semantic = checks.flatMap((check) => check(config));
  if (semantic.length > 0) throw new ConfigError(file, semantic.map((i) => ({ ...i, line: i.line ?? lineOf(doc, lines, i.path) })));
  return config;
}

function toIssue(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter): ConfigIssue {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    const first = keys[0];
    const at = first === undefined ? path : [...path, first];
    return { path: at, line: lineOf(doc, lines, at), message: `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')} (check the spelling; allowed keys are listed in the JSON Schema under configs/schemas/)` };
  }
  return { path, line: lineOf(doc, lines, path), message: issue.message };
}

/** 1-based line of the value at path: the line of its key inside a map, else of the node; falls back to the parent. */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    const last = path[n - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === last);
      if (pair && isNode(pair.key) && pair.key.range) return lines.linePos(pair.key.range[0]).line;
    } else if (isSeq(parent) && typeof last === 'number') {
      const item = parent.items[last];
      if (isNode(item) && item.range) return lines.linePos(item.range[0]).line;
    }
  }
  return undefined;
}

function findForbiddenKeys(value: unknown, path: (string | number)[]): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => findForbiddenKeys(v, [...path, i]));
  if (value === null || typeof value !== 'object') return [];
  return Object.keys(value).flatMap((k) =>
    k === '__proto__' || k === 'constructor' || k === 'prototype' ? [[...path, k]] : findForbiddenKeys((value as Record<string, unknown>)[k], [...path, k]),
  );
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces ${NAME} and ${NAME:-default}; an unset variable without default is an error naming the line. */
export function interpolate(file: string, text: string, env: Record<string, string | undefined>): string {
  const issues: ConfigIssue[] = [];
  const out = text.split('\n').map((line, i) => {
    if (line.trimStart().startsWith('#')) return line;
    return line.replace(VAR, (_m, name: string, dflt: string | undefined) => {
      const v = env[name] ?? dflt;
      if (v === undefined) {
        issues.push({ path: [], line: i + 1, message: `environment variable ${name} is not set (use \${${name}:-default} for a default)` });
        return '';
      }
      if (/[\n\r]/.test(v)) {
        issues.push({ path: [], line: i + 1, message: `environment variable ${name} contains a line break` });
        return '';
      }
      return v;
    });
  });
  if (issues.length > 0) throw new ConfigError(file, issues);
  return out.join('\n');
}
