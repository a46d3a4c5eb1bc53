/**
 * The batches a candidate is scored on. Every candidate of a search sees the same batches (same
 * examples, same order), so that differences in score come from the architectures alone.
 */
import { tf } from '../backend/tf.js';
import { batchTensors, type Dataset } from '../data/dataset.js';
import { mulberry32, permutation } from '../data/random.js';
import { UsageError } from '../errors.js';

export interface ScoringBatch {
  /** Inputs `[b, ...inputShape]`, float32. */
  x: tf.Tensor;
  /** One-hot targets `[b, classes]`. */
  y: tf.Tensor;
}

/**
 * `count` disjoint batches of `size` examples from `data`, in a seeded order. At least two:
 * confusion and diversity compare batches. The caller disposes them (`disposeBatches`).
 */
export function drawBatches(data: Dataset, size: number, count: number, seed: number): ScoringBatch[] {
  if (!(Number.isInteger(size) && size >= 2)) throw new UsageError(`batchSize must be an integer ≥ 2, got ${size}`);
  if (!(Number.isInteger(count) && count >= 2)) throw new UsageError(`batches must be an integer ≥ 2 (confusion and diversity compare batches), got ${count}`);
  if (size * count > data.size) throw new UsageError(`${count} batches of ${size} need ${size * count} examples; the data has ${data.size}`);
  const order = permutation(data.size, mulberry32(seed));
  return Array.from({ length: count }, (_, k) => batchTensors(data, order.subarray(k * size, (k + 1) * size)));
}

export function disposeBatches(batches: readonly ScoringBatch[]): void {
  tf.dispose(batches.flatMap((b) => [b.x, b.y]));
}
