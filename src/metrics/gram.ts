/**
 * A small float64 symmetric matrix (a Gram matrix of gradient samples) and the few pieces of
 * linear algebra the metrics need. Everything here is plain float64 arithmetic: no tfjs.
 */

/** An `n × n` symmetric matrix, row-major: entry `(i, j)` is `data[i * n + j]`. */
export interface Gram {
  readonly n: number;
  readonly data: Float64Array;
}

/** Wraps `data` as an `n × n` Gram matrix, checking the size (not the symmetry). */
export function makeGram(n: number, data: Float64Array | readonly number[]): Gram {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`Gram size must be a non-negative integer, got ${n}`);
  if (data.length !== n * n) throw new RangeError(`Gram of size ${n} needs ${n * n} entries, got ${data.length}`);
  return { n, data: data instanceof Float64Array ? data : Float64Array.from(data) };
}

/** The Gram matrix `G_ij = ⟨v_i, v_j⟩` of equal-length vectors, in float64 (for tests and small cases). */
export function gramFromVectors(vectors: readonly ArrayLike<number>[]): Gram {
  const n = vectors.length;
  const data = new Float64Array(n * n);
  const len = n > 0 ? vectors[0]!.length : 0;
  for (let i = 0; i < n; i++) {
    const a = vectors[i]!;
    if (a.length !== len) throw new RangeError(`vector ${i} has length ${a.length}, expected ${len}`);
    for (let j = 0; j <= i; j++) {
      const b = vectors[j]!;
      let s = 0;
      for (let k = 0; k < len; k++) s += a[k]! * b[k]!;
      data[i * n + j] = s;
      data[j * n + i] = s;
    }
  }
  return { n, data };
}

/** Entry `(i, j)`. */
export function entry(g: Gram, i: number, j: number): number {
  return g.data[i * g.n + j]!;
}

/** `tr(G) = Σ_i G_ii`. */
export function trace(g: Gram): number {
  let s = 0;
  for (let i = 0; i < g.n; i++) s += g.data[i * g.n + i]!;
  return s;
}

/** `Σ_ij G_ij = ‖Σ_i v_i‖²` for a Gram matrix of vectors `v_i`. */
export function sumAll(g: Gram): number {
  let s = 0;
  for (let k = 0; k < g.data.length; k++) s += g.data[k]!;
  return s;
}

/** `Σ_j G_ij = ⟨v_i, Σ_j v_j⟩`. */
export function rowSum(g: Gram, i: number): number {
  let s = 0;
  for (let j = 0; j < g.n; j++) s += g.data[i * g.n + j]!;
  return s;
}

/**
 * `‖v_i − v_j‖² = G_ii + G_jj − 2 G_ij`. The difference of nearly equal numbers can come out a
 * few ulps below zero; only such round-off is clamped to 0 (a NaN stays NaN).
 */
export function distanceSq(g: Gram, i: number, j: number): number {
  const d = entry(g, i, i) + entry(g, j, j) - 2 * entry(g, i, j);
  return d < 0 ? 0 : d;
}

/** The principal submatrix on `indices` (in that order). */
export function subGram(g: Gram, indices: readonly number[]): Gram {
  const m = indices.length;
  const data = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    for (let b = 0; b < m; b++) data[a * m + b] = entry(g, indices[a]!, indices[b]!);
  }
  return { n: m, data };
}

/**
 * The largest eigenvalue of a symmetric matrix (for a Gram matrix, `λ_max(G) = ‖A‖₂²` where the
 * columns of `A` are the vectors). Up to {@link DENSE_EIGEN_MAX} rows: the dense solver
 * ({@link largestEigenvalueDense}, exact to round-off); above, Lanczos with a residual bound
 * ({@link largestEigenvalueSymmetric}), `O(k·n²)` for `k` steps instead of `O(n³)` (b = 1024:
 * about 2.7 s dense, tens of ms by Lanczos). NaN when the matrix holds a non-finite entry; 0 for
 * n = 0. The result is remembered per Gram object (stableRankW and rankW read the same matrix),
 * so a Gram matrix must not be changed after it is made.
 */
