/**
 * An independent float64 reference for small tfjs-layers Sequential models.
 *
 * No tfjs, no imports from src/: plain arrays, a forward pass and an exact manual backward
 * pass for ONE example at a time. Used by the tests to check the tfjs implementation.
 *
 * Conventions (mirroring tfjs-layers):
 * - Tensors of one example are flat row-major arrays plus a shape (no batch axis). Images are
 *   NHWC without the N: `[height, width, channels]`.
 * - Dense kernel `W` has tfjs layout `[in][out]`; a dense layer on a rank > 1 input acts on
 *   the last axis (as tfjs-layers' Dense does).
 * - Conv2D kernel `W` has tfjs layout `[fh][fw][cin][cout]`, dilation 1, `same` padding as in
 *   TensorFlow (`out = ceil(in / stride)`, the extra padding pixel at the bottom/right).
 * - Parameters are flattened in `model.trainableWeights` order: for each layer, the kernel
 *   row-major in its tfjs shape, then the bias (when the layer has one).
 * - Losses follow tfjs-layers' `losses.js` exactly, including both clips of
 *   `sparseCategoricalCrossentropy`. A per-example loss on an output of shape `[..., K]` is the
 *   per-position loss (over the last axis) averaged over the leading positions, as
 *   `tfc.mean(loss)` in tfjs-layers' training loop does for a batch of one.
 */

export type Activation = 'linear' | 'relu' | 'tanh' | 'sigmoid' | 'softmax';
export type LossName = 'meanSquaredError' | 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy';

/** tfjs' `epsilon()` on a float32 backend (EPSILON_FLOAT32), used by the crossentropy clips. */
export const EPSILON = 1e-7;

/**
 * The clip interval the crossentropies really use: tfjs passes `epsilon()` and `1 − epsilon()`
 * as JS numbers, but the clipped values land in float32 tensors, so the effective bounds are
 * `fround(1e-7) ≈ 1.0000000117e-7` and `fround(1 − 1e-7) = 1 − 2⁻²³ ≈ 0.99999988`. (A saturated
 * softmax therefore has loss −log(1 − 2⁻²³) ≈ 1.19e-7 in tfjs, not 1e-7.)
 */
export function clipBounds(eps = EPSILON): [number, number] {
  return [Math.fround(eps), Math.fround(1 - eps)];
}

export interface DenseLayer {
  kind: 'dense';
  /** kernel, `[in][out]` */
  W: number[][];
  /** bias `[out]`; omit for `useBias: false` */
  b?: number[];
  /** default 'linear' */
  activation?: Activation;
}

export interface Conv2DLayer {
  kind: 'conv2d';
  /** kernel, `[fh][fw][cin][cout]` */
  W: number[][][][];
  /** bias `[cout]`; omit for `useBias: false` */
  b?: number[];
  /** default `[1, 1]` */
  strides?: [number, number];
  /** default 'valid' */
  padding?: 'valid' | 'same';
  /** default 'linear' */
  activation?: Activation;
}

export interface FlattenLayer {
  kind: 'flatten';
}

export type RefLayer = DenseLayer | Conv2DLayer | FlattenLayer;

export interface RefModel {
  /** shape of ONE example, without the batch axis (e.g. `[4]` or `[6, 6, 2]`) */
  inputShape: number[];
  layers: RefLayer[];
  loss: LossName;
  /** tfjs `epsilon()` for the crossentropy clips; default {@link EPSILON} (see {@link clipBounds}) */
  epsilon?: number;
}

/**
 * Target of one example. `meanSquaredError` / `categoricalCrossentropy`: the flat target of
 * the output's size. `sparseCategoricalCrossentropy`: the class index (a number, or one index
 * per output position when the output has rank > 1); indices are floored as tfjs does.
 */
export type Target = number | ArrayLike<number>;

/** One trainable variable, in `model.trainableWeights` order. */
export interface ParamInfo {
  layer: number;
  role: 'kernel' | 'bias';
  shape: number[];
  /** offset into the flat parameter vector */
  offset: number;
  size: number;
}

export interface ExampleGrads {
  loss: number;
  /** dℓ/dθ, flattened in trainableWeights order */
  dTheta: number[];
  /** dℓ/dx, flattened row-major in the input shape */
  dX: number[];
  /** the model's output (flat) */
  output: number[];
}

// ---------------------------------------------------------------------------------------------
// Small utilities

