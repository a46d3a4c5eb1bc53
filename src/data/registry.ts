/**
 * The data sets a run can name, loaded by name: what the CLI's `--data` and a run spec refer to.
 */
import { take, type Dataset } from './dataset.js';
import { fashionMnistAvailable, loadFashionMnist } from './fashionMnist.js';
import { syntheticClusters } from './synthetic.js';
import { UsageError } from '../errors.js';

/** `examples` training and `validation` held-out examples of the named data set. */
export function loadData(name: string, examples: number, seed: number, validation = 0): { train: Dataset; validation: Dataset | undefined } {
  if (name === 'synthetic') {
    // One draw (same cluster centres) split in two.
    const all = syntheticClusters({ size: examples + validation, seed });
    return { train: take(all, examples), validation: validation > 0 ? take(all, validation, examples) : undefined };
  }
  if (name === 'fashion-mnist') {
    if (!fashionMnistAvailable()) throw new UsageError('fashion-mnist not found: apt-get install dataset-fashion-mnist');
    return { train: take(loadFashionMnist('train'), examples), validation: validation > 0 ? take(loadFashionMnist('t10k'), validation) : undefined };
  }
  throw new UsageError(`unknown data '${name}': choose synthetic or fashion-mnist`);
}

