/**
 * The Gram matrix of the input gradients without the input gradients, where the model allows it.
 * When the first weighted layer is a Dense layer reading the input itself (through Flatten or
 * Reshape at most, and nothing else reads the input), z_i = x_i W + c, so g_i = W δ_i with δ_i its
 * output-gradient, which the per-example pass has anyway. Then
 *
 *   ⟨g_i, g_j⟩ = δ_i (WᵀW) δ_jᵀ,   G = (δ M) δᵀ with M = WᵀW (m × m),
 *
 * which costs n·m² + b·m² + b²·m multiply-adds instead of b·m·n (the backward product that forms
 * the g_i) + b²·n (their Gram matrix): on a 784 → 256 layer, about half at b = 1,024.
 */
import { tf } from '../backend/tf.js';
import { type ModelPlan, type PlanStep, symmetricFromTiles, takeRows } from './layers/index.js';
import type { Rows } from './layers/index.js';

/** What the factored form needs from one pass: δ of the first Dense layer and its kernel W. */
export interface InputGramFactor {
  /** δ_i, [b, m]; owned by the pass's block of that layer. */
  delta: tf.Tensor2D;
  /** W, [n, m], as it was at the pass; the pass owns it. */
  kernel: tf.Tensor2D;
}

/** Layers that only re-lay the input out: its Gram matrix is theirs. */
const RESHAPING = new Set(['Flatten', 'Reshape']);

/**
 * The index in `plan.steps` of a Dense layer whose input is the model's input (through Flatten or
 * Reshape at most) on rank-2 activations, with nothing else reading the input; otherwise null.
 */
export function inputDenseStep(plan: Extract<ModelPlan, { ok: true }>): number | null {
  const readers = new Map<number, number>();
  for (const s of plan.steps) for (const id of s.inputs) readers.set(id, (readers.get(id) ?? 0) + 1);
  let id = plan.input;
  for (let i = 0; i < plan.steps.length; i++) {
    const step: PlanStep = plan.steps[i]!;
    if (!step.inputs.includes(id)) continue;
    if (readers.get(id) !== 1 || step.inputs.length !== 1 || step.outputs.length !== 1) return null;
    const reshapes = step.kind === 'alias' || (step.kind === 'weightless' && RESHAPING.has(step.layer.getClassName()));
    if (reshapes) {
      id = step.outputs[0]!;
      continue;
    }
    const dense = step.kind === 'weighted' && step.layer.getClassName() === 'Dense' && step.bound.probeShapes[0]!.length === 1;
    return dense ? i : null;
  }
  return null;
}

/** Multiply-adds of the direct Gram matrix (with or without forming the g_i) and of the factored one. */
function costs(b: number, n: number, m: number): { backward: number; direct: number; factored: number } {
  return { backward: b * m * n, direct: b * b * n, factored: n * m * m + b * m * m + b * b * m };
}

/** The factored form is cheaper than forming the g_i and their Gram matrix. */
export function factoredSavesInputGradients(b: number, kernelShape: readonly number[]): boolean {
  const [n, m] = kernelShape as [number, number];
  const c = costs(b, n, m);
  return c.factored < c.backward + c.direct;
}

/** The factored form is cheaper than the Gram matrix of g_i already formed. */
export function factoredBeatsDirect(b: number, kernelShape: readonly number[]): boolean {
  const [n, m] = kernelShape as [number, number];
  const c = costs(b, n, m);
  return c.factored < c.direct;
}

/** G = (δ M) δᵀ, [b, b], exactly symmetric, tiled as the engine's other Gram matrices are. */
export function factoredInputGram({ delta, kernel }: InputGramFactor, tileRows: number): tf.Tensor2D {
  return tf.tidy(() => {
    const p = tf.matMul(delta, tf.matMul(kernel, kernel, true, false)) as tf.Tensor2D; // δ (WᵀW)
    const g = symmetricFromTiles(delta.shape[0], (r: Rows, c: Rows) => tf.matMul(takeRows(p, r), takeRows(delta, c), false, true) as tf.Tensor2D, tileRows);
    return g.add(g.transpose()).mul(0.5) as tf.Tensor2D; // one tile (b ≤ tileRows) is symmetric only up to round-off
  });
}

/** One `size × size` Gram matrix per sub-batch, in the factored form. */
export function factoredSubsetInputGrams({ delta, kernel }: InputGramFactor, subsets: readonly Int32Array[]): tf.Tensor2D[] {
  return tf.tidy(() => {
    const p = tf.matMul(delta, tf.matMul(kernel, kernel, true, false)) as tf.Tensor2D;
    return subsets.map((s) => tf.tidy(() => {
      const g = tf.matMul(takeRows(p, s), takeRows(delta, s), false, true);
      return g.add(g.transpose()).mul(0.5) as tf.Tensor2D;
    }));
  });
}
