/**
 * Per-example losses with tfjs-layers' semantics: `model.fit` minimises their batch mean.
 * Metrics need the per-example values (ℓ_i), so each loss here returns a `[b]` tensor.
 */
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';

/** (targets, predictions) → per-example loss, shape [b]. */
export type PerExampleLoss = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor1D;

const EPSILON = 1e-7; // tfjs-layers' backend epsilon()

const flatPerExample = (t: tf.Tensor): tf.Tensor1D => t.reshape([t.shape[0]]) as tf.Tensor1D;

export const LOSSES: Record<string, PerExampleLoss> = {
  categoricalCrossentropy: (y, p) => flatPerExample(tf.metrics.categoricalCrossentropy(y, p)),
  /** Integer class targets; like tfjs-layers: clip, one-hot, then categorical crossentropy. */
  sparseCategoricalCrossentropy: (y, p) =>
    tf.tidy(() => {
      const classes = p.shape[p.shape.length - 1];
      const target = tf.oneHot(tf.cast(tf.floor(y.flatten()), 'int32'), classes).reshape(p.shape);
      return flatPerExample(tf.metrics.categoricalCrossentropy(target, tf.clipByValue(p, EPSILON, 1 - EPSILON)));
    }),
  meanSquaredError: (y, p) =>
    tf.tidy(() => {
      const perUnit = tf.metrics.meanSquaredError(y, p); // mean over the last axis
      return perUnit.reshape([p.shape[0], -1]).mean(1) as tf.Tensor1D;
    }),
};

export const LOSS_NAMES = Object.keys(LOSSES);

export function perExampleLoss(name: string): PerExampleLoss {
  const loss = LOSSES[name];
  if (!loss) throw new UsageError(`unknown loss '${name}': choose one of ${LOSS_NAMES.join(', ')}`);
  return loss;
}

/** The batch loss `L = mean_i ℓ_i`, as `model.fit` computes it. */
export function batchLoss(loss: PerExampleLoss, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  return tf.tidy(() => loss(yTrue, yPred).mean() as tf.Scalar);
}
