/**
 * Builds each metric group's sample (METRICS.md) from a model and a batch: the only place where
 * gradients are turned into the small float64 numbers the metric functions take. Every tensor
 * made here is disposed here.
 */
import { tf } from '../backend/tf.js';
import { mulberry32, normalSampler } from '../data/random.js';
import type { InputGradientSamples, KappaXSamples, MultiBatchSamples, PerExampleSamples } from '../metrics/batchDissonance.js';
import type { WeightSamples } from '../metrics/stepConsistency.js';
import { batchGradient } from './batchGradient.js';
import { gramFromVectors } from '../metrics/gram.js';
import { distance, maxAbs, norm, readback, toGram } from './hostMath.js';
import type { PerExampleLoss } from './losses.js';
import { type Mask, applyMask, zeroOutsideMask } from './mask.js';
import { flatParams, trainableVariables, withPerturbedWeights } from './params.js';
import { type PerExamplePass, diffNormsSq, disposePass, gram, materialize, normsSq, perExamplePass } from './perExample.js';

/** What every sampler needs to know about the model under measurement. */
export interface EngineContext {
  model: tf.LayersModel;
  loss: PerExampleLoss;
  mask: Mask | null;
  /** Perturbation scale η (default 1e-3). */
  eta: number;
  /** Layers in training mode during metric passes (default false: deterministic). */
  training?: boolean;
}

export type WeightSampling = 'gradient' | 'per-example' | 'random';
export const WEIGHT_SAMPLINGS: readonly WeightSampling[] = ['gradient', 'per-example', 'random'];

export interface WeightSamplingOptions {
  sampling: WeightSampling;
  /** per-example: the first n examples; random: n draws. */
  n: number;
  seed: number;
}

/** Perturbation directions ω_k (section 2.3), each zero outside the mask. */
function weightDirections(ctx: EngineContext, hbar: tf.Tensor1D, x: tf.Tensor, y: tf.Tensor, opts: WeightSamplingOptions): tf.Tensor1D[] {
  const { eta, mask } = ctx;
  if (opts.sampling === 'gradient') {
    return tf.tidy(() => {
      const g = zeroOutsideMask(mask, hbar);
      const scaled = g.mul(eta / Math.max(maxAbs(g.dataSync()), Number.MIN_VALUE)) as tf.Tensor1D;
      return [scaled, scaled.neg() as tf.Tensor1D];
    });
  }
  if (opts.sampling === 'per-example') {
    const n = Math.min(opts.n, x.shape[0]);
    const [xn, yn] = [x.slice(0, n), y.slice(0, n)];
    const pass = perExamplePass(ctx.model, ctx.loss, xn, yn, { training: ctx.training });
    tf.dispose([xn, yn]);
    const dirs = tf.tidy(() =>
      tf.unstack(materialize(pass)).flatMap((h) => {
        const hm = zeroOutsideMask(mask, h as tf.Tensor1D);
        const nrm = norm(hm.dataSync());
        if (!(nrm > 0)) return [];
        const w = hm.mul(eta / nrm) as tf.Tensor1D;
        return [w, w.neg() as tf.Tensor1D];
      }),
    );
    disposePass(pass);
    return dirs;
  }
  // random: z_j ~ N(0, σ_v²) with σ_v the standard deviation of variable v, scaled to ‖ω‖∞ = η.
  const normal = normalSampler(mulberry32(opts.seed));
  const sigmas = trainableVariables(ctx.model).map((v) => {
    const d = v.dataSync();
    let m = 0;
    for (const t of d) m += t;
    m /= d.length;
    let s = 0;
    for (const t of d) s += (t - m) ** 2;
    return { size: d.length, sigma: Math.sqrt(s / d.length) || 1 };
  });
  return Array.from({ length: opts.n }, () => {
    const z = new Float32Array(sigmas.reduce((n, v) => n + v.size, 0));
    let o = 0;
    for (const { size, sigma } of sigmas) for (let i = 0; i < size; i++) z[o++] = sigma * normal();
    return tf.tidy(() => {
      const zm = zeroOutsideMask(mask, tf.tensor1d(z));
      return zm.mul(eta / maxAbs(zm.dataSync())) as tf.Tensor1D;
    });
  });
}

