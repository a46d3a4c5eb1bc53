/**
 * Checks a run passes before it opens its run directory, so that a run that cannot start fails
 * in one line with nothing written: the data sets are well formed, the model fits them (one
 * input of the data's shape, one output per class), and one forward and backward pass on one
 * example runs on this backend — a kernel the backend lacks (wasm has no `UnsortedSegmentSum`,
 * the gradient of an Embedding's gather) would otherwise surface at the first step, after the
 * manifest and the start of the trace were written.
 */
import { tf } from '../backend/tf.js';
import { batchTensors, exampleSize, type Dataset } from '../data/dataset.js';
import { batchLoss, perExampleLoss } from '../engine/losses.js';
import { UsageError } from '../errors.js';

const shapeText = (shape: readonly (number | null)[]) => `[${shape.map((d) => d ?? '?').join(', ')}]`;

/** Why `ds` is not a usable data set, or null. Labels are checked one by one (O(size)). */
function datasetProblem(ds: unknown): string | null {
  if (typeof ds !== 'object' || ds === null) return `is not a data set (got ${ds === null ? 'null' : typeof ds})`;
  const d = ds as Partial<Dataset>;
  if (!Array.isArray(d.inputShape) || d.inputShape.length === 0 || !d.inputShape.every((n) => Number.isInteger(n) && n > 0)) {
    return 'has no inputShape (a list of positive integers)';
  }
  if (!(Number.isInteger(d.classes) && d.classes! >= 2)) return `has ${String(d.classes)} classes; classification needs an integer of at least 2`;
  if (!(Number.isInteger(d.size) && d.size! >= 1)) return `has ${String(d.size)} examples; it needs at least 1`;
  if (!(d.x instanceof Float32Array) || d.x.length !== d.size! * exampleSize(d as Dataset)) {
    return `x must be a Float32Array of size × ${exampleSize(d as Dataset)} = ${d.size! * exampleSize(d as Dataset)} values, got ${d.x instanceof Float32Array ? d.x.length : typeof d.x}`;
  }
  if (!d.labels || d.labels.length !== d.size) return `labels must hold one class index per example (${d.size}), got ${d.labels?.length ?? 'none'}`;
  for (let i = 0; i < d.size!; i++) {
    const c = d.labels[i]!;
    if (!(Number.isInteger(c) && c >= 0 && c < d.classes!)) return `label ${c} of example ${i} is not a class index in 0..${d.classes! - 1}`;
  }
  return null;
}

/** A UsageError naming `what` ('data', 'validation') when it is not a usable data set. */
export function checkDataset(ds: unknown, what: string): void {
  const problem = datasetProblem(ds);
  if (problem !== null) throw new UsageError(`${what} ${problem}`);
}

/** A UsageError when `model` cannot train on `data`: inputs, input shape, outputs per class. */
export function checkModelFits(model: tf.LayersModel, data: Dataset, what = 'data'): void {
  if (model.inputs.length !== 1) {
    throw new UsageError(`gradcond trains models with one input; this one has ${model.inputs.length}: ${model.inputs.map((t) => `'${t.name}'`).join(', ')}`);
  }
  if (model.outputs.length !== 1) {
    throw new UsageError(`gradcond trains models with one output; this one has ${model.outputs.length}: ${model.outputs.map((t) => `'${t.name}'`).join(', ')}`);
  }
  const input = model.inputs[0]!.shape.slice(1);
  if (input.length !== data.inputShape.length || input.some((d, k) => d !== null && d !== data.inputShape[k])) {
    throw new UsageError(`the model's input ${shapeText(input)} does not fit the ${what}'s examples ${shapeText(data.inputShape)}`);
  }
  if (model.trainableWeights.length === 0) throw new UsageError('the model has no trainable weights');
  const output = model.outputs[0]!.shape.slice(1);
  if (output.length !== 1 || (output[0] !== null && output[0] !== data.classes)) {
    throw new UsageError(`the model's output ${shapeText(output)} does not fit the ${what}'s ${data.classes} classes (one output per class)`);
  }
}

/** tfjs' message for a kernel a backend lacks (the CLI names the backend to use instead). */
const MISSING_KERNEL = /Kernel '\w+' not registered for backend/;

/**
 * One forward and backward pass on the first example, in inference mode (no batch-norm
 * statistics move, no dropout draws: the model is left exactly as it was), computing gradients
 * of the weights without applying them. A kernel the backend lacks is rethrown as it is; any
 * other failure means the model cannot run on this data (an Embedding fed negative values, say)
 * and is a UsageError saying so.
 */
export function preflightStep(model: tf.LayersModel, data: Dataset, lossName: string): void {
  const loss = perExampleLoss(lossName);
  const { x, y } = batchTensors(data, [0]);
  try {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => batchLoss(loss, y, model.apply(x, { training: false }) as tf.Tensor), vars);
      void value;
      void grads; // tidy disposes them
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof UsageError || MISSING_KERNEL.test(message)) throw err;
    throw new UsageError(`the model fails on the first example of the ${data.name} data (${message.split('\n')[0]}): check that the data suits the model`);
  } finally {
    tf.dispose([x, y]);
  }
}
