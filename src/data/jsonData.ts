/**
 * The `data.json` that `gradcond probe` reads — `{"loss"?, "batches": [{"x": [...], "y": [...]}]}`
 * — flattened into one data set: the batches' examples in order. `x[i]` is one example (a number
 * or a rectangular nested array, the same shape in every batch); `y[i]` is a class index (a
 * number or a one-element array) or a one-hot row (K ≥ 2 entries of 0 and 1 with a single 1).
 */
import { basename } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { readDataFile } from './files.js';
import { indexLabels, type ClassLabels } from './labels.js';
import type { TableData } from './csv.js';

/** The file's shape, as `gradcond probe` expects it. */
export const DataJsonSchema = z.object({
  loss: z.string().optional(),
  batches: z.array(z.object({ x: z.array(z.unknown()).min(1), y: z.array(z.unknown()).min(1) })).min(1),
});

const FORMAT = '{"loss"?, "batches": [{"x": [...], "y": [...]}, ...]}';

/**
 * The most levels of nesting a value may have: an example is at most a few dimensions deep, so
 * deeper input is a mistake, refused in one line (never a stack overflow or a message that
 * prints thousands of dimensions).
 */
export const MAX_NESTING = 16;

/** Appends the numbers of a rectangular nested array to `out`; returns its shape. */
function flatten(v: unknown, where: string, out: number[], depth = 0): number[] {
  if (typeof v === 'number') {
    if (!Number.isFinite(Math.fround(v))) throw new UsageError(`${where}: ${v} is not a finite (float32) number`);
    out.push(v);
    return [];
  }
  if (!Array.isArray(v)) throw new UsageError(`${where}: ${JSON.stringify(v) ?? String(v)} is not a number`);
  if (depth >= MAX_NESTING) throw new UsageError(`${where}: nested more than ${MAX_NESTING} levels deep (an array of numbers has at most ${MAX_NESTING} dimensions)`);
  if (v.length === 0) throw new UsageError(`${where}: empty array`);
  const inner = flatten(v[0], where, out, depth + 1);
  for (let k = 1; k < v.length; k++) {
    const s = flatten(v[k], where, out, depth + 1);
    if (s.join() !== inner.join()) throw new UsageError(`${where}: ragged array (entries of shape [${inner}] and [${s}])`);
  }
  return [v.length, ...inner];
}

/**
 * The numbers and shape of a rectangular nested array of finite float32 numbers; anything else
 * (a string, NaN written as text, 1e39, a ragged or too deeply nested array) is a UsageError
 * that starts with `where`.
 */
export function nestedNumbers(v: unknown, where: string): { values: number[]; shape: number[] } {
  const values: number[] = [];
  const shape = flatten(v, where, values);
  return { values, shape };
}

function parseFile(path: string, raw: Buffer): z.infer<typeof DataJsonSchema> {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new UsageError(`${path}: malformed JSON (${(err as Error).message})`);
  }
  const parsed = DataJsonSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`${path}: ${issue.path.join('.') || 'top level'}: ${issue.message} (expected ${FORMAT})`);
  }
  return parsed.data;
}

/** One target as a class index; `width` is 1 for an index, K for a one-hot row. */
function target(y: unknown, where: string): { label: number; width: number } {
  const values: number[] = [];
  const shape = flatten(y, `${where}: y`, values);
  if (shape.length === 0 || (shape.length === 1 && shape[0] === 1)) return { label: values[0], width: 1 };
  const ones = values.filter((v) => v === 1).length;
  if (shape.length !== 1 || ones !== 1 || values.some((v) => v !== 0 && v !== 1)) {
    throw new UsageError(`${where}: y must be a class index or a one-hot row, got ${JSON.stringify(y).slice(0, 60)}`);
  }
  return { label: values.indexOf(1), width: shape[0] };
}

export function readJsonData(path: string, opts: { classes?: number } = {}): TableData {
  const { raw: bytes, record: file } = readDataFile(path, 'data file');
  const data = parseFile(path, bytes);
  const xs: number[] = [];
  const raw: number[] = [];
  const where: string[] = [];
  let inputShape: number[] | undefined;
  let width: number | undefined;
  data.batches.forEach((b, i) => {
    if (b.x.length !== b.y.length) throw new UsageError(`${path}: batch ${i}: ${b.x.length} inputs but ${b.y.length} targets`);
    b.x.forEach((x, j) => {
      const at = `batch ${i}, example ${j}`;
      const shape = flatten(x, `${path}: ${at}: x`, xs);
      inputShape ??= shape;
      if (shape.join() !== inputShape.join()) throw new UsageError(`${path}: ${at}: x has shape [${shape}] but the first example has [${inputShape}]`);
      const t = target(b.y[j], `${path}: ${at}`);
      width ??= t.width;
      if (t.width !== width) throw new UsageError(`${path}: ${at}: y has ${t.width} entries but the first example's has ${width} (class indices and one-hot rows cannot mix)`);
      raw.push(t.label);
      where.push(at);
    });
  });
  const oneHot = width! > 1;
  if (oneHot && opts.classes !== undefined && opts.classes !== width) throw new UsageError(`${path}: classes: ${opts.classes} declared but the one-hot rows have ${width} entries`);
  const labels: ClassLabels = indexLabels(raw, oneHot ? width : opts.classes, path, (i) => where[i]);
  if (oneHot) labels.rule = `one-hot targets, ${width} classes`;
  const shape = inputShape!.length === 0 ? [1] : inputShape!;
  const dataset: Dataset = { name: basename(path), inputShape: shape, classes: labels.classes, x: Float32Array.from(xs), labels: labels.labels, size: raw.length };
  return { dataset, file, labels };
}