export function largestEigenvalue(g: Gram): number {
  const hit = eigenCache.get(g);
  if (hit !== undefined) return hit;
  const lambda = g.n <= DENSE_EIGEN_MAX ? largestEigenvalueDense(g) : largestEigenvalueSymmetric(g);
  eigenCache.set(g, lambda);
  return lambda;
}

/** Matrices up to this size take the dense `O(n³)` path (under a millisecond). */
export const DENSE_EIGEN_MAX = 64;

const eigenCache = new WeakMap<Gram, number>();

/**
 * The largest eigenvalue by Householder reduction to tridiagonal form, then Sturm-sequence
 * bisection: backward stable, no iteration count to tune, `O(n³)`.
 */
export function largestEigenvalueDense(g: Gram): number {
  const { diag, off } = tridiagonalize(g);
  return largestEigenvalueTridiagonal(diag, off);
}

/**
 * Householder tridiagonalization `QᵀGQ = T` of a symmetric matrix. Returns the diagonal of `T`
 * and its sub-diagonal (`off[i]` couples `i` and `i + 1`, length `n − 1`).
 */
export function tridiagonalize(g: Gram): { diag: Float64Array; off: Float64Array } {
  const n = g.n;
  const a = Float64Array.from(g.data);
  // Symmetrize against asymmetric round-off in the input.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const s = 0.5 * (a[i * n + j]! + a[j * n + i]!);
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  const diag = new Float64Array(n);
  const off = new Float64Array(Math.max(n - 1, 0));
  const v = new Float64Array(n);
  const w = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    // Reflect x = A[k+1.., k] onto a multiple of e_1.
    let scale = 0;
    for (let i = k + 1; i < n; i++) scale = Math.max(scale, Math.abs(a[i * n + k]!));
    if (scale === 0 || !Number.isFinite(scale)) {
      off[k] = scale === 0 ? 0 : NaN;
      continue;
    }
    let normSq = 0;
    for (let i = k + 1; i < n; i++) {
      const x = a[i * n + k]! / scale;
      v[i] = x;
      normSq += x * x;
    }
    const x0 = v[k + 1]!;
    const alpha = x0 >= 0 ? -Math.sqrt(normSq) : Math.sqrt(normSq);
    v[k + 1] = x0 - alpha;
    const vtv = normSq - 2 * alpha * x0 + alpha * alpha;
    off[k] = alpha * scale;
    if (vtv === 0) continue;
    const beta = 2 / vtv;
    // p = β A22 v, K = β (vᵀp) / 2, w = p − K v, A22 −= v wᵀ + w vᵀ.
    let vtp = 0;
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      for (let j = k + 1; j < n; j++) s += a[i * n + j]! * v[j]!;
      w[i] = beta * s;
      vtp += v[i]! * w[i]!;
    }
    const kk = (beta * vtp) / 2;
    for (let i = k + 1; i < n; i++) w[i] = w[i]! - kk * v[i]!;
    for (let i = k + 1; i < n; i++) {
      const vi = v[i]!;
      const wi = w[i]!;
      for (let j = k + 1; j < n; j++) a[i * n + j] = a[i * n + j]! - vi * w[j]! - wi * v[j]!;
    }
  }
  for (let i = 0; i < n; i++) diag[i] = a[i * n + i]!;
  if (n >= 2) off[n - 2] = a[(n - 1) * n + (n - 2)]!;
  return { diag, off };
}

/** How many eigenvalues of the tridiagonal `(diag, off)` are below `x` (Sturm sequence). */
function countBelow(diag: ArrayLike<number>, off: ArrayLike<number>, x: number, pivmin: number): number {
  let count = 0;
  let q = diag[0]! - x;
  if (Math.abs(q) < pivmin) q = -pivmin;
  if (q < 0) count++;
  for (let i = 1; i < diag.length; i++) {
    const e = off[i - 1]!;
    q = diag[i]! - x - (e * e) / q;
    if (Math.abs(q) < pivmin) q = -pivmin;
    if (q < 0) count++;
  }
  return count;
}

