/**
 * The options every zoo architecture takes, as types and as a zod schema, so that a run spec
 * (plain JSON) and the CLI validate a model the same way and every mistake is one line.
 */
import { z } from 'zod';
import { bool, integer, oneOf, positiveInt } from '../validation.js';

/**
 * Hidden-layer activations. `crelu` is the concatenated ReLU `[relu(x), relu(−x)]`, which
 * doubles the channels it is applied to; `linear` gives a linear network.
 */
export const ACTIVATIONS = ['relu', 'crelu', 'tanh', 'elu', 'selu', 'linear'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** Deeper or wider than this is refused: a typo, not a network that fits in memory here. */
export const MAX_DEPTH = 1000;
export const MAX_WIDTH = 8192;

const bounded = (name: string, max: number) =>
  positiveInt(name).refine((v) => v <= max, { error: `${name} must be at most ${max}` });

/** What shapes a network beyond its data: a run spec's `model` section minus the name. */
export const ArchitectureOptionsSchema = z.strictObject({
  /** Hidden layers (fully connected), conv blocks or residual blocks: see each architecture. */
  depth: bounded('depth', MAX_DEPTH).optional(),
  /** Units per hidden layer, or base filters of a convolutional network. */
  width: bounded('width', MAX_WIDTH).optional(),
  /** Seeds every initialiser: the same seed builds the same weights. */
  seed: integer('seed').optional(),
  /** Batch normalisation after every hidden dense or conv layer, before its activation. */
  batchNorm: bool('batchNorm').optional(),
  activation: oneOf('activation', ACTIVATIONS).optional(),
});

/** The options of `buildModel`: the data's shape plus the architecture's options. */
export const ModelOptionsSchema = ArchitectureOptionsSchema.extend({
  /** One example's shape, without the batch axis: `[28, 28, 1]` for Fashion-MNIST, `[d]` for flat data. */
  inputShape: z.array(positiveInt('inputShape')).min(1, { error: 'inputShape must have at least one dimension' }),
  classes: positiveInt('classes').refine((v) => v >= 2, { error: 'classes must be at least 2' }),
});

export type ArchitectureOptions = z.output<typeof ArchitectureOptionsSchema>;
export type ModelOptions = z.output<typeof ModelOptionsSchema>;

/** Options with every default filled in: what an architecture's builder receives. */
export interface ResolvedOptions {
  inputShape: number[];
  classes: number;
  depth: number;
  width: number;
  seed: number;
  batchNorm: boolean;
  activation: Activation;
}
