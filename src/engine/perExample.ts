/**
 * Per-example weight gradients h_i and input gradients g_i from ONE batched forward/backward
 * pass. The pass runs the model's graph call by call (chains, residual and branching graphs,
 * nested models) and differentiates Σ_i ℓ_i with respect to the input and to a zero "probe" added
 * to each weighted layer's linear output, which gives every example's output-gradient δ_i
 * (examples do not interact in inference mode). Each weighted layer kind has a rule (layers/*.ts)
 * that turns its inputs and δ into a block of h_i's columns: factored for Dense (the Gram matrix
 * never forms h_i), materialised on first use for convolutions and BatchNormalization. Models
 * with a weighted layer no rule covers, or a layer called twice, fall back to an exact loop of b
 * single-example passes; the pass says which path it took and why.
 */
import { tf } from '../backend/tf.js';
import { mulberry32 } from '../data/random.js';
import { UnsupportedError, UsageError } from '../errors.js';
import {
  GRAM_TILE_ROWS,
  type LayerBlock,
  type ModelPlan,
  type PlanStep,
  batchCoupledLayers,
  materializedBlock,
  planModel,
  symmetricFromTiles,
  takeRows,
} from './layers/index.js';
import { type InputGramFactor, factoredBeatsDirect, factoredInputGram, factoredSavesInputGradients, factoredSubsetInputGrams, inputDenseStep } from './inputGram.js';
import type { PerExampleLoss } from './losses.js';
import { type Mask, applyMask } from './mask.js';
import { trainableVariables } from './params.js';

export type { LayerBlock, Rows } from './layers/index.js';

export interface PerExamplePass {
  path: 'batched' | 'loop';
  /** Why the exact loop was used. */
  reason?: string;
  b: number;
  /** ℓ_i, shape [b]. */
  losses: tf.Tensor1D;
  /** g_i, shape of the input batch; null when the pass was asked not to compute them. */
  inputGrads: tf.Tensor | null;
  /** When the first weighted layer is a Dense layer on the input: its δ and W (inputGram.ts). */
  inputFactor: InputGramFactor | null;
  /** In `model.trainableWeights` order; together they lay out h_i as θ is laid out. */
  blocks: LayerBlock[];
}

export interface PassOptions {
  /** Layers in training mode (dropout on); metrics default to inference mode. */
  training?: boolean;
  /** Use the exact per-example loop even where the batched pass applies (tests, bench). */
  forceLoop?: boolean;
  /**
   * Also differentiate with respect to the input (default true). Without it the batched pass
   * skips the backward product through the first layer, which h_i never need (on the bench
   * MLP, 784 × 256 multiply-adds per example: a quarter of a training step).
   */
  inputGradients?: boolean;
}

export function disposePass(pass: PerExamplePass): void {
  tf.dispose([pass.losses, ...(pass.inputGrads ? [pass.inputGrads] : []), ...(pass.inputFactor ? [pass.inputFactor.kernel] : [])]);
  for (const blk of pass.blocks) blk.dispose();
}

type WeightedStep = Extract<PlanStep, { kind: 'weighted' }>;
type ReadyPlan = Extract<ModelPlan, { ok: true }>;

/** Runs the plan's calls in order with the probes added; returns the loss and what rules saved. */
function forwardWithProbes(plan: ReadyPlan, probes: tf.Tensor[][], x: tf.Tensor, training: boolean, saved: tf.Tensor[][]): tf.Tensor {
  const values = new Map<number, tf.Tensor>([[plan.input, x]]);
  let k = 0;
  for (const step of plan.steps) {
    const ins = step.inputs.map((id) => values.get(id)!);
    let outs: tf.Tensor[];
    if (step.kind === 'alias') {
      outs = ins;
    } else if (step.kind === 'weighted') {
      const { output, saved: s } = step.bound.forward(ins[0]!, probes[k++]!);
      saved.push(s.map((t) => tf.keep(t)));
      outs = [output];
    } else {
      const r = step.layer.apply(ins.length === 1 ? ins[0]! : ins, { training }) as tf.Tensor | tf.Tensor[];
      outs = Array.isArray(r) ? r : [r];
    }
    step.outputs.forEach((id, i) => values.set(id, outs[i]!));
  }
  return values.get(plan.output)!;
}

