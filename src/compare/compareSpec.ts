/**
 * A comparison: several policies × several seeds on one task (model, data, optimizer, budget).
 * Plain JSON, validated; `planRuns` expands it into run specs, one per (policy, seed), each
 * with the seed's initial weights and data order.
 */
import { z } from 'zod';
import { DataSpecSchema } from '../data/spec.js';
import { OPTIMIZER_NAMES } from '../optimizer/optimizers.js';
import { parseOptions } from '../validation.js';
import { BudgetSchema, ModelRefSchema, PolicyRefSchema, type RunSpec } from './runSpec.js';

export const CompareSpecSchema = z.strictObject({
  policies: z.array(PolicyRefSchema).min(1),
  seeds: z.array(z.number().int().nonnegative()).min(1),
  model: ModelRefSchema,
  data: DataSpecSchema,
  optimizer: z.enum(OPTIMIZER_NAMES as [string, ...string[]]),
  learningRate: z.number().positive().finite(),
  batchSize: z.number().int().positive(),
  loss: z.string().default('categoricalCrossentropy'),
  budget: BudgetSchema,
  validateEvery: z.number().int().positive().optional(),
  metrics: z.record(z.string(), z.unknown()).default({}),
  /** The policy the others are tested against (default: 'constant' if compared, else the first). */
  baseline: z.string().optional(),
  /** Time to target: the target is this fraction of the best validation accuracy any run reached. */
  targetFraction: z.number().gt(0).lte(1).default(0.95),
});
export type CompareSpec = z.output<typeof CompareSpecSchema>;
export type CompareSpecInput = z.input<typeof CompareSpecSchema>;

export function parseCompareSpec(raw: unknown): CompareSpec {
  return parseOptions(CompareSpecSchema, raw, 'comparison');
}

/** A label per policy entry: its name, or name#k when the same policy is compared twice. */
export function policyLabels(spec: CompareSpec): string[] {
  const seen = new Map<string, number>();
  return spec.policies.map((p) => {
    const k = (seen.get(p.name) ?? 0) + 1;
    seen.set(p.name, k);
    return k === 1 ? p.name : `${p.name}#${k}`;
  });
}

export function baselineOf(spec: CompareSpec): string {
  const labels = policyLabels(spec);
  return spec.baseline ?? (labels.includes('constant') ? 'constant' : labels[0]!);
}

export interface PlannedRun {
  policy: string;
  seed: number;
  spec: RunSpec;
}

/** One run per (policy, seed), in seed-major order so that early results cover every policy. */
export function planRuns(spec: CompareSpec): PlannedRun[] {
  const labels = policyLabels(spec);
  return spec.seeds.flatMap((seed) =>
    spec.policies.map((policy, i) => ({
      policy: labels[i]!,
      seed,
      spec: {
        id: `${labels[i]!.replace('#', '_')}-s${seed}`,
        model: spec.model, data: spec.data, optimizer: spec.optimizer, learningRate: spec.learningRate, batchSize: spec.batchSize,
        loss: spec.loss, policy, seed, budget: spec.budget, metrics: spec.metrics,
        ...(spec.validateEvery !== undefined ? { validateEvery: spec.validateEvery } : {}),
      },
    })),
  );
}
