/**
 * Policy options for people: `parsePolicyOptions` turns command-line words into the raw object a
 * policy validates, and `describeOptions` reads a policy's zod schema back into a table (name,
 * type, default, description) for `gradcond policies` and the docs.
 */
import { z } from 'zod';
import { UsageError } from '../src/errors.js';

/** One option as the listing shows it. */
export interface OptionInfo {
  /** Dotted for nested options (`lr.patience`). */
  name: string;
  /** 'number', 'integer', 'boolean', 'string', or the choices joined by '|'. */
  type: string;
  /** The default, or null when the option has none (required, or computed from the start). */
  default: unknown;
  /** True when the option must be given. */
  required: boolean;
  description: string;
}

interface JsonSchemaNode {
  type?: string;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
}

function typeName(node: JsonSchemaNode): string {
  if (node.enum) return node.enum.map(String).join('|');
  return node.type ?? 'unknown';
}

function flatten(node: JsonSchemaNode, prefix: string, out: OptionInfo[]): OptionInfo[] {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const name = prefix + key;
    if (child.type === 'object' && child.properties) {
      flatten(child, `${name}.`, out);
      continue;
    }
    const required = (node.required ?? []).includes(key) && child.default === undefined;
    out.push({ name, type: typeName(child), default: child.default ?? null, required, description: child.description ?? '' });
  }
  return out;
}

/** The options of a schema (a zod object), nested objects flattened to dotted names. */
export function describeOptions(schema: z.ZodType): OptionInfo[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  return flatten(json, '', []);
}

/** A command-line value: numbers, booleans and null as such, anything else as a string. */
function coerce(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text.trim())) return Number(text);
  return text;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown, word: string): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) throw new UsageError(`policy option '${word}' conflicts with '${key}' given as a value`);
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

function mergeObject(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(source)) {
    const t = target[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && t && typeof t === 'object' && !Array.isArray(t)) {
      mergeObject(t as Record<string, unknown>, v as Record<string, unknown>);
    } else target[k] = v;
  }
}

/**
 * Policy options from the command line: each word is `name=value` (`patience=3`,
 * `lr.patience=3` for a nested option, `cosine.total=1000` for a part of 'adascale+cosine') or
 * one JSON object (`{"patience":3}`); later words win. Values become numbers, booleans or
 * strings. The result still goes through the policy's `validate`.
 */
export function parsePolicyOptions(args: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const word of args) {
    const text = word.trim();
    if (text === '') continue;
    if (text.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new UsageError(`policy options ${JSON.stringify(text)} are not valid JSON: ${(err as Error).message}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('policy options given as JSON must be one object');
      mergeObject(out, parsed as Record<string, unknown>);
      continue;
    }
    const eq = text.indexOf('=');
    const name = eq > 0 ? text.slice(0, eq).trim() : '';
    const path = name.split('.');
    if (eq <= 0 || path.some((p) => p === '')) throw new UsageError(`policy option '${word}' must look like name=value (e.g. patience=3) or be a JSON object`);
    setPath(out, path, coerce(text.slice(eq + 1).trim()), word);
  }
  return out;
}
