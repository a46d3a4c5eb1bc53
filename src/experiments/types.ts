/**
 * The chapter-4 experiments as data. An experiment is one declarative definition (a file in the
 * top-level `experiments/` folder, registered in `experiments/index.ts`): a grid of training runs
 * for a `quick` and a `full` variant, the thesis figures it reproduces, and the name of the
 * analysis that turns the finished runs into results and a report (analyses live in
 * src/experiments/ and are found by name in `analyses.ts`).
 *
 * A variant is `settings` shared by every run (data, optimizer, loss, budget, metric options,
 * validation cadence) and `blocks`: each block is a grid, the product of its axes
 *
 *     architectures × depths × widths × batch sizes × learning rates × policies × metric options × seeds
 *
 * and may override any setting for its runs. Several blocks express designs that are not one
 * product (a grid of constant runs plus a block of policies at one cell). A run that two blocks
 * both define (same coordinates, same spec) runs once. A variant with no blocks is an experiment
 * whose analysis measures by itself (no training runs).
 *
 * Definitions are validated with zod when loaded (`parseDefinition`): a mistake is one line.
 */
import { z } from 'zod';
import { DataSpecSchema } from '../data/spec.js';
import { ArchitectureOptionsSchema } from '../models/options.js';
import { OPTIMIZER_NAMES } from '../optimizer/optimizers.js';
import type { Section } from '../report/doc.js';
import type { RunOutcome } from '../compare/outcome.js';
import { BudgetSchema, type RunSpec } from '../compare/runSpec.js';
import type { JsonValue, Trace } from '../trace/index.js';

/** Labels become parts of run ids and directory names: letters, digits, `.`, `_`, `+`, `-`. */
const Label = z.string().regex(/^[A-Za-z0-9._+-]+$/, { error: 'labels may hold letters, digits, and . _ + - only' });
const positiveInt = z.number().int().positive();

/**
 * One architecture of the grid: a zoo model with fixed options (activation, batch norm). Its own
 * `depths` / `widths` replace the block's, for architectures whose sizes differ (a CNN's width is
 * its base filters, an MLP's its units).
 */
export const ArchitectureAxisSchema = z.strictObject({
  /** Names the architecture in run ids, plots and tables: `fc-relu`, `resnet-bn`. */
  label: Label,
  /** A model zoo name (src/models/zoo.ts). */
  zoo: z.string().min(1),
  /** Options other than depth and width (those are axes). */
  options: ArchitectureOptionsSchema.omit({ depth: true, width: true, seed: true }).default({}),
  depths: z.array(positiveInt).min(1).optional(),
  widths: z.array(positiveInt).min(1).optional(),
});
export type ArchitectureAxis = z.output<typeof ArchitectureAxisSchema>;

/** One policy of the grid, with its options; `label` tells apart the same policy with other options. */
export const PolicyAxisSchema = z.strictObject({
  name: z.string().min(1),
  options: z.unknown().optional(),
  label: Label.optional(),
});
export type PolicyAxis = z.output<typeof PolicyAxisSchema>;

/** One setting of the conditioned optimizer's metric options (groups, every, mask, eta…), labelled. */
export const MetricsAxisSchema = z.strictObject({
  label: Label,
  options: z.record(z.string(), z.unknown()),
});
export type MetricsAxis = z.output<typeof MetricsAxisSchema>;

/** What every run of a variant shares unless a block overrides it. */
export const SettingsSchema = z.strictObject({
  data: DataSpecSchema,
  optimizer: z.enum(OPTIMIZER_NAMES as [string, ...string[]]),
  loss: z.string().default('categoricalCrossentropy'),
  budget: BudgetSchema,
  /** Validate every this many steps as well as at each epoch's end. */
  validateEvery: positiveInt.optional(),
  /** The metric options of every run (a block's `metrics` axis replaces them). */
  metrics: z.record(z.string(), z.unknown()).default({}),
  /** Stop a run whose network is dead (no gradient) for this many steps. */
  stopDeadAfter: positiveInt.optional(),
});
export type Settings = z.output<typeof SettingsSchema>;

