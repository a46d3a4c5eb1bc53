/**
 * A run spec: one training run as plain, validated JSON — model, data, optimizer, policy, seed,
 * budget, metric options. `compare`, `experiment`, `fitness` and the distributed worker all run
 * the same specs; a spec is data, never code (a zoo name or a model.json path, options), so a
 * worker can refuse one that does not validate.
 */
import { z } from 'zod';
import { DataSpecSchema } from '../data/spec.js';
import { ArchitectureOptionsSchema } from '../models/options.js';
import { OPTIMIZER_NAMES } from '../optimizer/optimizers.js';
import { parseOptions } from '../validation.js';

/** What a comparison spends per run: the fair budget when batch sizes differ is examples seen. */
export const BudgetSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('examples'), value: z.number().int().positive() }),
  z.strictObject({ kind: z.literal('steps'), value: z.number().int().positive() }),
  z.strictObject({ kind: z.literal('epochs'), value: z.number().int().positive() }),
  z.strictObject({ kind: z.literal('seconds'), value: z.number().positive() }),
]);
export type Budget = z.output<typeof BudgetSchema>;

export const ModelRefSchema = z.union([
  z.strictObject({ zoo: z.string().min(1), options: ArchitectureOptionsSchema.default({}) }),
  z.strictObject({ path: z.string().min(1) }),
]);
export type ModelRef = z.output<typeof ModelRefSchema>;

export const PolicyRefSchema = z.strictObject({ name: z.string().min(1), options: z.unknown().optional() });

export const RunSpecSchema = z.strictObject({
  /** Unique within a comparison, safe as a directory name: `cosine-s2`. */
  id: z.string().regex(/^[A-Za-z0-9._+-]+$/, { error: 'id may hold letters, digits, and . _ + - only' }),
  model: ModelRefSchema,
  data: DataSpecSchema,
  optimizer: z.enum(OPTIMIZER_NAMES as [string, ...string[]]),
  learningRate: z.number().positive().finite(),
  batchSize: z.number().int().positive(),
  loss: z.string().default('categoricalCrossentropy'),
  policy: PolicyRefSchema,
  /** Seeds the initial weights (zoo models) and the data order. */
  seed: z.number().int().nonnegative(),
  budget: BudgetSchema,
  /** Validation every this many steps as well as at each epoch's end (for time-to-target). */
  validateEvery: z.number().int().positive().optional(),
  /** The conditioned optimizer's metric options (groups, budget or every, eta…). */
  metrics: z.record(z.string(), z.unknown()).default({}),
  /** Stop when the loss is not finite or the network is dead (no gradient) for this many steps. */
  stopDeadAfter: z.number().int().positive().optional(),
});
export type RunSpec = z.output<typeof RunSpecSchema>;
export type RunSpecInput = z.input<typeof RunSpecSchema>;

export function parseRunSpec(raw: unknown): RunSpec {
  return parseOptions(RunSpecSchema, raw, 'run spec');
}