/**
 * The `weightPerturbation` group: h̄₀ and h̄_k = h̄(θ + ω_k) on the same batch, reduced on the
 * host in float64 (differences of nearly equal gradients cancel in float32).
 */
export function weightPerturbationSample(ctx: EngineContext, x: tf.Tensor, y: tf.Tensor, opts: WeightSamplingOptions): WeightSamples {
  const { model, loss, mask, training } = ctx;
  const g0 = batchGradient(model, loss, x, y, training);
  const omegas = weightDirections(ctx, g0.grad, x, y, opts);
  const host = (v: tf.Tensor1D) => readback(() => applyMask(mask, v));
  const vectors = [host(g0.grad)];
  const omegaNorms: number[] = [];
  for (const omega of omegas) {
    omegaNorms.push(norm(host(omega)));
    const gk = withPerturbedWeights(model, omega, () => batchGradient(model, loss, x, y, training));
    vectors.push(host(gk.grad));
    gk.grad.dispose();
  }
  const theta = flatParams(model);
  const thetaNorm = norm(host(theta));
  tf.dispose([g0.grad, theta, ...omegas]);
  return {
    gram: gramFromVectors(vectors),
    omegaNorms,
    thetaNorm,
    diffNorms: vectors.slice(1).map((v) => distance(v, vectors[0])),
  };
}

/** The `perExample` group from a pass: the Gram matrix of the h_i. */
export function perExampleSample(pass: PerExamplePass, mask: Mask | null, dim: number): PerExampleSamples {
  const g = gram(pass, mask);
  const sample = { gram: toGram(pass.b, g.dataSync()), dim: mask ? mask.indices.length : dim };
  g.dispose();
  return sample;
}

/** The `inputGradient` group from a pass: the Gram matrix of the g_i. */
export function inputGradientSample(pass: PerExamplePass): InputGradientSamples {
  const dim = pass.inputGrads.size / pass.b;
  const gram = readback(() => {
    const flat = pass.inputGrads.reshape([pass.b, dim]);
    return tf.matMul(flat, flat, false, true);
  });
  return { gram: toGram(pass.b, gram), dim };
}

/**
 * The `inputPerturbation` group (kappaX): directions δ_k = ±η g_k/‖g_k‖ from the first `n`
 * examples' input gradients, each added to every example, one batched pass per direction.
 */
export function inputPerturbationSample(ctx: EngineContext, pass: PerExamplePass, x: tf.Tensor, y: tf.Tensor, n: number): KappaXSamples {
  const b = pass.b;
  const inputNorms = Array.from(readback(() => x.reshape([b, -1]).square().sum(1).sqrt()));
  const gradNorms = Array.from(readback(() => normsSq(pass, ctx.mask).sqrt()));
  const diffNorms: number[][] = [];
  const deltaNorms: number[] = [];
  for (let k = 0; k < Math.min(n, b); k++) {
    const gk = tf.tidy(() => pass.inputGrads.slice(k, 1));
    const gNorm = norm(gk.dataSync());
    for (const sign of [1, -1]) {
      if (!(gNorm > 0)) {
        deltaNorms.push(0); // skipped: a zero input gradient gives no direction
        diffNorms.push(new Array(b).fill(0));
        continue;
      }
      const xk = tf.tidy(() => x.add(gk.mul((sign * ctx.eta) / gNorm)));
      const perturbed = perExamplePass(ctx.model, ctx.loss, xk, y, { training: ctx.training });
      const d = readback(() => diffNormsSq(pass, perturbed, ctx.mask).sqrt());
      diffNorms.push(Array.from(d));
      deltaNorms.push(ctx.eta);
      disposePass(perturbed);
      xk.dispose();
    }
    gk.dispose();
  }
  return { diffNorms, gradNorms, inputNorms, deltaNorms };
}

/** The `multiBatch` group: the Gram matrix of the batch gradients of n batches (float64). */
export function multiBatchSample(ctx: EngineContext, batches: { x: tf.Tensor; y: tf.Tensor }[]): MultiBatchSamples {
  const vectors = batches.map(({ x, y }) => {
    const { grad } = batchGradient(ctx.model, ctx.loss, x, y, ctx.training);
    const v = readback(() => applyMask(ctx.mask, grad));
    grad.dispose();
    return v;
  });
  return { gram: gramFromVectors(vectors) };
}
