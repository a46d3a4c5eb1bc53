/**
 * Per-example weight gradients h_i and input gradients g_i from ONE batched forward/backward
 * pass. The pass differentiates Σ_i ℓ_i with respect to the input and to a zero "probe" added to
 * each weighted layer's pre-activation output, which gives every example's output-gradient δ_i
 * (examples do not interact). Then, per layer:
 *   - Dense: h_i = a_i ⊗ δ_i (+ δ_i for the bias), never materialised for the Gram matrix:
 *     ⟨h_i, h_j⟩ = (⟨a_i, a_j⟩ + 1) · ⟨δ_i, δ_j⟩;
 *   - Conv2D: h_i materialised by one depthwise convolution with the batch as channels.
 * Models with other weighted layers fall back to an exact loop of b single-example passes; the
 * pass says which path it took.
 */
import { tf } from '../backend/tf.js';
import { UnsupportedError } from '../errors.js';
import { type Conv2DInfo, type LayerInfo, batchCoupledLayers, planModel } from './layers.js';
import type { PerExampleLoss } from './losses.js';
import { type Mask, applyMask } from './mask.js';
import { trainableVariables } from './params.js';

/** One weighted layer's share of the per-example gradients. */
export type LayerBlock =
  | { kind: 'dense'; a: tf.Tensor2D; delta: tf.Tensor2D; hasBias: boolean }
  | { kind: 'materialized'; h: tf.Tensor2D };

export interface PerExamplePass {
  path: 'batched' | 'loop';
  /** Why the exact loop was used. */
  reason?: string;
  b: number;
  /** ℓ_i, shape [b]. */
  losses: tf.Tensor1D;
  /** g_i, shape of the input batch. */
  inputGrads: tf.Tensor;
  /** In `model.trainableWeights` order. */
  blocks: LayerBlock[];
}

export interface PassOptions {
  /** Layers in training mode (dropout on); metrics default to inference mode. */
  training?: boolean;
  /** Use the exact per-example loop even where the batched pass applies (tests, bench). */
  forceLoop?: boolean;
}

export function disposePass(pass: PerExamplePass): void {
  tf.dispose([pass.losses, pass.inputGrads]);
  for (const blk of pass.blocks) tf.dispose(blk.kind === 'dense' ? [blk.a, blk.delta] : [blk.h]);
}

