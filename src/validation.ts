/**
 * One validation layer: zod schemas for every option a user gives, written once and used by the
 * library (where the option is given) and the CLI (which maps argv onto the same options), so
 * that a bad value gets the same one-line message from both. A message names the option as the
 * library spells it and, where the CLI spells it differently, the flag: "batchSize (--batch-size)
 * must be a positive integer, got 0".
 */
import { z } from 'zod';
import { UsageError } from './errors.js';

/** `batchSize` → `batch-size`. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * The command-line flags spelled differently from their library option. An option not listed
 * is either spelled the same on both sides (`budget`, `--budget`) or has no flag at all: its
 * messages name the option alone, never a flag that does not exist.
 */
const FLAG_OF: Readonly<Record<string, string>> = {
  batchSize: 'batch-size', learningRate: 'lr', validateEvery: 'validate-every', runDir: 'run-dir', checkpointEvery: 'checkpoint-every',
  checkpointSeconds: 'checkpoint-seconds', stopOnDeadGradient: 'stop-on-dead-gradient', logLevel: 'log-level', dataDir: 'data-dir',
  dataFile: 'data-file', labelColumn: 'label-column', valExamples: 'val-examples', batchNorm: 'batch-norm', maxExamples: 'max-examples', gramSubset: 'gram-subset', stepMetrics: 'step-metrics',
  weightSampling: 'directions', maxPoints: 'max-points',
};

/** How messages name an option: `budget`, `batchSize (--batch-size)`, `learningRate (--lr)`. */
export function optionLabel(name: string): string {
  return Object.hasOwn(FLAG_OF, name) ? `${name} (--${FLAG_OF[name]})` : name;
}

/** A value as a message shows it: numbers and strings as typed, anything else as JSON. */
export function show(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'nothing';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** A schema accepting what `ok` accepts, with the message "<label> must be <expected>, got <value>". */
function check<T>(name: string, expected: string, ok: (v: unknown) => boolean): z.ZodType<T> {
  return z.custom<T>((v) => ok(v), { error: (issue) => `${optionLabel(name)} must be ${expected}, got ${show(issue.input)}` });
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export const positiveInt = (name: string) => check<number>(name, 'a positive integer', (v) => isNum(v) && Number.isInteger(v) && v > 0);
export const nonNegativeInt = (name: string) => check<number>(name, 'a non-negative integer', (v) => isNum(v) && Number.isInteger(v) && v >= 0);
/** An integer of at least `min`. */
export const intAtLeast = (name: string, min: number) => check<number>(name, `an integer ≥ ${min}`, (v) => isNum(v) && Number.isInteger(v) && v >= min);
/** A non-empty list of positive integers (a shape). */
export const positiveIntList = (name: string) =>
  check<number[]>(name, 'a non-empty list of positive integers', (v) => Array.isArray(v) && v.length > 0 && v.every((d) => isNum(d) && Number.isInteger(d) && d > 0));
export const integer = (name: string) => check<number>(name, 'an integer', (v) => isNum(v) && Number.isInteger(v));
export const positiveNumber = (name: string) => check<number>(name, 'a positive finite number', (v) => isNum(v) && v > 0);
export const nonNegativeNumber = (name: string) => check<number>(name, 'a non-negative finite number', (v) => isNum(v) && v >= 0);
export const finiteNumber = (name: string) => check<number>(name, 'a finite number', isNum);
/** A fraction in the open interval (0, 1). */
export const openFraction = (name: string) => check<number>(name, 'a fraction in (0, 1)', (v) => isNum(v) && v > 0 && v < 1);
/** A fraction in (0, 1]. */
export const fraction = (name: string) => check<number>(name, 'a fraction in (0, 1]', (v) => isNum(v) && v > 0 && v <= 1);
export const oneOf = <T extends string>(name: string, choices: readonly T[]) =>
  check<T>(name, `one of ${choices.join(', ')}`, (v) => typeof v === 'string' && (choices as readonly string[]).includes(v));
export const bool = (name: string) => check<boolean>(name, 'true or false', (v) => typeof v === 'boolean');
export const text = (name: string) => check<string>(name, 'a non-empty string', (v) => typeof v === 'string' && v.length > 0);
/** A function (a callback option). */
export const func = <T>(name: string) => check<T>(name, 'a function', (v) => typeof v === 'function');

/** The first problem of a failed parse, as one line. */
export function firstProblem(error: z.ZodError, what: string, known?: readonly string[]): string {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    return `unknown option${keys.length > 1 ? 's' : ''} ${keys.map((k) => `'${k}'`).join(', ')} for ${what}${known ? `: known options are ${known.join(', ')}` : ''}`;
  }
  // The schemas above write whole messages that begin with the option's name.
  if (issue.code === 'custom' || (issue.path.length > 0 && issue.message.startsWith(optionLabel(String(issue.path[0]))))) return issue.message;
  const at = issue.path.length ? `${optionLabel(String(issue.path[0]))}${issue.path.slice(1).map((p) => `.${String(p)}`).join('')}: ` : '';
  return `${what}: ${at}${issue.message}`;
}

/** Parses `raw` with `schema`, or throws a UsageError with the first problem on one line. */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown, what: string, known?: readonly string[]): z.output<S> {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) throw new UsageError(firstProblem(r.error, what, known));
  return r.data;
}