/** One grid: the product of its axes, with optional overrides of the variant's settings. */
export const BlockSchema = z.strictObject({
  /** Names the block in experiment.json and to its analysis: `grid`, `policies`. */
  name: Label,
  architectures: z.array(ArchitectureAxisSchema).min(1),
  /** Default depths and widths of the block's architectures (omitted: the zoo's default). */
  depths: z.array(positiveInt).min(1).optional(),
  widths: z.array(positiveInt).min(1).optional(),
  batchSizes: z.array(positiveInt).min(1),
  learningRates: z.array(z.number().positive().finite()).min(1),
  policies: z.array(PolicyAxisSchema).min(1),
  /** Metric option settings to vary (omitted: the settings' `metrics`). */
  metrics: z.array(MetricsAxisSchema).min(1).optional(),
  seeds: z.array(z.number().int().nonnegative()).min(1),
  /** Settings that differ for this block's runs. */
  settings: SettingsSchema.partial().optional(),
});
export type Block = z.output<typeof BlockSchema>;

export const VariantSchema = z.strictObject({
  settings: SettingsSchema,
  blocks: z.array(BlockSchema),
  /** Options for the analysis (targets, smoothing windows, which metrics…): its own schema checks them. */
  analysis: z.record(z.string(), z.unknown()).default({}),
});
export type Variant = z.output<typeof VariantSchema>;
export type VariantInput = z.input<typeof VariantSchema>;

export const VARIANTS = ['quick', 'full'] as const;
export type VariantName = (typeof VARIANTS)[number];

export const DefinitionSchema = z.strictObject({
  /** What `gradcond experiment NAME` calls it. */
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'name must be lower-case letters, digits and -' }),
  /** Its number among the chapter-4 tests, when it has one (the thesis lists them in its section 4.2). */
  number: positiveInt.optional(),
  title: z.string().min(1),
  /** The question it answers, in a sentence or two: the report's opening. */
  question: z.string().min(1),
  /** The thesis figures it reproduces, e.g. 'figure 2.5'. */
  figures: z.array(z.string()).default([]),
  /** The analysis, by name (src/experiments/analyses.ts). */
  analysis: z.string().min(1),
  /** `quick`: minutes on 2 cores, what the tests run. `full`: sized for hours. */
  quick: VariantSchema,
  full: VariantSchema,
});
export type ExperimentDefinition = z.output<typeof DefinitionSchema>;
/** A definition as written in `experiments/<name>.ts` (defaults may be left out). */
export type DefinitionInput = z.input<typeof DefinitionSchema>;

/** Where a run sits in its grid: one value per axis. */
export interface Cell {
  block: string;
  /** The architecture's label, and what it builds. */
  architecture: string;
  zoo: string;
  /** Depth and width as given (null: the zoo's default). */
  depth: number | null;
  width: number | null;
  batchSize: number;
  learningRate: number;
  /** The policy's label (its name unless labelled). */
  policy: string;
  /** The metric options' label ('default' when the block does not vary them). */
  metrics: string;
  seed: number;
}

/** One planned run: its grid cells (several when blocks share it), spec and directory. */
export interface PlannedExperimentRun {
  id: string;
  /** The first block's cell, and every block that also defines this run. */
  cell: Cell;
  blocks: string[];
  spec: RunSpec;
  /** The run directory, relative to the experiment directory. */
  dir: string;
}

/** A finished (or failed) run as an analysis sees it. */
export interface AnalysedRun extends PlannedExperimentRun {
  /** Read from the run directory alone (compare/outcome.ts). */
  outcome: RunOutcome;
  /** The error the runner reported, if any. */
  error: string | null;
  /** The run's trace, read when first asked for (null: no readable run directory). */
  trace(): Trace | null;
}

/** What an analysis is given. */
export interface AnalysisInput {
  definition: ExperimentDefinition;
  variant: VariantName;
  /** The experiment directory (an analysis may write files there). */
  dir: string;
  runs: AnalysedRun[];
  /** The variant's `analysis` options, unchecked: the analysis validates them. */
  options: Record<string, unknown>;
  /** Lines for the user while the analysis works. */
  log: (line: string) => void;
}

/** What an analysis returns: numbers for experiment.json, the report's sections, and its findings. */
export interface AnalysisResult {
  /** Plain JSON: every number the report shows, for re-analysis. */
  results: JsonValue;
  /** The report's body (the framework adds the question, setup, estimate and runs). */
  sections: Section[];
  /** What was found, one sentence each, with numbers and intervals: printed and in the report. */
  findings: string[];
}

/** An analysis, registered by name in analyses.ts. */
export interface Analysis {
  name: string;
  /** One line: what it computes. */
  description: string;
  run(input: AnalysisInput): Promise<AnalysisResult> | AnalysisResult;
  /**
   * Seconds the analysis itself will take here, when it measures something (an experiment with
   * no training runs); added to the time estimate. Omitted: negligible.
   */
  estimateSeconds?(variant: Variant, name: VariantName): number;
}
