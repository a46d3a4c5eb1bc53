/**
 * Synthetic data: Gaussian class clusters in image shape, generated from a seed — for tests and
 * benchmarks that need any size or shape instantly. Learnable but not trivial (clusters overlap).
 */
import type { Dataset } from './dataset.js';
import { mulberry32, normalSampler } from './random.js';

export function syntheticClusters(
  { size = 2048, inputShape = [28, 28, 1], classes = 10, noise = 1.0, seed = 0 }: Partial<{ size: number; inputShape: number[]; classes: number; noise: number; seed: number }> = {},
): Dataset {
  const d = inputShape.reduce((a, b) => a * b, 1);
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
