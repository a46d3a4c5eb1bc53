/**
 * What a run spec says about its data: plain JSON, validated with zod so that a run spec can
 * embed `DataSpecSchema` and every mistake is one line (`parseDataSpec`).
 *
 * Common options: `seed` (splits and shuffles; default 0), and `examples` / `valExamples` /
 * `testExamples`, which take fewer than a split holds (asking for more is an error, never a
 * quiet clamp). For `embedded` and `fashion-mnist`, `valExamples` is the size of the
 * class-balanced validation carve-out from the training images (default 1,000).
 */
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { bool, intAtLeast, integer, nonNegativeInt, optionLabel, positiveInt, positiveIntList, positiveNumber, text } from '../validation.js';
import { FASHION_MNIST_DIR } from './fashionMnist.js';

// Messages name the option and its flag, as the CLI and train() do: "examples must be a positive
// integer, got -5".
const common = {
  seed: integer('seed').default(0),
  examples: positiveInt('examples').optional(),
  valExamples: nonNegativeInt('valExamples').optional(),
  testExamples: nonNegativeInt('testExamples').optional(),
};

const Fractions = z
  .strictObject({ train: z.number().gt(0).lte(1), validation: z.number().min(0).lt(1), test: z.number().min(0).lt(1) })
  .refine((f) => Math.abs(f.train + f.validation + f.test - 1) <= 1e-9, { message: 'train + validation + test must sum to 1' });

const fileOptions = {
  file: text('file'),
  /** Train/validation/test fractions of the shuffled rows (default 0.8/0.1/0.1). */
  fractions: Fractions.optional(),
  /** Standardise features with the training split's per-feature mean and std. */
  standardize: bool('standardize').default(false),
  /** Number of classes, when some classes do not occur in the file. */
  classes: intAtLeast('classes', 2).optional(),
};

export const DataSpecSchema = z.discriminatedUnion('name', [
  z.strictObject({ name: z.literal('embedded'), ...common }),
  z.strictObject({ name: z.literal('fashion-mnist'), dataDir: text('dataDir').default(FASHION_MNIST_DIR), ...common }),
  z.strictObject({
    name: z.literal('synthetic'),
    ...common,
    classes: intAtLeast('classes', 2).default(10),
    noise: positiveNumber('noise').default(1),
    inputShape: positiveIntList('inputShape').default([28, 28, 1]),
  }),
  z.strictObject({ name: z.literal('csv'), ...fileOptions, labelColumn: text('labelColumn').default('label'), ...common }),
  z.strictObject({ name: z.literal('json'), ...fileOptions, ...common }),
]);

/** A data spec as written (defaults omitted). */
export type DataSpecInput = z.input<typeof DataSpecSchema>;
/** A validated data spec, defaults filled in. */
export type DataSpec = z.output<typeof DataSpecSchema>;

export const DATA_NAMES = ['embedded', 'fashion-mnist', 'synthetic', 'csv', 'json'] as const;
export type DataName = (typeof DATA_NAMES)[number];

/** Validates a data spec; the first problem becomes a one-line UsageError. */
export function parseDataSpec(raw: unknown): DataSpec {
  const name = (raw as { name?: unknown } | null)?.name;
  if (typeof raw === 'object' && raw !== null && !DATA_NAMES.includes(name as DataName)) {
    throw new UsageError(`unknown data '${String(name)}': choose ${DATA_NAMES.join(', ')}`);
  }
  const parsed = DataSpecSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  // The option schemas write whole messages that start with the option's name ("examples must be …").
  const key = issue.path.at(-1);
  if (key !== undefined && issue.message.startsWith(optionLabel(String(key)))) throw new UsageError(issue.message);
  throw new UsageError(`data spec${issue.path.length ? ` ${issue.path.join('.')}` : ''}: ${issue.message}`);
}

/** The data options of a command line, as typed (undefined when not given). */
export interface DataFlags {
  data: string;
  examples?: number;
  valExamples?: number;
  testExamples?: number;
  seed?: number;
  /** --data-dir: Fashion-MNIST's idx directory. */
  dataDir?: string;
  /** --data-file: the CSV or data.json file. */
  dataFile?: string;
  /** --label-column (CSV). */
  labelColumn?: string;
  /** --standardize (CSV, JSON). */
  standardize?: boolean;
}

/**
 * A data spec from command-line flags, refusing a flag that does not apply to the chosen data
 * (so `--data-dir` with `--data csv` is an error, not silently ignored).
 */
export function specFromFlags(f: DataFlags): DataSpec {
  const usable: Record<string, readonly DataName[]> = {
    dataDir: ['fashion-mnist'],
    dataFile: ['csv', 'json'],
    labelColumn: ['csv'],
    standardize: ['csv', 'json'],
  };
  const flag = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  for (const [key, names] of Object.entries(usable)) {
    const v = f[key as keyof DataFlags];
    if (v !== undefined && v !== false && !names.includes(f.data as DataName)) throw new UsageError(`${flag(key)} applies only to --data ${names.join(' or ')}`);
  }
  if ((f.data === 'csv' || f.data === 'json') && f.dataFile === undefined) throw new UsageError(`--data ${f.data} needs --data-file FILE`);
  const { data, dataFile, ...rest } = f;
  const spec = Object.fromEntries(Object.entries({ name: data, file: dataFile, ...rest }).filter(([, v]) => v !== undefined && v !== false));
  return parseDataSpec(spec);
}