/** 'same' padding exactly as tfjs computes it. */
function samePadding(inSize: number, k: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + (k - 1) * dilation + 1 - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * Per-example kernel gradients of a convolution as ONE depthwise convolution: with the batch as
 * channels, dW_n[i, j, c, m] = Σ_p x_n[p·s + i·d, c] · δ_n[p, m] is a depthwise conv of x
 * (transposed to [cin, H, W, b]) with δ (transposed to [oh, ow, b, cout]) as the filter, the
 * forward stride as its dilation and the forward dilation as its stride (tfjs convolutions never
 * have both above 1).
 */
function depthwiseKernelGrads(a: tf.Tensor4D, delta: tf.Tensor4D, info: Conv2DInfo): tf.Tensor2D {
  return tf.tidy(() => {
    const [kh, kw, cin, cout] = info.kernel.shape;
    const [b, h, w] = a.shape;
    const xp =
      info.padding === 'same'
        ? tf.pad(a, [[0, 0], samePadding(h, kh, info.strides[0], info.dilations[0]), samePadding(w, kw, info.strides[1], info.dilations[1]), [0, 0]])
        : a;
    const x = xp.transpose([3, 1, 2, 0]) as tf.Tensor4D; // [cin, H, W, b]
    const f = delta.transpose([1, 2, 0, 3]) as tf.Tensor4D; // [oh, ow, b, cout]
    const out = tf.depthwiseConv2d(x, f, info.dilations, 'valid', 'NHWC', info.strides); // [cin, ≥kh, ≥kw, b·cout]
    return out
      .slice([0, 0, 0, 0], [cin, kh, kw, b * cout])
      .reshape([cin, kh, kw, b, cout])
      .transpose([3, 1, 2, 0, 4])
      .reshape([b, kh * kw * cin * cout]);
  });
}

function convBlock(a: tf.Tensor4D, delta: tf.Tensor4D, info: Conv2DInfo): LayerBlock {
  return {
    kind: 'materialized',
    h: tf.tidy(() => {
      const kernelGrad = depthwiseKernelGrads(a, delta, info);
      return (info.bias ? tf.concat([kernelGrad, delta.sum([1, 2])], 1) : kernelGrad) as tf.Tensor2D;
    }),
  };
}

function linear(info: LayerInfo & { kind: 'dense' | 'conv2d' }, a: tf.Tensor): tf.Tensor {
  const z =
    info.kind === 'dense'
      ? tf.matMul(a as tf.Tensor2D, info.kernel)
      : tf.conv2d(a as tf.Tensor4D, info.kernel, info.strides, info.padding, 'NHWC', info.dilations);
  return info.bias ? z.add(info.bias) : z;
}

function batchedPass(layers: LayerInfo[], loss: PerExampleLoss, x: tf.Tensor, y: tf.Tensor, training: boolean): PerExamplePass {
  const b = x.shape[0];
  const weighted = layers.filter((l): l is LayerInfo & { kind: 'dense' | 'conv2d' } => l.kind !== 'passThrough');
  const probes = weighted.map((l) => tf.zeros([b, ...(l.layer.outputShape as number[]).slice(1)]));
  const inputs: tf.Tensor[] = []; // a_l, kept out of the gradient tape's tidy
  let losses: tf.Tensor1D | null = null;
  const xv = x.clone();
  const { value, grads } = tf.engine().gradients(() => {
    let h: tf.Tensor = xv;
    let k = 0;
    for (const info of layers) {
      if (info.kind === 'passThrough') {
        h = info.layer.apply(h, { training }) as tf.Tensor;
        continue;
      }
      inputs.push(tf.keep(h));
      h = info.activation(linear(info, h).add(probes[k++]));
    }
    losses = tf.keep(loss(y, h));
    return losses.sum() as tf.Scalar;
  }, [xv, ...probes]);
  const [inputGrads, ...deltas] = grads;
  const blocks = weighted.map((info, k): LayerBlock => {
    const a = inputs[k];
    const delta = deltas[k];
    if (info.kind === 'dense') return { kind: 'dense', a: a as tf.Tensor2D, delta: delta as tf.Tensor2D, hasBias: info.bias !== null };
    const blk = convBlock(a as tf.Tensor4D, delta as tf.Tensor4D, info);
    tf.dispose([a, delta]);
    return blk;
  });
  tf.dispose([value, ...probes]);
  if (!inputs.includes(xv)) xv.dispose(); // else it lives on as the first layer's input
  return { path: 'batched', b, losses: losses!, inputGrads, blocks };
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
      gs.push(tf.keep(g));
      ls.push(tf.keep(value.reshape([1])));
      rows.push(tf.keep(tf.concat(w.map((t) => t.reshape([-1])), 0) as tf.Tensor1D));
    });
  }
  const out: PerExamplePass = {
    path: 'loop', reason, b,
    losses: tf.concat(ls, 0) as tf.Tensor1D,
    inputGrads: tf.concat(gs, 0),
    blocks: [{ kind: 'materialized', h: tf.stack(rows, 0) as tf.Tensor2D }],
  };
  tf.dispose([...rows, ...gs, ...ls]);
  return out;
}

/** Per-example gradients of one batch, by the fastest exact path the model allows. */
export function perExamplePass(model: tf.LayersModel, loss: PerExampleLoss, x: tf.Tensor, y: tf.Tensor, opts: PassOptions = {}): PerExamplePass {
  const training = opts.training ?? false;
  if (training) {
    const coupled = batchCoupledLayers(model);
    if (coupled.length) {
      throw new UnsupportedError(`BatchNormalization in training mode (${coupled.join(', ')}) couples the examples of a batch: per-example gradients do not exist`);
    }
  }
  const plan = planModel(model);
  if (opts.forceLoop || !plan.ok) return loopPass(model, loss, x, y, training, opts.forceLoop ? 'forced' : (plan as { reason: string }).reason);
  return batchedPass(plan.layers, loss, x, y, training);
}

