/**
 * Sees the examples of the batch that `model.fit` is training on. `fit` hands the optimizer only
 * a loss closure; the closure calls the model's compiled loss with the batch targets and the
 * model's first layer with the batch inputs. Wrapping those two (instance-level, reversibly)
 * captures (x, y) for the duration of the step, without re-running the closure (which would
 * leak compiled metrics and re-sample dropout).
 */
import { tf } from '../backend/tf.js';

type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

interface Compiled {
  lossFunctions?: LossFn[];
  model?: tf.LayersModel; // a Sequential's inner functional model
}

export interface CapturedBatch {
  x: tf.Tensor;
  y: tf.Tensor;
}

export class BatchCapture {
  private x: tf.Tensor | null = null;
  private y: tf.Tensor | null = null;
  private undo: (() => void)[] = [];

  constructor(readonly model: tf.LayersModel) {}

  /** Installs the hooks once the model is compiled; false while it is not. */
  install(): boolean {
    if (this.undo.length) return true;
    const owner = this.compiledOwner();
    if (!owner?.lossFunctions?.length) return false;
    const losses = owner.lossFunctions;
    const original = losses[0];
    losses[0] = (yTrue, yPred) => {
      this.y = yTrue;
      return original(yTrue, yPred);
    };
    this.undo.push(() => void (losses[0] = original));
    for (const layer of this.inputConsumers()) {
      const l = layer as unknown as { call: (inputs: tf.Tensor | tf.Tensor[], kwargs: object) => tf.Tensor | tf.Tensor[] };
      const call = l.call;
      l.call = (inputs, kwargs) => {
        this.x = Array.isArray(inputs) ? inputs[0] : inputs;
        return call.call(layer, inputs, kwargs);
      };
      this.undo.push(() => void (l.call = call));
    }
    return true;
  }

  /** The batch of the step in progress, if both halves were seen. */
  take(): CapturedBatch | null {
    const out = this.x && this.y && !this.x.isDisposed && !this.y.isDisposed ? { x: this.x, y: this.y } : null;
    this.x = this.y = null;
    return out;
  }

  /** For loops that call `minimize` themselves: the batch of the next step. */
  set(batch: CapturedBatch): void {
    this.x = batch.x;
    this.y = batch.y;
  }

  uninstall(): void {
    for (const u of this.undo.reverse()) u();
    this.undo = [];
  }

  private compiledOwner(): Compiled | undefined {
    const m = this.model as unknown as Compiled;
    return m.lossFunctions ? m : m.model ? (m.model as unknown as Compiled) : undefined;
  }

  /** Layers fed directly by the model's first input. */
  private inputConsumers(): tf.layers.Layer[] {
    const input = this.model.inputs[0];
    return this.model.layers.filter((layer) =>
      layer.getClassName() !== 'InputLayer' &&
      layer.inboundNodes.some((node) => node.inputTensors.some((t) => t.id === input.id)),
    );
  }
}
