/**
 * The work that several metric groups of one batch share, each piece computed at most once and
 * only when a group asks for it: the batched per-example pass, the batch gradient at the current
 * weights, the sub-batches. measureBatch makes one per batch and disposes it.
 */
import { tf } from '../../backend/tf.js';
import { UnsupportedError } from '../../errors.js';
import { batchGradient, type BatchGradient } from '../batchGradient.js';
import { readback } from '../hostMath.js';
import { applyMask } from '../mask.js';
import { type PerExamplePass, type SubsetOptions, disposePass, inputGramNeedsInputGradients, perExamplePass } from '../perExample.js';
import type { EngineContext, WeightSamplingOptions } from '../context.js';
import type { Requirement } from '../../metrics/registry.js';

/** What the optimizer knows about the step it just took (the `previousStep` requirement). */
export interface StepContext {
  /** h̄_t = h̄(θ_t, χ_t) per trainable variable, as the step computed it. */
  grads: tf.Tensor[];
  /** Δ_t = θ_{t+1} − θ_t per trainable variable. */
  update: tf.Tensor[];
  /** L(θ_t, χ_t) as the step computed it. */
  loss: number;
  /**
   * True when the step's gradient and loss are what the engine would compute at θ_t (inference
   * mode, no regularisers, the engine's loss): then they are reused; else recomputed at θ_t.
   */
  reusable: boolean;
}

export interface MeasureOptions {
  weightSampling: WeightSamplingOptions;
  /** kappaX uses the first min(b, n) examples' input-gradient directions, both signs. */
  inputDirections: number;
  /** Other batches for the multiBatch group (the measured batch is the first). */
  otherBatches?: { x: tf.Tensor; y: tf.Tensor }[];
  /** Without `otherBatches`, the batch is split into this many sub-batches (default 4). */
  subBatches?: number;
  /** The optimizer step that led to the current weights (for the `update` group). */
  step?: StepContext;
  /**
   * The stated approximation for large batches: the per-example and input-gradient groups on
   * disjoint random sub-batches of `size` examples (batches of more than `size` only), each
   * metric the mean over them, with its standard error (engine/groups/gramSubsets.ts).
   */
  gramSubset?: SubsetOptions;
}

export class SharedWork {
  private passMemo: PerExamplePass | UnsupportedError | null = null;
  private gradMemo: BatchGradient | null = null;
  private parts: { x: tf.Tensor; y: tf.Tensor }[] | null = null;

  constructor(
    readonly ctx: EngineContext,
    readonly x: tf.Tensor,
    readonly y: tf.Tensor,
    readonly opts: MeasureOptions,
    /** The union of the requested groups' needs; without it every shared piece is made in full. */
    readonly needs: ReadonlySet<Requirement> | null = null,
  ) {}

  get b(): number {
    return this.x.shape[0];
  }

  /** The batched per-example pass; throws an UnsupportedError (every time) when there is none. */
  pass(): PerExamplePass {
    if (this.passMemo === null) {
      try {
        const needs = this.needs;
        const inputGradients = needs === null || needs.has('inputGradients') ||
          (needs.has('inputGradientGram') && inputGramNeedsInputGradients(this.ctx.model, this.b));
        this.passMemo = perExamplePass(this.ctx.model, this.ctx.loss, this.x, this.y, { training: this.ctx.training, inputGradients });
      } catch (err) {
        if (!(err instanceof UnsupportedError)) throw err;
        this.passMemo = err;
      }
    }
    if (this.passMemo instanceof UnsupportedError) throw this.passMemo;
    return this.passMemo;
  }

  /** Whether the per-example pass was computed (for reporting which path it took). */
  get passTaken(): PerExamplePass | null {
    return this.passMemo instanceof UnsupportedError ? null : this.passMemo;
  }

  /** h̄ and the loss at the current weights on the batch (unmasked, flat). */
  batchGradient(): BatchGradient {
    this.gradMemo ??= batchGradient(this.ctx.model, this.ctx.loss, this.x, this.y, this.ctx.training);
    return this.gradMemo;
  }

  /** The batches of the multiBatch group: this batch and the others given, or its sub-batches. */
  batches(): { x: tf.Tensor; y: tf.Tensor }[] {
    if (this.opts.otherBatches) return [{ x: this.x, y: this.y }, ...this.opts.otherBatches];
    if (this.parts === null) {
      const k = Math.min(this.opts.subBatches ?? 4, this.b);
      if (k < 2) throw new UnsupportedError(`confusion and diversity need at least 2 sub-batches; the batch has ${this.b} example(s)`);
      const size = Math.floor(this.b / k);
      this.parts = Array.from({ length: k }, (_, i) => ({ x: this.x.slice(i * size, size), y: this.y.slice(i * size, size) }));
    }
    return this.parts;
  }

  /** A parameter-space vector on the host, masked. */
  host(v: tf.Tensor1D): Float32Array {
    return readback(() => applyMask(this.ctx.mask, v));
  }

  dispose(): void {
    if (this.passMemo !== null && !(this.passMemo instanceof UnsupportedError)) disposePass(this.passMemo);
    if (this.gradMemo) this.gradMemo.grad.dispose();
    if (this.parts) tf.dispose(this.parts.flatMap((p) => [p.x, p.y]));
    this.passMemo = this.gradMemo = this.parts = null;
  }
}
