/** The `multiBatch` group: the Gram matrix of the batch gradients of n batches, in float64. */
import type { MultiBatchSamples } from '../../metrics/batchDissonance.js';
import { gramFromVectors } from '../../metrics/gram.js';
import { batchGradient } from '../batchGradient.js';
import type { SharedWork } from './shared.js';

export function sampleMultiBatch(w: SharedWork): MultiBatchSamples {
  const { model, loss, training } = w.ctx;
  const vectors = w.batches().map(({ x, y }) => {
    const { grad } = batchGradient(model, loss, x, y, training);
    const v = w.host(grad);
    grad.dispose();
    return v;
  });
  return { gram: gramFromVectors(vectors) };
}
