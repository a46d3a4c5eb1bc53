/**
 * The `weightPerturbation` group (step-consistency, docs/metrics.md): h̄₀ = h̄(θ, χ) and
 * h̄_k = h̄(θ + ω_k, χ) on the same batch, reduced on the host in float64 (differences of nearly
 * equal gradients cancel in float32).
 */
import { tf } from '../../backend/tf.js';
import { mulberry32, normalSampler } from '../../data/random.js';
import { gramFromVectors } from '../../metrics/gram.js';
import type { WeightSamples } from '../../metrics/stepConsistency.js';
import { batchGradient } from '../batchGradient.js';
import type { EngineContext, WeightSamplingOptions } from '../context.js';
import { distance, maxAbs, norm } from '../hostMath.js';
import { zeroOutsideMask } from '../mask.js';
import { flatParams, trainableVariables, withPerturbedWeights } from '../params.js';
import { disposePass, materialize, perExamplePass } from '../perExample.js';
import type { SharedWork } from './shared.js';

/** ±η h̄/‖h̄‖∞ (Definition 2.7). */
function gradientDirections(ctx: EngineContext, hbar: tf.Tensor1D): tf.Tensor1D[] {
  return tf.tidy(() => {
    const g = zeroOutsideMask(ctx.mask, hbar);
    const scaled = g.mul(ctx.eta / Math.max(maxAbs(g.dataSync()), Number.MIN_VALUE)) as tf.Tensor1D;
    return [scaled, scaled.neg() as tf.Tensor1D];
  });
}

/**
 * Directions along the first n examples' gradients h_k/‖h_k‖ (masked): `per-example` gives
 * ±η h_k/‖h_k‖ (Definition 2.6); `descent` gives −s h_k/‖h_k‖ only, at the step's scale s.
 */
function exampleDirections(ctx: EngineContext, x: tf.Tensor, y: tf.Tensor, opts: WeightSamplingOptions): tf.Tensor1D[] {
  const n = Math.min(opts.n, x.shape[0]);
  const [xn, yn] = [x.slice(0, n), y.slice(0, n)];
  const pass = perExamplePass(ctx.model, ctx.loss, xn, yn, { training: ctx.training, inputGradients: false });
  tf.dispose([xn, yn]);
  const descent = opts.sampling === 'descent';
  const scale = descent ? (opts.stepScale !== undefined && opts.stepScale > 0 ? opts.stepScale : ctx.eta) : ctx.eta;
  const dirs = tf.tidy(() =>
    tf.unstack(materialize(pass)).flatMap((h) => {
      const hm = zeroOutsideMask(ctx.mask, h as tf.Tensor1D);
      const nrm = norm(hm.dataSync());
      if (!(nrm > 0)) return [];
      const w = hm.mul((descent ? -scale : scale) / nrm) as tf.Tensor1D;
      return descent ? [w] : [w, w.neg() as tf.Tensor1D];
    }),
  );
  disposePass(pass);
  return dirs;
}

/** z_j ~ N(0, σ_v²), σ_v the standard deviation of coordinate j's variable, scaled to ‖ω‖∞ = η. */
function randomDirections(ctx: EngineContext, opts: WeightSamplingOptions): tf.Tensor1D[] {
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
      const zm = zeroOutsideMask(ctx.mask, tf.tensor1d(z));
      return zm.mul(ctx.eta / maxAbs(zm.dataSync())) as tf.Tensor1D;
    });
  });
}

/** The perturbation directions ω_k (section 2.3), each zero outside the mask. */
export function weightDirections(ctx: EngineContext, hbar: tf.Tensor1D, x: tf.Tensor, y: tf.Tensor, opts: WeightSamplingOptions): tf.Tensor1D[] {
  switch (opts.sampling) {
    case 'gradient':
      return gradientDirections(ctx, hbar);
    case 'per-example':
    case 'descent':
      return exampleDirections(ctx, x, y, opts);
    case 'random':
      return randomDirections(ctx, opts);
  }
}

export function sampleWeightPerturbation(w: SharedWork): WeightSamples {
  const { ctx, x, y } = w;
  const { model, loss, training } = ctx;
  const g0 = w.batchGradient();
  const omegas = weightDirections(ctx, g0.grad, x, y, w.opts.weightSampling);
  const vectors = [w.host(g0.grad)];
  const omegaNorms: number[] = [];
  try {
    for (const omega of omegas) {
      omegaNorms.push(norm(w.host(omega)));
      const gk = withPerturbedWeights(model, omega, () => batchGradient(model, loss, x, y, training));
      vectors.push(w.host(gk.grad));
      gk.grad.dispose();
    }
  } finally {
    tf.dispose(omegas);
  }
  const theta = flatParams(model);
  const thetaNorm = norm(w.host(theta));
  theta.dispose();
  return {
    gram: gramFromVectors(vectors),
    omegaNorms,
    thetaNorm,
    diffNorms: vectors.slice(1).map((v) => distance(v, vectors[0])),
  };
}