function batchedPass(plan: ReadyPlan, loss: PerExampleLoss, x: tf.Tensor, y: tf.Tensor, training: boolean, withInput: boolean): PerExamplePass {
  const b = x.shape[0];
  const weighted = plan.steps.filter((s): s is WeightedStep => s.kind === 'weighted');
  const probes = weighted.map((s) => s.bound.probeShapes.map((shape) => tf.zeros([b, ...shape])));
  const saved: tf.Tensor[][] = []; // kept out of the gradient tape's tidy
  let losses: tf.Tensor1D | null = null;
  const xv = x.clone();
  withInput ||= probes.flat().length === 0; // something to differentiate with respect to
  let result: { value: tf.Scalar; grads: tf.Tensor[] };
  try {
    result = tf.engine().gradients(() => {
      losses = tf.keep(loss(y, forwardWithProbes(plan, probes, xv, training, saved)));
      return losses.sum() as tf.Scalar;
    }, [...(withInput ? [xv] : []), ...probes.flat()]);
  } catch (err) {
    tf.dispose([xv, ...probes.flat(), ...saved.flat(), ...(losses ? [losses] : [])]);
    throw err;
  }
  const { value, grads } = result;
  const inputGrads = withInput ? grads[0]! : null;
  const deltas = withInput ? grads.slice(1) : grads;
  let offset = 0;
  const byStep = new Map<PlanStep, LayerBlock>();
  const factorStep = inputDenseStep(plan);
  let inputFactor: InputGramFactor | null = null;
  weighted.forEach((s, k) => {
    const n = probes[k]!.length;
    byStep.set(s, s.bound.block(saved[k]!, deltas.slice(offset, offset + n)));
    if (factorStep !== null && plan.steps[factorStep] === s) {
      // A clone shares the variable's data now and keeps it if the variable is later assigned.
      inputFactor = { delta: deltas[offset] as tf.Tensor2D, kernel: s.bound.variables[0]!.read().clone() as tf.Tensor2D };
    }
    offset += n;
  });
  tf.dispose([value, ...probes.flat()]);
  if (!saved.some((s) => s.includes(xv))) xv.dispose(); // else a block owns it
  const blocks = plan.blockOrder.map((i) => byStep.get(plan.steps[i]!)!);
  return { path: 'batched', b, losses: losses!, inputGrads, inputFactor, blocks };
}

/** The exact reference: one forward/backward pass per example. */
function loopPass(model: tf.LayersModel, loss: PerExampleLoss, x: tf.Tensor, y: tf.Tensor, training: boolean, reason: string): PerExamplePass {
  const b = x.shape[0];
  const vars = trainableVariables(model);
  const rows: tf.Tensor1D[] = [];
  const gs: tf.Tensor[] = [];
  const ls: tf.Tensor[] = [];
  for (let i = 0; i < b; i++) {
    tf.tidy(() => {
      const xi = x.slice(i, 1);
      const yi = y.slice(i, 1);
      const { value, grads } = tf.engine().gradients(() => loss(yi, model.apply(xi, { training }) as tf.Tensor).sum() as tf.Scalar, [xi, ...vars]);
      const [g, ...w] = grads;
      gs.push(tf.keep(g!));
      ls.push(tf.keep(value.reshape([1])));
      rows.push(tf.keep((w.length ? tf.concat(w.map((t) => t.reshape([-1])), 0) : tf.zeros([0])) as tf.Tensor1D));
    });
  }
  const h = tf.stack(rows, 0) as tf.Tensor2D;
  const out: PerExamplePass = {
    path: 'loop', reason, b,
    losses: tf.concat(ls, 0) as tf.Tensor1D,
    inputGrads: tf.concat(gs, 0),
    inputFactor: null,
    blocks: [materializedBlock({ kind: 'loop', layer: '', b, size: h.shape[1], make: () => h.clone(), owned: [h] })],
  };
  tf.dispose([...rows, ...gs, ...ls]);
  return out;
}

/** The plan of a model, remembered while its graph, trainable weights and backend stay the same. */
const plans = new WeakMap<tf.LayersModel, { output: number; backend: string; weights: tf.LayerVariable[]; plan: ModelPlan }>();

function cachedPlan(model: tf.LayersModel): ModelPlan {
  const hit = plans.get(model);
  const weights = model.trainableWeights;
  const output = model.outputs[0]!.id;
  const backend = tf.getBackend();
  const same = hit && hit.output === output && hit.backend === backend && hit.weights.length === weights.length && hit.weights.every((w, i) => w === weights[i]);
  if (same) return hit.plan;
  const plan = planModel(model);
  plans.set(model, { output, backend, weights, plan });
  return plan;
}

