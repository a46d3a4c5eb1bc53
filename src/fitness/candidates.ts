/**
 * Candidates as a user names them: zoo specs (`fc-orthogonal:depth=4,width=128,activation=tanh`),
 * saved tfjs models (`a/model.json`), or a JSON file listing either kind
 * (`[{"zoo": "resnet", "options": {"depth": 8}}, {"path": "a/model.json"}]`, the run specs'
 * model format). Each becomes a label and a builder; building is deferred to scoring, so one
 * candidate that cannot be built does not stop the others.
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { ModelRefSchema, type ModelRef } from '../compare/runSpec.js';
import { UsageError } from '../errors.js';
import { loadModel } from '../models/io.js';
import { buildModel } from '../models/zoo.js';
import type { ModelSource } from './fitness.js';

export interface Candidate {
  /** How the candidate was named: the zoo spec or the path. */
  label: string;
  source: ModelSource;
}

/** A value of a `key=value` option: a number, a boolean, or the text as typed. */
function optionValue(text: string): unknown {
  if (text === 'true' || text === 'false') return text === 'true';
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) ? n : text;
}

/** `name` or `name:key=value,key=value` as a model reference (options are checked when built). */
export function parseZooSpec(spec: string): ModelRef {
  const [zoo, rest] = spec.split(/:(.*)/s, 2) as [string, string | undefined];
  if (!zoo) throw new UsageError(`empty zoo spec '${spec}': write NAME or NAME:key=value,… (e.g. fc-orthogonal:depth=4,width=128)`);
  const options: Record<string, unknown> = {};
  for (const part of rest ? rest.split(',') : []) {
    const [key, value] = part.split('=', 2);
    if (!key || value === undefined) throw new UsageError(`zoo spec '${spec}': '${part}' is not key=value`);
    options[key.trim()] = optionValue(value.trim());
  }
  return { zoo, options } as ModelRef;
}

/** The label of a model reference: `zoo:key=value,…` or the path. */
export function refLabel(ref: ModelRef): string {
  if ('path' in ref) return ref.path;
  const opts = Object.entries(ref.options).map(([k, v]) => `${k}=${v}`);
  return opts.length ? `${ref.zoo}:${opts.join(',')}` : ref.zoo;
}

export interface BuildShape {
  inputShape: number[];
  classes: number;
  /** Seeds a zoo model's weights unless its options give one (default 0). */
  seed?: number;
}

/** A candidate for `ref`: a zoo model built for the data's shape, or a saved model loaded. */
export function candidateOf(ref: ModelRef, shape: BuildShape): Candidate {
  if ('path' in ref) return { label: ref.path, source: () => loadModel(ref.path) };
  return { label: refLabel(ref), source: () => buildModel(ref.zoo, { seed: shape.seed ?? 0, ...ref.options, inputShape: shape.inputShape, classes: shape.classes }) };
}

/** The model references listed in a JSON file. */
export function readCandidateFile(path: string): ModelRef[] {
  if (!existsSync(path)) throw new UsageError(`candidate list not found: ${path}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`${path}: malformed JSON (${(err as Error).message})`);
  }
  const parsed = z.array(ModelRefSchema).min(1).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`${path}: ${issue.path.join('.') || 'top level'}: ${issue.message} (expected [{"zoo": NAME, "options": {...}} or {"path": "model.json"}, ...])`);
  }
  return parsed.data;
}