/** The per-example gradients as one [b, D] matrix (D masked if a mask is given). */
export function materialize(pass: PerExamplePass, mask: Mask | null = null): tf.Tensor2D {
  return tf.tidy(() => {
    const parts = pass.blocks.map((blk) => {
      if (blk.kind === 'materialized') return blk.h;
      const [b, n] = blk.a.shape;
      const m = blk.delta.shape[1];
      const kernel = blk.a.reshape([b, n, 1]).mul(blk.delta.reshape([b, 1, m])).reshape([b, n * m]);
      return blk.hasBias ? tf.concat([kernel, blk.delta], 1) : kernel;
    });
    return applyMask(mask, tf.concat(parts, 1) as tf.Tensor2D);
  });
}

/** G_ij = ⟨h_i, h_j⟩, [b, b]. Without a mask, dense layers never materialise h_i. */
export function gram(pass: PerExamplePass, mask: Mask | null = null): tf.Tensor2D {
  return tf.tidy(() => {
    if (mask) {
      const h = materialize(pass, mask);
      return tf.matMul(h, h, false, true);
    }
    const terms = pass.blocks.map((blk) => {
      if (blk.kind === 'materialized') return tf.matMul(blk.h, blk.h, false, true);
      const aa = tf.matMul(blk.a, blk.a, false, true);
      const dd = tf.matMul(blk.delta, blk.delta, false, true);
      return (blk.hasBias ? aa.add(1) : aa).mul(dd);
    });
    return tf.addN(terms) as tf.Tensor2D;
  });
}

/** ‖h_i‖² for every example, [b] (the Gram matrix's diagonal, without the rest of it). */
export function normsSq(pass: PerExamplePass, mask: Mask | null = null): tf.Tensor1D {
  return tf.tidy(() => {
    if (mask) return materialize(pass, mask).square().sum(1) as tf.Tensor1D;
    const terms = pass.blocks.map((blk) => {
      if (blk.kind === 'materialized') return blk.h.square().sum(1);
      const aa = blk.a.square().sum(1);
      return (blk.hasBias ? aa.add(1) : aa).mul(blk.delta.square().sum(1));
    });
    return tf.addN(terms) as tf.Tensor1D;
  });
}

/** h̄ = mean_i h_i, the batch gradient, flat (masked if a mask is given). */
export function meanGradient(pass: PerExamplePass, mask: Mask | null = null): tf.Tensor1D {
  return tf.tidy(() => {
    const parts = pass.blocks.flatMap((blk) => {
      if (blk.kind === 'materialized') return [blk.h.mean(0)];
      const kernel = tf.matMul(blk.a, blk.delta, true, false).div(pass.b).reshape([-1]);
      return blk.hasBias ? [kernel, blk.delta.mean(0)] : [kernel];
    });
    return applyMask(mask, tf.concat(parts, 0) as tf.Tensor1D);
  });
}

/**
 * ‖h_i(after) − h_i(before)‖² for every example, [b], from differences (never from expanded
 * squares, which cancel catastrophically in float32). Dense: a'⊗δ' − a⊗δ = Δa⊗δ' + a⊗Δδ.
 */
export function diffNormsSq(before: PerExamplePass, after: PerExamplePass, mask: Mask | null = null): tf.Tensor1D {
  return tf.tidy(() => {
    if (mask || before.path !== after.path) {
      return materialize(after, mask).sub(materialize(before, mask)).square().sum(1) as tf.Tensor1D;
    }
    const terms = before.blocks.map((b0, k) => {
      const b1 = after.blocks[k];
      if (b0.kind === 'materialized' && b1.kind === 'materialized') return b1.h.sub(b0.h).square().sum(1);
      if (b0.kind !== 'dense' || b1.kind !== 'dense') throw new Error('per-example passes of different layouts');
      const da = b1.a.sub(b0.a);
      const dd = b1.delta.sub(b0.delta);
      const sq = (t: tf.Tensor) => t.square().sum(1);
      const dot = (s: tf.Tensor, t: tf.Tensor) => s.mul(t).sum(1);
      let v = sq(da).mul(sq(b1.delta)).add(sq(b0.a).mul(sq(dd))).add(dot(da, b0.a).mul(dot(b1.delta, dd)).mul(2));
      if (b0.hasBias) v = v.add(sq(dd));
      return v;
    });
    return tf.addN(terms) as tf.Tensor1D;
  });
}
