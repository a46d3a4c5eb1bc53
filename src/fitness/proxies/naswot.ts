/**
 * naswot: how distinct the examples' ReLU activation patterns are. Mellor, Turner, Storkey &
 * Crowley, "Neural Architecture Search without Training", ICML 2021 (reference code:
 * BayesWatch/nas-without-training, `score_networks.py` and `scores.py`).
 *
 * Each rectified unit is on (1) or off (0) for each example; `c_i` is example i's binary code
 * over all `N_A` such units. `K_H[i, j] = N_A − Hamming(c_i, c_j)` counts the units on which
 * examples i and j agree, and the score is `log |det K_H|` (numpy's slogdet).
 *
 * Which units: those the reference hooks, the ReLUs, read after the rectifier (on ⇔ output > 0,
 * the same as pre-activation > 0): a layer with activation `relu` or `relu6` (Dense, Conv2D,
 * Activation), a `ReLU` layer, and a CReLU layer (class name containing "CReLU"; its output
 * `[relu(x), relu(−x)]` gives two codes per unit, as a PyTorch ReLU applied to `[x, −x]`).
 * Units behind other activations (tanh, sigmoid, elu, leaky ReLU, linear) are not coded, as in
 * the reference; a model with no rectified unit has no score.
 *
 * Undefined cases: two examples with the same code (duplicate inputs, or a layer that maps
 * them together) make two rows of `K_H` equal, so `det K_H = 0` and `log |det K_H| = −∞`;
 * the reference returns −∞, this returns null with the reason.
 */
import { tf } from '../../backend/tf.js';
import { ok, undef } from '../../metrics/result.js';
import { runGraph } from './graph.js';
import { logAbsDet } from './linalg.js';
import type { Proxy } from './proxy.js';
import { keepingModelState } from './state.js';

/** float32 counts are exact integers up to 2^24. */
const EXACT_COUNT = 2 ** 24;

export function isRectifier(layer: tf.layers.Layer): boolean {
  const cls = layer.getClassName();
  if (cls === 'ReLU' || cls.includes('CReLU')) return true;
  const activation = layer.getConfig().activation;
  return activation === 'relu' || activation === 'relu6';
}

/** One layer's codes: agreements `C Cᵀ` (units on in both) and the number on per example. */
interface LayerCodes {
  units: number;
  bothOn: Float32Array;
  on: Float32Array;
}

export const naswot: Proxy = ({ model, x, training }) => {
  const b = x.shape[0]!;
  const layers = keepingModelState(model, training, () => layerCodes(model, x, training));
  if (layers.length === 0) return undef('the model has no ReLU units to code (naswot codes rectified units only)');
  const tooWide = layers.find((l) => l.units > EXACT_COUNT);
  if (tooWide) return undef(`a layer has ${tooWide.units} rectified units per example, more than float32 counts exactly (2^24)`);
  const kernel = hammingKernel(layers, b);
  const logDet = logAbsDet(kernel, b);
  if (logDet !== null) return ok(logDet);
  const twins = sameCode(kernel, b, layers.reduce((n, l) => n + l.units, 0));
  return undef(twins
    ? `K_H is singular (log|det| = −∞): examples ${twins[0]} and ${twins[1]} have the same activation code (duplicate inputs?)`
    : 'K_H is singular to float64 precision (log|det| = −∞): the activation codes are linearly dependent');
};

/** Two examples with identical codes agree on all `N_A` units: `K_H[i, j] = N_A`. */
function sameCode(kernel: Float64Array, b: number, unitCount: number): [number, number] | null {
  for (let i = 0; i < b; i++) for (let j = i + 1; j < b; j++) if (kernel[i * b + j] === unitCount) return [i, j];
  return null;
}

/** Runs the model once, reading each rectified layer's on/off codes as count matrices. */
function layerCodes(model: tf.LayersModel, x: tf.Tensor, training: boolean): LayerCodes[] {
  const b = x.shape[0]!;
  const pending: { units: number; bothOn: tf.Tensor; on: tf.Tensor }[] = [];
  const observe = (layer: tf.layers.Layer, out: tf.Tensor) => {
    if (!isRectifier(layer)) return;
    const codes = tf.greater(out, 0).toFloat().reshape([b, -1]);
    pending.push({ units: codes.shape[1]!, bothOn: tf.keep(codes.matMul(codes, false, true)), on: tf.keep(codes.sum(1)) });
  };
  try {
    tf.tidy(() => {
      runGraph(model, x, { training, observe });
    });
    return pending.map((p) => ({ units: p.units, bothOn: p.bothOn.dataSync() as Float32Array, on: p.on.dataSync() as Float32Array }));
  } finally {
    pending.forEach((p) => tf.dispose([p.bothOn, p.on]));
  }
}

/** `K_H[i, j] = Σ_l (N_l − on_i − on_j + 2 bothOn_ij)`, summed in float64. */
function hammingKernel(layers: LayerCodes[], b: number): Float64Array {
  const k = new Float64Array(b * b);
  for (const { units, bothOn, on } of layers) {
    for (let i = 0; i < b; i++) {
      for (let j = 0; j < b; j++) k[i * b + j]! += units - on[i]! - on[j]! + 2 * bothOn[i * b + j]!;
    }
  }
  return k;
}
