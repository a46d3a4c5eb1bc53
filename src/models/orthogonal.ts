/**
 * Seeded random orthogonal matrices, computed on the host in float64.
 *
 * A `rows × cols` matrix is orthogonal in the sense used for non-square kernels: its columns are
 * orthonormal when `rows ≥ cols` (`WᵀW = I`), its rows when `rows < cols` (`WWᵀ = I`), so the
 * shorter side is an orthonormal set. Times `gain`, the identity becomes `gain²·I`.
 *
 * The columns are the Gram–Schmidt orthonormalisation of a Gaussian matrix, which is the Q of
 * its QR factorisation with a positive diagonal in R, and so distributed uniformly (Haar) over
 * such matrices (Mezzadri, "How to generate random matrices from the classical compact groups",
 * 2007; used for initialisation by Saxe, McClelland & Ganguli, ICLR 2014). Gram–Schmidt is run
 * twice per column, which makes it orthogonal to rounding ("twice is enough", Giraud et al. 2005).
 *
 * Why not `tf.initializers.orthogonal`: it is orthogonal in the same sense (to ~1.5e-6 in
 * float32), but its float32 QR took 1.8 s for a 784×256 kernel on wasm and 72 s on cpu.
 */
import { mulberry32, normalSampler } from '../data/random.js';

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** `n` orthonormal vectors of length `m ≥ n`, from Gaussian draws. */
function orthonormalColumns(m: number, n: number, seed: number): Float64Array[] {
  const normal = normalSampler(mulberry32(seed));
  const q: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const v = Float64Array.from({ length: m }, normal);
    for (let pass = 0; pass < 2; pass++) {
      for (const u of q) {
        const d = dot(u, v);
        for (let i = 0; i < m; i++) v[i] -= d * u[i];
      }
    }
    const norm = Math.sqrt(dot(v, v));
    // A Gaussian vector lies in the span of fewer than m others with probability 0.
    if (!(norm > 1e-8)) throw new Error(`orthogonalMatrix: degenerate draw at column ${j} (seed ${seed})`);
    for (let i = 0; i < m; i++) v[i] /= norm;
    q.push(v);
  }
  return q;
}

/** A `rows × cols` row-major float64 matrix whose shorter side is orthonormal, times `gain`. */
export function orthogonalMatrix(rows: number, cols: number, seed: number, gain = 1): Float64Array {
  const tall = rows >= cols;
  const q = orthonormalColumns(tall ? rows : cols, tall ? cols : rows, seed);
  const out = new Float64Array(rows * cols);
  q.forEach((v, j) =>
    v.forEach((x, i) => {
      out[tall ? i * cols + j : j * cols + i] = gain * x;
    }),
  );
  return out;
}