/**
 * The largest eigenvalue of the symmetric tridiagonal matrix with diagonal `diag` (length n) and
 * sub-diagonal `off` (length ≥ n − 1), by bisection to full float64 precision.
 */
export function largestEigenvalueTridiagonal(diag: ArrayLike<number>, off: ArrayLike<number>): number {
  const n = diag.length;
  if (n === 0) return 0;
  let lo = Infinity;
  let hi = -Infinity;
  let maxAbs = 0;
  let maxOffSq = 0;
  for (let i = 0; i < n; i++) {
    const left = i > 0 ? Math.abs(off[i - 1]!) : 0;
    const right = i < n - 1 ? Math.abs(off[i]!) : 0;
    lo = Math.min(lo, diag[i]! - left - right);
    hi = Math.max(hi, diag[i]! + left + right);
    maxAbs = Math.max(maxAbs, Math.abs(diag[i]!), left, right);
    if (i < n - 1) maxOffSq = Math.max(maxOffSq, off[i]! * off[i]!);
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return NaN;
  if (maxAbs === 0) return 0;
  const pivmin = Number.MIN_VALUE * 4 + 2.2250738585072014e-308 * Math.max(1, maxOffSq);
  // λ_max is the smallest x with all n eigenvalues below it: keep count(lo) < n ≤ count(hi).
  const pad = 2 * Number.EPSILON * maxAbs * n + pivmin;
  lo -= pad;
  hi += pad;
  for (let it = 0; it < 2000; it++) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (countBelow(diag, off, mid, pivmin) >= n) hi = mid;
    else lo = mid;
  }
  return 0.5 * (lo + hi);
}

/**
 * The largest eigenvalue of a symmetric operator given only by its product `out = A x`, by
 * Lanczos with full reorthogonalization. It stops when the top Ritz value has not moved by more
 * than `tol` (relative) on three consecutive steps, or after `n` steps (then it is exact up to
 * round-off). The start vector is fixed, so the result is deterministic.
 */