/** Flattens nested number arrays row-major. */
export function flattenNested(x: unknown): number[] {
  const out: number[] = [];
  const rec = (v: unknown): void => {
    if (typeof v === 'number') out.push(v);
    else if (Array.isArray(v) || ArrayBuffer.isView(v)) {
      const a = v as unknown as ArrayLike<unknown>;
      for (let i = 0; i < a.length; i++) rec(a[i]);
    }
    else throw new Error(`flattenNested: unexpected element ${String(v)}`);
  };
  rec(x);
  return out;
}

const prod = (s: number[]): number => s.reduce((a, b) => a * b, 1);

function kernelShape(layer: DenseLayer | Conv2DLayer): number[] {
  if (layer.kind === 'dense') return [layer.W.length, layer.W[0]!.length];
  const W = layer.W;
  return [W.length, W[0]!.length, W[0]![0]!.length, W[0]![0]![0]!.length];
}

/** The trainable variables of the model, in tfjs `model.trainableWeights` order. */
export function paramInfo(model: RefModel): ParamInfo[] {
  const infos: ParamInfo[] = [];
  let offset = 0;
  model.layers.forEach((layer, li) => {
    if (layer.kind === 'flatten') return;
    const ks = kernelShape(layer);
    infos.push({ layer: li, role: 'kernel', shape: ks, offset, size: prod(ks) });
    offset += prod(ks);
    if (layer.b) {
      infos.push({ layer: li, role: 'bias', shape: [layer.b.length], offset, size: layer.b.length });
      offset += layer.b.length;
    }
  });
  return infos;
}

/** Total number of trainable parameters. */
export function numParams(model: RefModel): number {
  return paramInfo(model).reduce((a, p) => a + p.size, 0);
}

/** θ: all trainable parameters flattened in trainableWeights order. */
export function flattenParams(model: RefModel): number[] {
  const out: number[] = [];
  for (const layer of model.layers) {
    if (layer.kind === 'flatten') continue;
    out.push(...flattenNested(layer.W));
    if (layer.b) out.push(...layer.b);
  }
  return out;
}

/** A deep copy of `model` with its parameters replaced by the flat vector `theta`. */
export function withParams(model: RefModel, theta: ArrayLike<number>): RefModel {
  if (theta.length !== numParams(model)) {
    throw new Error(`withParams: expected ${numParams(model)} parameters, got ${theta.length}`);
  }
  let k = 0;
  const next = (): number => theta[k++]!;
  const layers: RefLayer[] = model.layers.map((layer) => {
    if (layer.kind === 'flatten') return { kind: 'flatten' };
    if (layer.kind === 'dense') {
      const W = layer.W.map((row) => row.map(() => next()));
      const b = layer.b ? layer.b.map(() => next()) : undefined;
      return { ...layer, W, ...(b ? { b } : {}) };
    }
    const W = layer.W.map((a) => a.map((c) => c.map((d) => d.map(() => next()))));
    const b = layer.b ? layer.b.map(() => next()) : undefined;
    const copy: Conv2DLayer = { ...layer, W };
    if (b) copy.b = b;
    else delete copy.b;
    if (layer.strides) copy.strides = [layer.strides[0], layer.strides[1]];
    return copy;
  });
  return { ...model, inputShape: [...model.inputShape], layers };
}

// ---------------------------------------------------------------------------------------------
// Layers

interface ConvGeom {
  H: number; Wd: number; C: number;
  fh: number; fw: number; cout: number;
  sh: number; sw: number;
  OH: number; OW: number;
  padTop: number; padLeft: number;
}

function convGeom(layer: Conv2DLayer, inShape: number[]): ConvGeom {
  if (inShape.length !== 3) throw new Error(`conv2d expects a [h, w, c] input, got [${inShape}]`);
  const [H, Wd, C] = inShape as [number, number, number];
  const [fh, fw, cin, cout] = kernelShape(layer) as [number, number, number, number];
  if (cin !== C) throw new Error(`conv2d: kernel has ${cin} input channels, input has ${C}`);
  const [sh, sw] = layer.strides ?? [1, 1];
  const padding = layer.padding ?? 'valid';
  let OH: number, OW: number, padTop = 0, padLeft = 0;
  if (padding === 'same') {
    OH = Math.ceil(H / sh);
    OW = Math.ceil(Wd / sw);
    padTop = Math.floor(Math.max(0, (OH - 1) * sh + fh - H) / 2);
    padLeft = Math.floor(Math.max(0, (OW - 1) * sw + fw - Wd) / 2);
  } else {
    OH = Math.ceil((H - fh + 1) / sh);
    OW = Math.ceil((Wd - fw + 1) / sw);
  }
  if (OH <= 0 || OW <= 0) throw new Error('conv2d: empty output');
  return { H, Wd, C, fh, fw, cout, sh, sw, OH, OW, padTop, padLeft };
}