/** Per-example gradients of one batch, by the fastest exact path the model allows. */
export function perExamplePass(model: tf.LayersModel, loss: PerExampleLoss, x: tf.Tensor, y: tf.Tensor, opts: PassOptions = {}): PerExamplePass {
  const training = opts.training ?? false;
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new UnsupportedError(`per-example gradients need a model with one input and one output (${model.name} has ${model.inputs.length} and ${model.outputs.length})`);
  }
  if (training) {
    const coupled = batchCoupledLayers(model);
    if (coupled.length) {
      throw new UnsupportedError(`BatchNormalization in training mode (${coupled.join(', ')}) couples the examples of a batch: per-example gradients do not exist`);
    }
  }
  if (opts.forceLoop) return loopPass(model, loss, x, y, training, 'forced');
  const plan = cachedPlan(model);
  if (!plan.ok && plan.fatal) throw new UnsupportedError(`no per-example gradients: ${plan.reason}`);
  if (!plan.ok) return loopPass(model, loss, x, y, training, plan.reason);
  return batchedPass(plan, loss, x, y, training, opts.inputGradients ?? true);
}

/** The per-example gradients as one [b, D] matrix (D masked if a mask is given). */
export function materialize(pass: PerExamplePass, mask: Mask | null = null): tf.Tensor2D {
  return tf.tidy(() => {
    if (pass.blocks.length === 0) return tf.zeros([pass.b, 0]) as tf.Tensor2D;
    return applyMask(mask, tf.concat(pass.blocks.map((blk) => blk.materialize()), 1) as tf.Tensor2D);
  });
}

/** The Gram matrix of the rows of `h` [b, D], tiled as `gram` is. */
function gramOfRows(h: tf.Tensor2D, tileRows: number): tf.Tensor2D {
  return symmetricFromTiles(h.shape[0], (r, c) => tf.tidy(() => {
    const hr = takeRows(h, r);
    return tf.matMul(hr, r === c ? hr : takeRows(h, c), false, true);
  }), tileRows);
}

/**
 * G_ij = ⟨h_i, h_j⟩, [b, b]. Without a mask, dense layers never materialise h_i. Above
 * `tileRows` examples (default {@link GRAM_TILE_ROWS}) only the tiles on and below the diagonal
 * are computed, in strips that keep the temporary memory to a few b × b matrices.
 */
export function gram(pass: PerExamplePass, mask: Mask | null = null, tileRows = GRAM_TILE_ROWS): tf.Tensor2D {
  return tf.tidy(() => {
    if (mask) return gramOfRows(materialize(pass, mask), tileRows);
    if (pass.blocks.length === 0) return tf.zeros([pass.b, pass.b]) as tf.Tensor2D;
    return symmetricFromTiles(pass.b, (r, c) => tf.addN(pass.blocks.map((blk) => blk.gramTile(r, c))) as tf.Tensor2D, tileRows);
  });
}

/** The g_i as [b, D]; an error if the pass was made without them. */
export function inputGradientRows(pass: PerExamplePass): tf.Tensor2D {
  if (!pass.inputGrads) throw new Error('this per-example pass was made without input gradients (inputGradients: false)');
  return pass.inputGrads.reshape([pass.b, -1]) as tf.Tensor2D;
}

/**
 * ⟨g_i, g_j⟩ for the input gradients, [b, b], tiled as `gram` is: in the factored form where
 * the model allows it and it is cheaper (inputGram.ts), else from the g_i.
 */
export function inputGram(pass: PerExamplePass, tileRows = GRAM_TILE_ROWS): tf.Tensor2D {
  const f = pass.inputFactor;
  if (f && (!pass.inputGrads || factoredBeatsDirect(pass.b, f.kernel.shape))) return factoredInputGram(f, tileRows);
  return tf.tidy(() => gramOfRows(inputGradientRows(pass), tileRows));
}

/**
 * Whether a pass on `b` examples must form the g_i for {@link inputGram}: always, unless the
 * model allows the factored form and it costs less than forming them.
 */
export function inputGramNeedsInputGradients(model: tf.LayersModel, b: number): boolean {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return true;
  const plan = cachedPlan(model);
  if (!plan.ok) return true;
  const k = inputDenseStep(plan);
  if (k === null) return true;
  const step = plan.steps[k] as WeightedStep;
  return !factoredSavesInputGradients(b, step.bound.variables[0]!.shape as number[]);
}

/** ‖h_i‖² for every example, [b] (the Gram matrix's diagonal, without the rest of it). */
export function normsSq(pass: PerExamplePass, mask: Mask | null = null): tf.Tensor1D {
  return tf.tidy(() => {
    if (mask) return materialize(pass, mask).square().sum(1) as tf.Tensor1D;
    if (pass.blocks.length === 0) return tf.zeros([pass.b]) as tf.Tensor1D;
    return tf.addN(pass.blocks.map((blk) => blk.normsSq())) as tf.Tensor1D;
  });
}

