/**
 * Helpers shared by gradcond's kernel overrides. Every override is built from existing tfjs ops:
 * inside a kernel we wrap the incoming TensorInfos as Tensors, run ordinary `tf.*` ops inside a
 * `tf.tidy` (the engine does not record them on the gradient tape, because a kernel runs with
 * kernelDepth > 0), and return the resulting Tensor, which the engine accepts as the kernel output.
 */
import { tf } from '../tf.js';

/** A Tensor view of a kernel input. Engine-dispatched inputs already are Tensors. */
export function asTensor(info: tf.TensorInfo): tf.Tensor {
  if (info instanceof tf.Tensor) return info;
  // A bare TensorInfo (some backends call kernels with those): wrap it. makeTensorFromTensorInfo
  // does not take a backend reference on the data, but disposing the wrapper releases one, so take
  // one here; the wrapper is tracked by the enclosing tidy and released there, leaving the
  // caller's data alive.
  const engine = tf.engine();
  const t = engine.makeTensorFromTensorInfo(info);
  engine.backend.incRef(info.dataId);
  return t;
}

/** Normalises a `[h, w] | n` attribute to a pair. */
export function pair(v: number | [number, number] | number[] | undefined, dflt = 1): [number, number] {
  if (v == null) return [dflt, dflt];
  if (typeof v === 'number') return [v, v];
  if (v.length === 1) return [v[0]!, v[0]!];
  return [v[0]!, v[1]!];
}

/**
 * Makes `axis` of `x` exactly `size` long after adding `before` zeros in front: pads with zeros
 * at the start/end where needed, and crops the end where the tensor is longer than needed.
 * `before` may be negative (crops the start).
 */
export function padCropAxis(x: tf.Tensor, axis: number, before: number, size: number): tf.Tensor {
  let t = x;
  if (before < 0) {
    const begin = t.shape.map((_, i) => (i === axis ? -before : 0));
    const sz = t.shape.map((d, i) => (i === axis ? Math.max(0, d + before) : d));
    t = tf.slice(t, begin, sz);
    before = 0;
  }
  const len = t.shape[axis]!;
  const after = size - before - len;
  if (after < 0) {
    const begin = t.shape.map(() => 0);
    const sz = t.shape.map((d, i) => (i === axis ? len + after : d));
    t = tf.slice(t, begin, sz);
  }
  if (before > 0 || after > 0) {
    const pads = t.shape.map((_, i) => (i === axis ? [before, Math.max(0, after)] : [0, 0])) as Array<[number, number]>;
    t = tf.pad(t, pads);
  }
  return t;
}

/** Keeps every `step`-th element of `axis`, starting at 0 (exact, via slice + reshape). */
export function takeEvery(x: tf.Tensor, axis: number, step: number, count: number): tf.Tensor {
  if (step === 1) {
    if (x.shape[axis] === count) return x;
    return tf.slice(x, x.shape.map(() => 0), x.shape.map((d, i) => (i === axis ? count : d)));
  }
  // Make the axis exactly count*step long, reshape to [..., count, step, ...], take index 0.
  const t = padCropAxis(x, axis, 0, count * step);
  const shape = t.shape.slice();
  shape.splice(axis, 1, count, step);
  const r = tf.reshape(t, shape);
  const begin = shape.map(() => 0);
  const size = shape.map((d, i) => (i === axis + 1 ? 1 : d));
  const out = tf.slice(r, begin, size);
  const outShape = t.shape.slice();
  outShape[axis] = count;
  return tf.reshape(out, outShape);
}

/** Inserts `step - 1` zeros between consecutive elements of `axis` (length n -> (n-1)*step+1). */
export function dilateAxis(x: tf.Tensor, axis: number, step: number): tf.Tensor {
  const n = x.shape[axis]!;
  if (step === 1 || n <= 1) return x;
  const e = tf.expandDims(x, axis + 1);
  const pads = e.shape.map((_, i) => (i === axis + 1 ? [0, step - 1] : [0, 0])) as Array<[number, number]>;
  const p = tf.pad(e, pads);
  const shape = x.shape.slice();
  shape[axis] = n * step;
  return padCropAxis(tf.reshape(p, shape), axis, 0, (n - 1) * step + 1);
}

export type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];
export type Pad = 'valid' | 'same' | number | ExplicitPadding;

/** An NCHW padding attribute in NHWC order ([[0,0],[0,0],[t,b],[l,r]] → [[0,0],[t,b],[l,r],[0,0]]). */
export function toNHWCPad(pad: Pad): Pad {
  if (!Array.isArray(pad)) return pad;
  return [[0, 0], pad[2], pad[3], [0, 0]];
}