function outShapeOf(layer: RefLayer, inShape: number[]): number[] {
  if (layer.kind === 'flatten') return [prod(inShape)];
  if (layer.kind === 'dense') {
    const [nin, nout] = kernelShape(layer) as [number, number];
    if (inShape[inShape.length - 1] !== nin) {
      throw new Error(`dense: kernel expects ${nin} inputs, got shape [${inShape}]`);
    }
    return [...inShape.slice(0, -1), nout];
  }
  const g = convGeom(layer, inShape);
  return [g.OH, g.OW, g.cout];
}

/** Shape of the model's output for one example. */
export function outputShape(model: RefModel): number[] {
  let s = model.inputShape;
  for (const l of model.layers) s = outShapeOf(l, s);
  return s;
}

/** Pre-activation z of a dense / conv layer. */
function linearForward(layer: DenseLayer | Conv2DLayer, x: number[], inShape: number[]): number[] {
  if (layer.kind === 'dense') {
    const [nin, nout] = kernelShape(layer) as [number, number];
    const P = x.length / nin;
    const z = new Array<number>(P * nout).fill(0);
    for (let p = 0; p < P; p++) {
      for (let o = 0; o < nout; o++) {
        let s = layer.b ? layer.b[o]! : 0;
        for (let i = 0; i < nin; i++) s += x[p * nin + i]! * layer.W[i]![o]!;
        z[p * nout + o] = s;
      }
    }
    return z;
  }
  const g = convGeom(layer, inShape);
  const z = new Array<number>(g.OH * g.OW * g.cout).fill(0);
  for (let oy = 0; oy < g.OH; oy++) {
    for (let ox = 0; ox < g.OW; ox++) {
      for (let co = 0; co < g.cout; co++) {
        let s = layer.b ? layer.b[co]! : 0;
        for (let ky = 0; ky < g.fh; ky++) {
          const iy = oy * g.sh + ky - g.padTop;
          if (iy < 0 || iy >= g.H) continue;
          for (let kx = 0; kx < g.fw; kx++) {
            const ix = ox * g.sw + kx - g.padLeft;
            if (ix < 0 || ix >= g.Wd) continue;
            for (let ci = 0; ci < g.C; ci++) {
              s += x[(iy * g.Wd + ix) * g.C + ci]! * layer.W[ky]![kx]![ci]![co]!;
            }
          }
        }
        z[(oy * g.OW + ox) * g.cout + co] = s;
      }
    }
  }
  return z;
}

/**
 * Backward of the pre-activation: given dz, accumulates dW (flat, kernel layout), db and
 * returns dx.
 */
function linearBackward(
  layer: DenseLayer | Conv2DLayer, x: number[], inShape: number[], dz: number[],
): { dW: number[]; db: number[] | null; dx: number[] } {
  const dx = new Array<number>(x.length).fill(0);
  if (layer.kind === 'dense') {
    const [nin, nout] = kernelShape(layer) as [number, number];
    const P = x.length / nin;
    const dW = new Array<number>(nin * nout).fill(0);
    const db = layer.b ? new Array<number>(nout).fill(0) : null;
    for (let p = 0; p < P; p++) {
      for (let o = 0; o < nout; o++) {
        const d = dz[p * nout + o]!;
        if (db) db[o]! += d;
        for (let i = 0; i < nin; i++) {
          dW[i * nout + o]! += x[p * nin + i]! * d;
          dx[p * nin + i]! += layer.W[i]![o]! * d;
        }
      }
    }
    return { dW, db, dx };
  }
  const g = convGeom(layer, inShape);
  const dW = new Array<number>(g.fh * g.fw * g.C * g.cout).fill(0);
  const db = layer.b ? new Array<number>(g.cout).fill(0) : null;
  for (let oy = 0; oy < g.OH; oy++) {
    for (let ox = 0; ox < g.OW; ox++) {
      for (let co = 0; co < g.cout; co++) {
        const d = dz[(oy * g.OW + ox) * g.cout + co]!;
        if (db) db[co]! += d;
        for (let ky = 0; ky < g.fh; ky++) {
          const iy = oy * g.sh + ky - g.padTop;
          if (iy < 0 || iy >= g.H) continue;
          for (let kx = 0; kx < g.fw; kx++) {
            const ix = ox * g.sw + kx - g.padLeft;
            if (ix < 0 || ix >= g.Wd) continue;
            for (let ci = 0; ci < g.C; ci++) {
              const xi = (iy * g.Wd + ix) * g.C + ci;
              dW[((ky * g.fw + kx) * g.C + ci) * g.cout + co]! += x[xi]! * d;
              dx[xi]! += layer.W[ky]![kx]![ci]![co]! * d;
            }
          }
        }
      }
    }
  }
  return { dW, db, dx };
}

