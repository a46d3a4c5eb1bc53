/**
 * Synthetic data: Gaussian class clusters in image shape, generated from a seed — for tests and
 * benchmarks that need any size or shape instantly. Learnable but not trivial (clusters overlap).
 */
import { UsageError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { mulberry32, normalSampler } from './random.js';

/**
 * The most float32 values a generated data set may hold (2^28, 1 GiB): more is a typo (an
 * `examples` of 1e12), refused in one line before anything is allocated.
 */
export const MAX_SYNTHETIC_VALUES = 2 ** 28;

/** A UsageError when `size` examples of `d` values each exceed MAX_SYNTHETIC_VALUES. */
export function checkSyntheticSize(size: number, d: number, what = `${size} examples`): void {
  if (!(Number.isSafeInteger(size) && size >= 0) || !(Number.isSafeInteger(d) && d > 0)) {
    throw new UsageError(`synthetic data: ${what} of ${d} values each is not a data set size`);
  }
  if (size * d > MAX_SYNTHETIC_VALUES) {
    throw new UsageError(
      `synthetic data: ${what} of ${d} values each is ${(size * d).toPrecision(3)} numbers, more than the ${MAX_SYNTHETIC_VALUES.toLocaleString('en-US')} (1 GiB of float32) gradcond generates`,
    );
  }
}

export function syntheticClusters(
  { size = 2048, inputShape = [28, 28, 1], classes = 10, noise = 1.0, seed = 0 }: Partial<{ size: number; inputShape: number[]; classes: number; noise: number; seed: number }> = {},
): Dataset {
  const d = inputShape.reduce((a, b) => a * b, 1);
  checkSyntheticSize(size, d);
  const normal = normalSampler(mulberry32(seed));
  const centres = Float32Array.from({ length: classes * d }, () => 0.08 * normal());
  const x = new Float32Array(size * d);
  const labels = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let j = 0; j < d; j++) x[i * d + j] = centres[c * d + j] + noise * normal();
  }
  return { name: 'synthetic', inputShape, classes, x, labels, size };
}
