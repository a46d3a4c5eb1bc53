/**
 * "After k training steps": some networks only show their character once training has moved
 * them off the initialisation (a looks-linear network is exactly linear until its first update).
 * `warmUp` takes k plain SGD steps, the cheapest and most comparable training there is, on
 * batches that follow the scoring batches in the same seeded order. `snapshot` lets a caller
 * that does not own the model put every weight back afterwards.
 */
import { tf } from '../backend/tf.js';
import { batchTensors, type Dataset } from '../data/dataset.js';
import { mulberry32, permutation } from '../data/random.js';
import { batchLoss, type PerExampleLoss } from '../engine/losses.js';

export interface WarmUpOptions {
  steps: number;
  learningRate: number;
  batchSize: number;
  loss: PerExampleLoss;
  /** The scoring batches' seed; warm-up batches start where they end (`skip` examples in). */
  seed: number;
  skip: number;
}

/** Takes `steps` SGD steps on `model` (training mode). Throws nothing for a non-finite loss: the metrics will say so. */
export function warmUp(model: tf.LayersModel, data: Dataset, opts: WarmUpOptions): void {
  const order = permutation(data.size, mulberry32(opts.seed));
  const optimizer = tf.train.sgd(opts.learningRate);
  try {
    for (let k = 0; k < opts.steps; k++) {
      const start = opts.skip + k * opts.batchSize;
      const indices = Int32Array.from({ length: opts.batchSize }, (_, t) => order[(start + t) % data.size]!);
      const { x, y } = batchTensors(data, indices);
      try {
        const cost = optimizer.minimize(() => batchLoss(opts.loss, y, model.apply(x, { training: true }) as tf.Tensor), false, model.trainableWeights.map((w) => w.read() as tf.Variable));
        cost?.dispose();
      } finally {
        tf.dispose([x, y]);
      }
    }
  } finally {
    optimizer.dispose();
  }
}

/** Copies of every weight of `model` (trainable or not); the returned function writes them back. */
export function snapshot(model: tf.LayersModel): () => void {
  const saved = model.weights.map((w) => w.read().clone());
  return () => {
    model.weights.forEach((w, i) => w.write(saved[i]!));
    tf.dispose(saved);
  };
}
