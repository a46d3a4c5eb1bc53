/**
 * The stated approximation for batches too large for an exact b × b Gram matrix: the two
 * Gram-based groups (`perExample`, `inputGradient`) on ⌊b / size⌋ disjoint random sub-batches of
 * `size` examples, one `size × size` Gram matrix each (cost b·size instead of b²). Each metric is
 * then the mean over sub-batches, with the standard error of that mean; it estimates the metric
 * *at batch size `size`* (stable ranks, coherence and the noise scale depend on the batch size).
 * Only on request (`MeasureOptions.gramSubset`), never a default.
 */
import type { SampleOf } from '../../metrics/registry.js';
import { tf } from '../../backend/tf.js';
import { toGram } from '../hostMath.js';
import { parameterCount } from '../params.js';
import { subsetGrams, subsetInputGrams } from '../perExample.js';
import type { SharedWork } from './shared.js';

/** The groups the approximation applies to. */
export type SubsetGroup = 'perExample' | 'inputGradient';

/** Each group's samples, one per sub-batch. */
export const SUBSET_SAMPLERS: { readonly [G in SubsetGroup]: (w: SharedWork, subsets: readonly Int32Array[]) => SampleOf[G][] } = {
  perExample(w, subsets) {
    const pass = w.pass();
    const dim = w.ctx.mask ? w.ctx.mask.indices.length : parameterCount(w.ctx.model);
    return readGrams(subsetGrams(pass, subsets, w.ctx.mask)).map((gram) => ({ gram, dim }));
  },
  inputGradient(w, subsets) {
    const pass = w.pass();
    const dim = w.x.size / w.b;
    return readGrams(subsetInputGrams(pass, subsets)).map((gram) => ({ gram, dim }));
  },
};

export function isSubsetGroup(group: string): group is SubsetGroup {
  return Object.hasOwn(SUBSET_SAMPLERS, group);
}

function readGrams(grams: tf.Tensor2D[]) {
  return grams.map((g) => {
    const gram = toGram(g.shape[0], g.dataSync());
    g.dispose();
    return gram;
  });
}
