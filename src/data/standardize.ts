/**
 * Per-feature standardisation, x' = (x − mean) / std, with the mean and the population
 * standard deviation (÷n) of the training split only, so validation and test examples never
 * inform the transform they are scored under. A constant feature (std 0) is centred only.
 * Sums in float64.
 */
import { exampleSize, type Dataset } from './dataset.js';

export interface Standardization {
  mean: Float64Array;
  std: Float64Array;
  /** How many features were constant in the training split (centred, not scaled). */
  constant: number;
}

export function fitStandardization(train: Dataset): Standardization {
  const d = exampleSize(train);
  const n = train.size;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += train.x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const r = train.x[i * d + j] - mean[j];
      std[j] += r * r;
    }
  }
  let constant = 0;
  for (let j = 0; j < d; j++) {
    std[j] = Math.sqrt(std[j] / n);
    if (std[j] === 0) constant++;
  }
  return { mean, std, constant };
}

/** A standardised copy of `ds`. */
export function applyStandardization(ds: Dataset, s: Standardization): Dataset {
  const d = exampleSize(ds);
  const x = new Float32Array(ds.x.length);
  for (let i = 0; i < ds.size; i++) {
    for (let j = 0; j < d; j++) {
      const c = ds.x[i * d + j] - s.mean[j];
      x[i * d + j] = s.std[j] > 0 ? c / s.std[j] : c;
    }
  }
  return { ...ds, x };
}
