/**
 * A `tf.data.Dataset` for `model.fitDataset` whose batch size is read from a getter before
 * every batch, so a batch-size policy can change it between steps — which `model.fit`'s fixed
 * `batchSize` cannot do.
 *
 * Data order is the trainer's: pass e visits `epochPermutation(size, seed, e)` in consecutive
 * batches, the last one of a pass possibly smaller (no example is dropped or carried over).
 * A pass claims its epoch number when it yields its first batch, so an iterator made and never
 * read (`fitDataset` makes one before its first epoch) does not skip an epoch.
 *
 * Tensors: each batch's `xs` and `ys` are the consumer's to dispose (`fitDataset` does).
 */
import { z } from 'zod';
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import { integer, optionLabel, parseOptions, positiveInt, show } from '../validation.js';
import { batchTensors, type Dataset } from './dataset.js';
import { epochPermutation } from './random.js';

/** What a batch-size policy publishes: the conditioned optimizer has this shape. */
export interface BatchSizeSource {
  /** Declares this data set as the reader of `batchSize`, starting from `start`. */
  bindBatchSource(start: number): void;
  readonly batchSize: number;
}

export interface DynamicBatchOptions {
  /**
   * Read before every batch; must return a positive integer. With `optimizer`, the number is the
   * batch size to start from and the optimizer's policy decides the rest.
   */
  batchSize: number | (() => number);
  /** A conditioned optimizer whose policy changes the batch size. */
  optimizer?: BatchSizeSource;
  /** Seeds the per-epoch shuffles (the same seed gives the trainer's order). */
  seed: number;
  /** Passes over the data per iterator (default 1: one epoch, what `fitDataset` expects). */
  epochs?: number;
}

export interface Batch extends tf.TensorContainerObject {
  /** Inputs, `[b, ...inputShape]`. */
  xs: tf.Tensor;
  /** One-hot targets, `[b, classes]`. */
  ys: tf.Tensor;
}

/**
 * The options, checked where they are given with the messages train() and the CLI give for the
 * same values ("batchSize (--batch-size) must be a positive integer, got 0").
 */
const DynamicBatchOptionsSchema = z
  .object({
    batchSize: z.custom<number | (() => number)>((v) => typeof v === 'function' || (typeof v === 'number' && Number.isInteger(v) && v > 0), {
      error: (i) => `${optionLabel('batchSize')} must be a positive integer${typeof i.input === 'number' ? '' : ' or a function returning one'}, got ${show(i.input)}`,
    }),
    optimizer: z
      .custom<BatchSizeSource>((v) => typeof v === 'object' && v !== null && typeof (v as BatchSizeSource).bindBatchSource === 'function', {
        error: (i) => `optimizer must be a conditioned optimizer (it has bindBatchSource), got ${show(i.input)}`,
      })
      .optional(),
    seed: integer('seed'),
    epochs: positiveInt('epochs').optional(),
  })
  .strict();

function batchSizeGetter(opts: DynamicBatchOptions): () => number {
  const { batchSize, optimizer } = opts;
  if (typeof batchSize === 'function') {
    if (optimizer) throw new UsageError('dynamicBatches: give the optimizer and a starting batch size, not a getter as well');
    return batchSize;
  }
  if (!optimizer) return () => batchSize;
  optimizer.bindBatchSource(batchSize);
  return () => optimizer.batchSize || batchSize;
}

/** The next batch size from a getter: a positive integer, or the same message as for the option. */
function nextSize(get: () => number): number {
  const b = get();
  if (!(Number.isInteger(b) && b > 0)) throw new UsageError(`dynamicBatches: batchSize() must return a positive integer, got ${show(b)}`);
  return b;
}

export function dynamicBatches(ds: Dataset, options: DynamicBatchOptions): tf.data.Dataset<Batch> {
  const opts = parseOptions(DynamicBatchOptionsSchema, options, 'dynamicBatches()', Object.keys(DynamicBatchOptionsSchema.shape)) as DynamicBatchOptions;
  const passes = opts.epochs ?? 1;
  if (ds.size === 0) throw new UsageError(`dynamicBatches: data set '${ds.name}' is empty`);
  const size = batchSizeGetter(opts);
  let epoch = 0;
  function* batches(): Generator<Batch> {
    for (let pass = 0; pass < passes; pass++) {
      const perm = epochPermutation(ds.size, opts.seed, epoch++);
      for (let pos = 0; pos < ds.size; ) {
        const b = Math.min(nextSize(size), ds.size - pos);
        const { x, y } = batchTensors(ds, perm.subarray(pos, pos + b));
        pos += b;
        yield { xs: x, ys: y };
      }
    }
  }
  return tf.data.generator(batches);
}