function activate(act: Activation, z: number[], lastDim: number): number[] {
  switch (act) {
    case 'linear': return z.slice();
    case 'relu': return z.map((v) => (v > 0 ? v : 0));
    case 'tanh': return z.map((v) => Math.tanh(v));
    case 'sigmoid': return z.map((v) => 1 / (1 + Math.exp(-v)));
    case 'softmax': {
      const a = new Array<number>(z.length);
      for (let p = 0; p < z.length; p += lastDim) {
        let m = -Infinity;
        for (let j = 0; j < lastDim; j++) m = Math.max(m, z[p + j]!);
        let s = 0;
        for (let j = 0; j < lastDim; j++) { a[p + j] = Math.exp(z[p + j]! - m); s += a[p + j]!; }
        for (let j = 0; j < lastDim; j++) a[p + j] = a[p + j]! / s;
      }
      return a;
    }
  }
}

/** dz from da, given z and a = act(z). relu'(0) = 0 as tfjs' step(). */
function activationBackward(act: Activation, z: number[], a: number[], da: number[], lastDim: number): number[] {
  switch (act) {
    case 'linear': return da.slice();
    case 'relu': return da.map((d, i) => (z[i]! > 0 ? d : 0));
    case 'tanh': return da.map((d, i) => d * (1 - a[i]! * a[i]!));
    case 'sigmoid': return da.map((d, i) => d * a[i]! * (1 - a[i]!));
    case 'softmax': {
      const dz = new Array<number>(z.length);
      for (let p = 0; p < z.length; p += lastDim) {
        let s = 0;
        for (let j = 0; j < lastDim; j++) s += da[p + j]! * a[p + j]!;
        for (let j = 0; j < lastDim; j++) dz[p + j] = a[p + j]! * (da[p + j]! - s);
      }
      return dz;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Losses (tfjs-layers losses.js)

const clip = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
// All clips below use the float32-rounded bounds of clipBounds(eps).
/** tfjs ClipByValue gradient: passes where lo <= v <= hi (inclusive), zero elsewhere. */
const clipPass = (v: number, lo: number, hi: number): boolean => v >= lo && v <= hi;

function sparseIndices(y: Target, P: number): number[] {
  const idx = typeof y === 'number' ? [y] : Array.from(y);
  if (idx.length !== P) throw new Error(`sparse target: expected ${P} class indices, got ${idx.length}`);
  return idx.map((v) => Math.floor(v));
}

function denseTarget(y: Target, n: number): number[] {
  if (typeof y === 'number') throw new Error('this loss needs a target array, not a class index');
  const t = Array.from(y);
  if (t.length !== n) throw new Error(`target: expected ${n} values, got ${t.length}`);
  return t;
}

/**
 * tfjs categoricalCrossentropy (fromLogits = false) on one position: q = o / Σo;
 * c = clip(q, eps, 1 − eps); ℓ = −Σ y log c. Returns ℓ and dℓ/do (through the clip and the
 * normalisation).
 */
function cceRow(o: number[], y: number[], eps: number): { loss: number; dO: number[] } {
  const [lo, hi] = clipBounds(eps);
  const K = o.length;
  let s = 0;
  for (const v of o) s += v;
  const q = o.map((v) => v / s);
  const c = q.map((v) => clip(v, lo, hi));
  let loss = 0;
  for (let j = 0; j < K; j++) loss -= y[j]! * Math.log(c[j]!);
  const dq = q.map((v, j) => (clipPass(v, lo, hi) ? -y[j]! / c[j]! : 0));
  // q_j = o_j / s  ⇒  dO_m = dq_m / s − Σ_j dq_j o_j / s²
  let t = 0;
  for (let j = 0; j < K; j++) t += dq[j]! * o[j]!;
  const dO = dq.map((d) => d / s - t / (s * s));
  return { loss, dO };
}

/** Per-example loss and dℓ/d(output), for a flat output of shape `outShape`. */
export function lossAndGrad(
  loss: LossName, out: number[], outShape: number[], y: Target, eps = EPSILON,
): { loss: number; dOut: number[] } {
  const K = outShape[outShape.length - 1]!;
  const P = out.length / K;
  const dOut = new Array<number>(out.length).fill(0);
  let total = 0;
  if (loss === 'meanSquaredError') {
    const t = denseTarget(y, out.length);
    for (let i = 0; i < out.length; i++) {
      const r = out[i]! - t[i]!;
      total += (r * r) / K;
      dOut[i] = (2 * r) / K / P;
    }
    return { loss: total / P, dOut };
  }
  if (loss === 'categoricalCrossentropy') {
    const t = denseTarget(y, out.length);
    for (let p = 0; p < P; p++) {
      const r = cceRow(out.slice(p * K, p * K + K), t.slice(p * K, p * K + K), eps);
      total += r.loss;
      for (let j = 0; j < K; j++) dOut[p * K + j] = r.dO[j]! / P;
    }
    return { loss: total / P, dOut };
  }
  // sparseCategoricalCrossentropy: clip the output first, then the full categoricalCrossentropy
  // (normalise by the sum of the clipped output, clip again, −log).
  const idx = sparseIndices(y, P);
  const [lo, hi] = clipBounds(eps);
  for (let p = 0; p < P; p++) {
    const o = out.slice(p * K, p * K + K);
    const oc = o.map((v) => clip(v, lo, hi));
    const oneHot = new Array<number>(K).fill(0);
    const cls = idx[p]!;
    if (cls >= 0 && cls < K) oneHot[cls] = 1; // tfjs oneHot of an out-of-range index is all zeros
    const r = cceRow(oc, oneHot, eps);
    total += r.loss;
    for (let j = 0; j < K; j++) dOut[p * K + j] = clipPass(o[j]!, lo, hi) ? r.dO[j]! / P : 0;
  }
  return { loss: total / P, dOut };
}

// ---------------------------------------------------------------------------------------------
// Forward / backward

interface Trace {
  inputs: number[][];
  inShapes: number[][];
  z: (number[] | null)[];
  a: number[][];
}

function runForward(model: RefModel, x: ArrayLike<number>): Trace {
  const n0 = prod(model.inputShape);
  if (x.length !== n0) throw new Error(`input: expected ${n0} values for shape [${model.inputShape}], got ${x.length}`);
  let cur = Array.from(x);
  let shape = model.inputShape;
  const tr: Trace = { inputs: [], inShapes: [], z: [], a: [] };
  for (const layer of model.layers) {
    tr.inputs.push(cur);
    tr.inShapes.push(shape);
    const os = outShapeOf(layer, shape);
    if (layer.kind === 'flatten') {
      tr.z.push(null);
      tr.a.push(cur);
    } else {
      const z = linearForward(layer, cur, shape);
      const a = activate(layer.activation ?? 'linear', z, os[os.length - 1]!);
      tr.z.push(z);
      tr.a.push(a);
      cur = a;
    }
    shape = os;
  }
  return tr;
}

/** The model's output for one example (flat, row-major in {@link outputShape}). */
export function forward(model: RefModel, x: ArrayLike<number>): number[] {
  const tr = runForward(model, x);
  return tr.a.length ? tr.a[tr.a.length - 1]! : Array.from(x);
}

/** ℓ(θ; x, y) for one example. */
export function exampleLoss(model: RefModel, x: ArrayLike<number>, y: Target): number {
  return lossAndGrad(model.loss, forward(model, x), outputShape(model), y, model.epsilon ?? EPSILON).loss;
}

/** One example's loss, dℓ/dθ (trainableWeights order) and dℓ/dx, by an exact backward pass. */
export function exampleGrads(model: RefModel, x: ArrayLike<number>, y: Target): ExampleGrads {
  const tr = runForward(model, x);
  const out = tr.a.length ? tr.a[tr.a.length - 1]! : Array.from(x);
  const { loss, dOut } = lossAndGrad(model.loss, out, outputShape(model), y, model.epsilon ?? EPSILON);
  const perLayer: number[][] = new Array(model.layers.length);
  let d = dOut;
  for (let li = model.layers.length - 1; li >= 0; li--) {
    const layer = model.layers[li]!;
    if (layer.kind === 'flatten') { perLayer[li] = []; continue; }
    const inShape = tr.inShapes[li]!;
    const outLast = outShapeOf(layer, inShape).slice(-1)[0]!;
    const dz = activationBackward(layer.activation ?? 'linear', tr.z[li]!, tr.a[li]!, d, outLast);
    const { dW, db, dx } = linearBackward(layer, tr.inputs[li]!, inShape, dz);
    perLayer[li] = db ? [...dW, ...db] : dW;
    d = dx;
  }
  const dTheta: number[] = [];
  for (const g of perLayer) for (const v of g) dTheta.push(v);
  return { loss, dTheta, dX: d, output: out };
}
