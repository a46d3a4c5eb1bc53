/**
 * A weighted layer's share of the per-example gradients h_i, in whatever form its rule keeps
 * them (factored for Dense, materialised for convolutions), and what every form must answer:
 * Gram tiles, norms, the rows themselves, their mean, and differences between two passes.
 * The engine (perExample.ts) sums or concatenates these over the layers.
 */
import { tf } from '../../backend/tf.js';

/** Which examples: a half-open range `[start, end)` of the batch, or explicit indices. */
export type Rows = readonly [start: number, end: number] | Int32Array;

/** Backends whose tensors live in this process's memory, where copying rows on the host is cheap. */
const HOST_MEMORY_BACKENDS = new Set(['wasm', 'cpu']);

/**
 * The rows `rows` of `t` along its first axis. Explicit indices are copied row by row on the
 * wasm and cpu backends: wasm's Gather kernel goes element by element (256 of 1,024 rows of 784
 * floats: 6.5 ms, against 0.5 ms copied), which made the sub-batch approximation slower than
 * the exact Gram matrix it replaces.
 */
export function takeRows<T extends tf.Tensor>(t: T, rows: Rows): T {
  if (rows instanceof Int32Array) {
    if (!HOST_MEMORY_BACKENDS.has(tf.getBackend())) return tf.tidy(() => tf.gather(t, tf.tensor1d(rows, 'int32'))) as T;
    return copyRows(t, rows);
  }
  const [start, end] = rows;
  return start === 0 && end === t.shape[0] ? t : (tf.slice(t, start, end - start) as T);
}

function copyRows<T extends tf.Tensor>(t: T, rows: Int32Array): T {
  const n = t.shape[0];
  const width = n === 0 ? 0 : t.size / n;
  const data = t.dataSync();
  const out = new (data.constructor as new (length: number) => typeof data)(rows.length * width);
  rows.forEach((r, k) => {
    if (!(r >= 0 && r < n)) throw new RangeError(`row ${r} is outside [0, ${n})`);
    (out as Float32Array).set((data as Float32Array).subarray(r * width, (r + 1) * width), k * width);
  });
  return tf.tensor(out, [rows.length, ...t.shape.slice(1)], t.dtype) as T;
}

/**
 * Every method returns a new tensor the caller owns; tensors made inside are tidied. Columns
 * follow the layer's trainable variables in `model.trainableWeights` order, each flattened
 * row-major.
 */
export interface LayerBlock {
  /** The rule that made it (e.g. 'dense'), or 'loop' for the exact per-example loop. */
  readonly kind: string;
  /** The layer's name ('' for the loop's block of all parameters). */
  readonly layer: string;
  /** Examples. */
  readonly b: number;
  /** Parameters: the length of this block's part of each h_i. */
  readonly size: number;
  /** `⟨h_i, h_j⟩` over this block's parameters, for `i` in `rows` and `j` in `cols`. */
  gramTile(rows: Rows, cols: Rows): tf.Tensor2D;
  /** `‖h_i‖²` over this block's parameters, [b]. */
  normsSq(): tf.Tensor1D;
  /** The rows h_i, [b, size]. */
  materialize(): tf.Tensor2D;
  /** `mean_i h_i`, [size]. */
  mean(): tf.Tensor1D;
  /** `‖h_i(this) − h_i(before)‖²`, [b]; `before` is the same layer's block from another pass. */
  diffNormsSq(before: LayerBlock): tf.Tensor1D;
  dispose(): void;
}

/**
 * A block whose rows are formed explicitly by `make` (called once, on first use, so that a pass
 * used only for input gradients never pays for them), plus optional cheaper `mean`.
 * `owned` are the tensors `make` reads; they are disposed with the block.
 */
export function materializedBlock(spec: {
  kind: string;
  layer: string;
  b: number;
  size: number;
  make: () => tf.Tensor2D;
  owned: tf.Tensor[];
}): LayerBlock {
  let h: tf.Tensor2D | null = null;
  const rows = (): tf.Tensor2D => {
    if (h === null) h = tf.keep(tf.tidy(spec.make)); // kept: callers may be inside their own tidy
    return h;
  };
  return {
    kind: spec.kind,
    layer: spec.layer,
    b: spec.b,
    size: spec.size,
    gramTile: (r, c) => tf.tidy(() => {
      const hr = takeRows(rows(), r);
      return tf.matMul(hr, r === c ? hr : takeRows(rows(), c), false, true);
    }),
    normsSq: () => tf.tidy(() => rows().square().sum(1)),
    materialize: () => rows().clone(),
    mean: () => tf.tidy(() => rows().mean(0)),
    diffNormsSq: (before) => tf.tidy(() => {
      const h0 = before.materialize();
      return rows().sub(h0).square().sum(1);
    }),
    dispose: () => {
      tf.dispose(spec.owned);
      if (h !== null) h.dispose();
    },
  };
}

/**
 * Rows per tile of the Gram matrix. Up to this many examples the Gram matrix is one product per
 * factor: on wasm, XNNPACK runs a product at ~28 GFlop/s whatever its shape, and below this size
 * the copies that tiles need cost more than the half of the products they save (b = 1024, MLP:
 * tiles of 256 rows 2.2×, one product 1.8× a training step, CPU time). Above it, strips bound the
 * temporary memory and save up to half the products.
 */
export const GRAM_TILE_ROWS = 1024;

/**
 * The symmetric `[b, b]` matrix whose tiles `tile(rows, cols)` gives, computing only the tiles on
 * and below the diagonal in column strips of `tileRows`: strip `k` is
 * `tile([r_k, b), [r_k, r_k + t))`; the lower triangle `L` of strips, with its diagonal tiles
 * halved, gives `G = L + Lᵀ` (exactly symmetric). Temporary memory is a few `b × b` matrices plus
 * one strip's work, so it stays bounded by the result's own size.
 */
export function symmetricFromTiles(b: number, tile: (rows: Rows, cols: Rows) => tf.Tensor2D, tileRows = GRAM_TILE_ROWS): tf.Tensor2D {
  return tf.tidy(() => {
    if (b <= tileRows) return tile([0, b], [0, b]);
    const strips: tf.Tensor2D[] = [];
    for (let start = 0; start < b; start += tileRows) {
      const width = Math.min(tileRows, b - start);
      const strip = tile([start, b], [start, start + width]); // [b − start, width]
      const diagonal = strip.slice([0, 0], [width, width]).mul(0.5);
      const below = strip.slice([width, 0], [b - start - width, width]);
      strips.push(tf.concat([tf.zeros([start, width]), diagonal, below], 0) as tf.Tensor2D);
    }
    const lower = tf.concat(strips, 1) as tf.Tensor2D;
    return lower.add(lower.transpose()) as tf.Tensor2D;
  });
}