export function largestEigenvalueLanczos(
  n: number,
  matvec: (x: Float64Array, out: Float64Array) => void,
  tol = 1e-12,
): number {
  if (n === 0) return 0;
  const basis: Float64Array[] = [];
  const alphas: number[] = [];
  const betas: number[] = [];
  let q: Float64Array = new Float64Array(n).fill(1 / Math.sqrt(n));
  const w = new Float64Array(n);
  let theta = -Infinity;
  let still = 0;
  let nextUnit = 0;
  for (let j = 0; j < n; j++) {
    basis.push(q);
    matvec(q, w);
    let alpha = 0;
    for (let i = 0; i < n; i++) alpha += q[i]! * w[i]!;
    alphas.push(alpha);
    // Full reorthogonalization, twice ("twice is enough").
    for (let pass = 0; pass < 2; pass++) {
      for (const b of basis) {
        let c = 0;
        for (let i = 0; i < n; i++) c += b[i]! * w[i]!;
        for (let i = 0; i < n; i++) w[i] = w[i]! - c * b[i]!;
      }
    }
    let beta = 0;
    for (let i = 0; i < n; i++) beta += w[i]! * w[i]!;
    beta = Math.sqrt(beta);
    const next = largestEigenvalueTridiagonal(alphas, betas);
    if (!Number.isFinite(next)) return NaN;
    if (Math.abs(next - theta) <= tol * Math.abs(next)) still++;
    else still = 0;
    theta = next;
    if (j === n - 1 || still >= 3) break;
    const scaleRef = Math.max(Math.abs(theta), Math.abs(alpha), 1e-300);
    if (beta > 1e-13 * scaleRef) {
      const nq = new Float64Array(n);
      for (let i = 0; i < n; i++) nq[i] = w[i]! / beta;
      betas.push(beta);
      q = nq;
      continue;
    }
    // Invariant subspace found: continue with a fresh unit vector orthogonal to the basis, and a
    // zero coupling (the tridiagonal splits, its eigenvalues are the union).
    let fresh: Float64Array | undefined;
    while (nextUnit < n && fresh === undefined) {
      const u = new Float64Array(n);
      u[nextUnit++] = 1;
      for (let pass = 0; pass < 2; pass++) {
        for (const b of basis) {
          const c = dot(b, u);
          for (let i = 0; i < n; i++) u[i] = u[i]! - c * b[i]!;
        }
      }
      const norm = Math.sqrt(dot(u, u));
      if (norm > 0.5) {
        for (let i = 0; i < n; i++) u[i] = u[i]! / norm;
        fresh = u;
      }
    }
    if (fresh === undefined) break;
    betas.push(0);
    q = fresh;
    still = 0;
  }
  return theta;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Relative residual at which {@link largestEigenvalueSymmetric} stops: the eigenvalue is then
 * within 1e-7·λ_max in the worst case (a cluster of eigenvalues at the top), the float32 round-off
 * of the Gram entries themselves; with a gap below λ_max the error is about residual²/gap
 * (about 1e-12 on the bench models' Gram matrices, against the dense solver).
 */
export const EIGEN_TOL = 1e-7;

/**
 * The largest eigenvalue of a symmetric matrix by Lanczos with full reorthogonalization
 * (Golub & Van Loan, "Matrix Computations", 4th ed., §10.1), `O(k·n²)` for `k` steps. The top Ritz
 * value `θ ≤ λ_max` of the `k`-step tridiagonal `T_k` has residual `‖G y − θ y‖ = β_k |s_k|`
 * (`s` its unit eigenvector in `T_k`, `y = Q_k s`), so an eigenvalue of `G` lies within that
 * distance of `θ` (Parlett, "The Symmetric Eigenvalue Problem", Thm 4.5.1): it stops when
 * `β_k |s_k| ≤ tol · θ`, when the Krylov space is exhausted (`β_k ≈ 0`: `θ` is then exact), or after
 * `n` steps. The start vector is all-ones plus a fixed pseudo-random jitter: close to the top
 * eigenvector of a Gram matrix of mostly agreeing gradients (fast), yet not orthogonal to the top
 * eigenvector of any structured matrix; deterministic. NaN for a non-finite entry.
 */
export function largestEigenvalueSymmetric(g: Gram, tol = EIGEN_TOL): number {
  const { n, data: a } = g;
  if (n === 0) return 0;
  let maxAbs = 0;
  for (let k = 0; k < a.length; k++) {
    const v = a[k]!;
    if (!Number.isFinite(v)) return NaN;
    if (Math.abs(v) > maxAbs) maxAbs = Math.abs(v);
  }
  if (maxAbs === 0) return 0;
  // G x by rows, four partial sums per row (about 1.5× faster in V8 than one; the matrix is taken
  // as symmetric, as toGram makes it).
  const matvec = (x: Float64Array, out: Float64Array): void => {
    for (let i = 0; i < n; i++) {
      const row = i * n;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let j = 0;
      for (; j + 3 < n; j += 4) {
        s0 += a[row + j]! * x[j]!;
        s1 += a[row + j + 1]! * x[j + 1]!;
        s2 += a[row + j + 2]! * x[j + 2]!;
        s3 += a[row + j + 3]! * x[j + 3]!;
      }
      for (; j < n; j++) s0 += a[row + j]! * x[j]!;
      out[i] = s0 + s1 + s2 + s3;
    }
  };
  return lanczosTop(n, matvec, startVector(n), tol);
}

/** A fixed unit start vector: ones with a pseudo-random jitter in [−½, ½). */
function startVector(n: number): Float64Array {
  const q = new Float64Array(n);
  let state = 0x9e3779b9 ^ n;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    q[i] = 1 + (state / 4294967296 - 0.5);
  }
  const s = Math.sqrt(dot(q, q));
  for (let i = 0; i < n; i++) q[i] = q[i]! / s;
  return q;
}

/** Lanczos on `matvec` from the unit vector `q`, stopped by the residual bound (see above). */
function lanczosTop(n: number, matvec: (x: Float64Array, out: Float64Array) => void, q0: Float64Array, tol: number): number {
  const basis: Float64Array[] = [];
  const alphas: number[] = [];
  const betas: number[] = [];
  let q = q0;
  let theta = 0;
  for (let k = 0; k < n; k++) {
    basis.push(q);
    const w = new Float64Array(n);
    matvec(q, w);
    const alpha = dot(q, w);
    alphas.push(alpha);
    // Full reorthogonalization, twice ("twice is enough"); it also removes α q and β q_prev.
    for (let pass = 0; pass < 2; pass++) {
      for (const b of basis) {
        const c = dot(b, w);
        for (let i = 0; i < n; i++) w[i] = w[i]! - c * b[i]!;
      }
    }
    const beta = Math.sqrt(dot(w, w));
    theta = largestEigenvalueTridiagonal(alphas, betas);
    if (!Number.isFinite(theta)) return NaN;
    const scale = Math.max(Math.abs(theta), Math.abs(alpha), Number.MIN_VALUE);
    if (beta <= 1e-13 * scale) break; // the Krylov space is invariant: θ is an eigenvalue, the top one it holds
    if (beta * Math.abs(lastEigenvectorComponent(alphas, betas, theta)) <= tol * Math.abs(theta)) break;
    betas.push(beta);
    for (let i = 0; i < n; i++) w[i] = w[i]! / beta;
    q = w;
  }
  return theta;
}

/**
 * The last component of the unit eigenvector of the symmetric tridiagonal `(diag, off)` for its
 * eigenvalue `theta`, by two steps of inverse iteration; each solve of `(T − θI) x = r` is Gaussian
 * elimination with partial pivoting (LAPACK's dgttrf/dgtts2), with a zero pivot replaced by
 * `ε‖T‖`, as inverse iteration wants.
 */
function lastEigenvectorComponent(diag: readonly number[], off: readonly number[], theta: number): number {
  const n = diag.length;
  if (n === 1) return 1;
  let normT = 0;
  for (let i = 0; i < n; i++) normT = Math.max(normT, Math.abs(diag[i]!) + (i > 0 ? Math.abs(off[i - 1]!) : 0) + (i < n - 1 ? Math.abs(off[i]!) : 0));
  const tiny = Number.EPSILON * Math.max(normT, Number.MIN_VALUE);
  const d = Float64Array.from(diag, (v) => v - theta);
  const du = Float64Array.from({ length: n }, (_, i) => (i < n - 1 ? off[i]! : 0));
  const dl = Float64Array.from({ length: n }, (_, i) => (i < n - 1 ? off[i]! : 0));
  const du2 = new Float64Array(n);
  const swapped = new Uint8Array(n);
  for (let i = 0; i < n - 1; i++) {
    if (Math.abs(d[i]!) >= Math.abs(dl[i]!)) {
      if (d[i] === 0) d[i] = tiny;
      const l = dl[i]! / d[i]!;
      dl[i] = l;
      d[i + 1] = d[i + 1]! - l * du[i]!;
    } else {
      const l = d[i]! / dl[i]!;
      d[i] = dl[i]!;
      dl[i] = l;
      const t = du[i]!;
      du[i] = d[i + 1]!;
      d[i + 1] = t - l * d[i + 1]!;
      if (i < n - 2) {
        du2[i] = du[i + 1]!;
        du[i + 1] = -l * du[i + 1]!;
      }
      swapped[i] = 1;
    }
  }
  if (d[n - 1] === 0) d[n - 1] = tiny;
  let x = new Float64Array(n).fill(1);
  for (let it = 0; it < 2; it++) {
    const r = x;
    for (let i = 0; i < n - 1; i++) {
      if (swapped[i]) [r[i], r[i + 1]] = [r[i + 1]!, r[i]!];
      r[i + 1] = r[i + 1]! - dl[i]! * r[i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      const next = i + 1 < n ? du[i]! * r[i + 1]! : 0;
      const next2 = i + 2 < n ? du2[i]! * r[i + 2]! : 0;
      r[i] = (r[i]! - next - next2) / d[i]!;
    }
    let m = 0;
    for (const v of r) m = Math.max(m, Math.abs(v));
    if (!(m > 0) || !Number.isFinite(m)) return 1; // no usable direction: report no convergence
    x = Float64Array.from(r, (v) => v / m);
  }
  return x[n - 1]! / Math.sqrt(dot(x, x));
}
