/**
 * Dense: z = a W + c. On rank-2 inputs h_i = a_i ⊗ δ_i (and δ_i for the bias) is never formed for
 * the Gram matrix: ⟨h_i, h_j⟩ = (⟨a_i, a_j⟩ + 1)·⟨δ_i, δ_j⟩ (Goodfellow, "Efficient per-example
 * gradient computations", 2015), so a tile costs b²·(in + out) instead of b²·in·out. On rank > 2
 * inputs (Dense acts on the last axis) h_i = Σ_t a_it ⊗ δ_it is one batched product, materialised.
 */
import { tf } from '../../backend/tf.js';
import { type LayerBlock, type Rows, materializedBlock, takeRows } from './block.js';
import { type LayerRule, activationOf, exampleShape, sizeOf, unsupported, variableField } from './rule.js';

/** The factored block of a Dense layer on rank-2 inputs. */
function outerProductBlock(layer: string, a: tf.Tensor2D, delta: tf.Tensor2D, hasBias: boolean): LayerBlock {
  const [b, n] = a.shape;
  const m = delta.shape[1];
  const self: LayerBlock & { a: tf.Tensor2D; delta: tf.Tensor2D } = {
    kind: 'dense', layer, b, size: n * m + (hasBias ? m : 0), a, delta,
    gramTile: (r: Rows, c: Rows) => tf.tidy(() => {
      const [ar, dr] = [takeRows(a, r), takeRows(delta, r)];
      const aa = tf.matMul(ar, r === c ? ar : takeRows(a, c), false, true);
      const dd = tf.matMul(dr, r === c ? dr : takeRows(delta, c), false, true);
      return (hasBias ? aa.add(1) : aa).mul(dd) as tf.Tensor2D;
    }),
    normsSq: () => tf.tidy(() => {
      const aa = a.square().sum(1);
      return (hasBias ? aa.add(1) : aa).mul(delta.square().sum(1)) as tf.Tensor1D;
    }),
    materialize: () => tf.tidy(() => {
      const kernel = a.reshape([b, n, 1]).mul(delta.reshape([b, 1, m])).reshape([b, n * m]);
      return (hasBias ? tf.concat([kernel, delta], 1) : kernel) as tf.Tensor2D;
    }),
    mean: () => tf.tidy(() => {
      const kernel = tf.matMul(a, delta, true, false).div(b).reshape([-1]);
      return (hasBias ? tf.concat([kernel, delta.mean(0)], 0) : kernel) as tf.Tensor1D;
    }),
    // a'⊗δ' − a⊗δ = Δa⊗δ' + a⊗Δδ: squared norms from differences, never from expanded squares
    // (which cancel catastrophically in float32).
    diffNormsSq: (before) => tf.tidy(() => {
      if (!('a' in before)) throw new Error(`dense block ${layer}: the other pass has a different layout`);
      const { a: a0, delta: d0 } = before as typeof self;
      const da = a.sub(a0);
      const dd = delta.sub(d0);
      const sq = (t: tf.Tensor) => t.square().sum(1);
      const dot = (s: tf.Tensor, t: tf.Tensor) => s.mul(t).sum(1);
      const v = sq(da).mul(sq(delta)).add(sq(a0).mul(sq(dd))).add(dot(da, a0).mul(dot(delta, dd)).mul(2));
      return (hasBias ? v.add(sq(dd)) : v) as tf.Tensor1D;
    }),
    dispose: () => tf.dispose([a, delta]),
  };
  return self;
}

/** Σ_t a_it ⊗ δ_it for inputs [b, ..., n] and output-gradients [b, ..., m]: [b, n·m] (+ bias). */
function positionSumGrads(a: tf.Tensor, delta: tf.Tensor, hasBias: boolean): tf.Tensor2D {
  const b = a.shape[0];
  const n = a.shape[a.rank - 1];
  const m = delta.shape[delta.rank - 1];
  const a3 = a.reshape([b, -1, n]) as tf.Tensor3D;
  const d3 = delta.reshape([b, -1, m]) as tf.Tensor3D;
  const kernel = tf.matMul(a3, d3, true, false).reshape([b, n * m]);
  return (hasBias ? tf.concat([kernel, d3.sum(1)], 1) : kernel) as tf.Tensor2D;
}

export const denseRule: LayerRule = {
  kind: 'dense',
  classNames: ['Dense'],
  bind({ layer, outputShape }) {
    const kernel = variableField(layer, 'kernel');
    const bias = variableField(layer, 'bias');
    const out = exampleShape(outputShape);
    if (!kernel) return unsupported(`layer ${layer.name}: Dense without a kernel`);
    if (!out) return unsupported(`layer ${layer.name}: output shape ${JSON.stringify(outputShape)} is not fully known`);
    const act = activationOf(layer);
    const hasBias = bias !== null;
    const size = sizeOf(kernel) + sizeOf(bias);
    return {
      variables: bias ? [kernel, bias] : [kernel],
      probeShapes: [out],
      forward(input, [probe]) {
        const w = kernel.read() as tf.Tensor2D;
        const n = w.shape[0];
        const flat = input.rank === 2 ? (input as tf.Tensor2D) : input.reshape([-1, n]) as tf.Tensor2D;
        let z: tf.Tensor = tf.matMul(flat, w);
        if (input.rank !== 2) z = z.reshape([...input.shape.slice(0, -1), w.shape[1]]);
        if (bias) z = z.add(bias.read());
        return { output: act(z.add(probe!)), saved: [input] };
      },
      block([a], [delta]) {
        if (a!.rank === 2) return outerProductBlock(layer.name, a as tf.Tensor2D, delta as tf.Tensor2D, hasBias);
        return materializedBlock({
          kind: 'dense', layer: layer.name, b: a!.shape[0], size,
          make: () => positionSumGrads(a!, delta!, hasBias), owned: [a!, delta!],
        });
      },
    };
  },
};
