/**
 * Named model builders: the benchmark's reference models and the CLI's defaults. Every model is
 * a plain `tf.LayersModel`, so it saves and loads in the standard format.
 */
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';

export interface ModelSpec {
  /** Input shape of one example, without the batch axis. */
  inputShape: number[];
  classes: number;
  seed?: number;
}

/** 784-256-256-10 relu MLP on flattened 28×28 inputs (the benchmark's MLP). */
export function mlp({ inputShape, classes, seed = 0 }: ModelSpec, hidden = [256, 256]): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.flatten({ inputShape }));
  hidden.forEach((units, i) =>
    model.add(tf.layers.dense({ units, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + i }) })),
  );
  model.add(tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 99 }) }));
  return model;
}

/** conv 3×3×16 → conv 3×3×32 → dense 10 (the benchmark's small CNN). */
export function cnn({ inputShape, classes, seed = 0 }: ModelSpec): tf.Sequential {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape, filters: 16, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
}

export const MODELS = { mlp, cnn } as const;
export type ModelName = keyof typeof MODELS;

export function buildModel(name: string, spec: ModelSpec): tf.Sequential {
  const build = (MODELS as Record<string, (s: ModelSpec) => tf.Sequential>)[name];
  if (!build) throw new UsageError(`unknown model '${name}': choose one of ${Object.keys(MODELS).join(', ')}`);
  return build(spec);
}