/** h̄ = mean_i h_i, the batch gradient, flat (masked if a mask is given). */
export function meanGradient(pass: PerExamplePass, mask: Mask | null = null): tf.Tensor1D {
  return tf.tidy(() => {
    if (pass.blocks.length === 0) return tf.zeros([0]) as tf.Tensor1D;
    return applyMask(mask, tf.concat(pass.blocks.map((blk) => blk.mean()), 0) as tf.Tensor1D);
  });
}

/** Both passes have blocks of the same kinds for the same layers. */
function sameLayout(p: PerExamplePass, q: PerExamplePass): boolean {
  return p.blocks.length === q.blocks.length && p.blocks.every((blk, k) => blk.kind === q.blocks[k]!.kind && blk.layer === q.blocks[k]!.layer);
}

/**
 * ‖h_i(after) − h_i(before)‖² for every example, [b], from differences (never from expanded
 * squares, which cancel catastrophically in float32).
 */
export function diffNormsSq(before: PerExamplePass, after: PerExamplePass, mask: Mask | null = null): tf.Tensor1D {
  return tf.tidy(() => {
    if (mask || !sameLayout(before, after)) {
      return materialize(after, mask).sub(materialize(before, mask)).square().sum(1) as tf.Tensor1D;
    }
    if (after.blocks.length === 0) return tf.zeros([after.b]) as tf.Tensor1D;
    return tf.addN(after.blocks.map((blk, k) => blk.diffNormsSq(before.blocks[k]!))) as tf.Tensor1D;
  });
}

// ---- a stated approximation for very large batches --------------------------------------------

/** Which sub-batches: `size` examples each, drawn without replacement from a seeded shuffle. */
export interface SubsetOptions {
  size: number;
  seed: number;
}

/**
 * ⌊b / size⌋ disjoint random sub-batches of `size` examples (a seeded Fisher–Yates shuffle of
 * 0..b−1, cut in order; the last b mod size examples are left out). A UsageError unless
 * 2 ≤ size ≤ b.
 */
export function disjointSubsets(b: number, { size, seed }: SubsetOptions): Int32Array[] {
  if (!Number.isInteger(size) || size < 2 || size > b) throw new UsageError(`sub-batch size must be an integer in [2, ${b}], got ${size}`);
  const order = Int32Array.from({ length: b }, (_, i) => i);
  const rand = mulberry32(seed);
  for (let i = b - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return Array.from({ length: Math.floor(b / size) }, (_, k) => order.slice(k * size, (k + 1) * size).sort());
}

/**
 * The approximation for batches too large for the b × b Gram matrix: one `size × size` Gram
 * matrix per sub-batch (cost b·size instead of b²). A metric computed on each estimates that
 * metric *at batch size `size`* (the stable rank, coherence and noise-scale estimates depend on
 * the batch size), with the spread over sub-batches as its standard error ({@link subsetMean}).
 * Never a default: the caller asks for it by name.
 */
export function subsetGrams(pass: PerExamplePass, subsets: readonly Int32Array[], mask: Mask | null = null): tf.Tensor2D[] {
  return tf.tidy(() => {
    if (mask) {
      const h = materialize(pass, mask);
      return subsets.map((s) => tf.tidy(() => {
        const hs = takeRows(h, s);
        return tf.matMul(hs, hs, false, true);
      }));
    }
    return subsets.map((s) => tf.addN(pass.blocks.map((blk) => blk.gramTile(s, s))) as tf.Tensor2D);
  });
}

/** As {@link subsetGrams}, for the input gradients (factored when the pass has no g_i). */
export function subsetInputGrams(pass: PerExamplePass, subsets: readonly Int32Array[]): tf.Tensor2D[] {
  if (!pass.inputGrads && pass.inputFactor) return factoredSubsetInputGrams(pass.inputFactor, subsets);
  return tf.tidy(() => {
    const g = inputGradientRows(pass);
    return subsets.map((s) => tf.tidy(() => {
      const gs = takeRows(g, s);
      return tf.matMul(gs, gs, false, true);
    }));
  });
}

/** A metric over sub-batches: its mean and standard error (sample deviation / √k). */
export interface SubsetEstimate {
  mean: number | null;
  stdError: number | null;
  /** Sub-batches whose metric was defined (the others are left out). */
  parts: number;
  reason?: string;
}

export function subsetMean(values: readonly (number | null)[]): SubsetEstimate {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (xs.length === 0) return { mean: null, stdError: null, parts: 0, reason: 'the metric is undefined on every sub-batch' };
  const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
  if (xs.length < 2) return { mean, stdError: null, parts: 1, reason: 'one sub-batch: no standard error' };
  const variance = xs.reduce((s, v) => s + (v - mean) ** 2, 0) / (xs.length - 1);
  return { mean, stdError: Math.sqrt(variance / xs.length), parts: xs.length };
}
