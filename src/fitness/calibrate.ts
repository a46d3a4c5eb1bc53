/**
 * Batch normalisation at initialisation. gradcond's metrics run in inference mode (per-example
 * gradients do not exist when batch statistics couple the examples), and at initialisation the
 * moving statistics are mean 0 and variance 1: inference mode would then see a batch-normalised
 * network as if it had no normalisation at all. So, before measuring, the moving statistics are
 * set to the statistics of the scoring batches, which is what the network's first training steps
 * normalise with; `restore` puts them back. (Recalibrating BN statistics on a few batches is the
 * usual practice when weights change outside training: Ioffe & Szegedy 2015, section 3.1, use
 * population statistics at inference; Izmailov et al. 2018, SWA, recompute them in one pass.)
 */
import { tf } from '../backend/tf.js';
import type { ScoringBatch } from './batches.js';

interface BatchNormLayer {
  momentum: number;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

function batchNormLayers(model: tf.LayersModel): BatchNormLayer[] {
  return model.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as BatchNormLayer[];
}

/**
 * Sets every BatchNormalization layer's moving mean and variance to those of `batches`
 * together (one training-mode forward pass with momentum 0), and returns a function that
 * restores the previous statistics bit for bit. A model without batch normalisation is untouched.
 */
export function calibrateBatchNorm(model: tf.LayersModel, batches: readonly ScoringBatch[]): () => void {
  const layers = batchNormLayers(model);
  if (layers.length === 0) return () => {};
  const saved = layers.map((l) => [l.movingMean.read().clone(), l.movingVariance.read().clone()] as const);
  const restore = () => {
    layers.forEach((l, i) => {
      l.movingMean.write(saved[i]![0]);
      l.movingVariance.write(saved[i]![1]);
    });
    tf.dispose(saved.flat());
  };
  const momenta = layers.map((l) => l.momentum);
  try {
    for (const l of layers) l.momentum = 0;
    tf.tidy(() => {
      model.apply(tf.concat(batches.map((b) => b.x)), { training: true });
    });
  } catch (err) {
    restore();
    throw err;
  } finally {
    layers.forEach((l, i) => (l.momentum = momenta[i]!));
  }
  return restore;
}
