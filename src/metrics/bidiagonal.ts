/**
 * The largest eigenvalue of a symmetric tridiagonal matrix `T` — here `T = BᵀB` for an upper
 * bidiagonal `B`, so that it is `σ_max(B)²` — to a proven relative tolerance, in O(n) per pass.
 *
 * Two facts do the work:
 * - **Inertia.** `x > λ_max(T)` exactly when `xI − T` is positive definite, i.e. when every
 *   leading principal minor `p_k(x) = det(xI − T)[0..k)` is positive (Sylvester). The minors
 *   obey `p_k = (x − t_k) p_{k−1} − e_{k−1}² p_{k−2}`, so only the squared off-diagonal `e²` is
 *   needed. The test is backward stable, as in bisection (Barth, Martin & Wilkinson, Numer.
 *   Math. 9, 1967): each rounding error can be pushed into a diagonal entry (a few ulps of
 *   `|x| + |t_k|`) or a squared off-diagonal (a few ulps relative), so the answer is exact for a
 *   matrix that close to `T`.
 * - **Interlacing.** The leading `k × k` block `T_k` has `λ_max(T_k) ≤ λ_max(T)` (Cauchy). For the
 *   random matrices of the stable-rank estimate the top eigenvector lives in the first few dozen
 *   rows, so `λ_max(T_k)` for a small `k` is already within the tolerance, and one inertia pass
 *   over all `n` rows at a point just above it proves that. If the proof fails, `k` doubles.
 *
 * `λ_max(T_k)` itself comes from Laguerre's method started above the spectrum: for a polynomial
 * with real roots it decreases monotonically to the largest root, cubically at the end (Parlett,
 * "Laguerre's method applied to the matrix eigenvalue problem", Math. Comp. 18, 1964; Li & Zeng,
 * SIAM J. Sci. Comput. 15, 1994). Every iterate is checked by the inertia test and kept in a
 * bracket, with bisection as the fallback, so round-off can slow it but not mislead it.
 */

/** A symmetric tridiagonal matrix by what its eigenvalues depend on. */
export interface SymmetricTridiagonal {
  readonly n: number;
  /** `T[i][i]`, length `n`. */
  readonly diag: Float64Array;
  /** `T[i][i+1]²`, length `n − 1` (at least). */
  readonly offSq: Float64Array;
}

/** A bracket `lo ≤ λ_max < hi` of a block's largest eigenvalue. */
interface EigenBracket {
  readonly lo: number;
  readonly hi: number;
}

export interface LargestEigenvalueOptions {
  /** Relative tolerance of the result (default 1e-10; from 1e-14 to 1e-2). */
  readonly relTol?: number;
  /** Rows of the leading block tried first (default `n`); only the speed depends on it. */
  readonly firstBlock?: number;
}

/**
 * `BᵀB` for the upper bidiagonal `B` with `B[i][i]² = diagSq[i]` and `B[i][i+1]² = superSq[i]`:
 * `(BᵀB)[i][i] = B[i][i]² + B[i−1][i]²`, `(BᵀB)[i][i+1] = B[i][i]·B[i][i+1]`.
 */
export function gramOfUpperBidiagonal(
  diagSq: Float64Array,
  superSq: Float64Array,
  out: SymmetricTridiagonal = { n: diagSq.length, diag: new Float64Array(diagSq.length), offSq: new Float64Array(Math.max(0, diagSq.length - 1)) },
): SymmetricTridiagonal {
  const n = diagSq.length;
  let above = 0;
  for (let i = 0; i < n; i++) {
    out.diag[i] = diagSq[i]! + above;
    if (i < n - 1) {
      out.offSq[i] = diagSq[i]! * superSq[i]!;
      above = superSq[i]!;
    }
  }
  return out;
}

/**
 * Whether `x > λ_max` of the leading `rows × rows` block of `t`: all leading minors of `xI − T`
 * positive. The minors are carried divided by `|x|` per row (so that for `x` near the spectrum
 * they do not grow) and renormalised every 16 rows (so that they neither overflow nor underflow).
 */
export function exceedsSpectrum(t: SymmetricTridiagonal, x: number, rows = t.n): boolean {
  if (rows === 0) return true;
  const { diag, offSq } = t;
  const s = x !== 0 ? 1 / Math.abs(x) : 1;
  const xs = x * s;
  const s2 = s * s;
  let prev = 1;
  let cur = xs - diag[0]! * s;
  if (!(cur > 0)) return false;
  for (let k = 1; k < rows; k++) {
    const next = (xs - diag[k]! * s) * cur - offSq[k - 1]! * s2 * prev;
    if (!(next > 0)) return false;
    prev = cur;
    cur = next;
    if ((k & 15) === 0) {
      prev /= cur;
      cur = 1;
    }
  }
  return true;
}

/** `λ_max(T)` to relative tolerance `relTol` (see the module comment for the method). */
export function largestEigenvalue(t: SymmetricTridiagonal, opts: LargestEigenvalueOptions = {}): number {
  const { relTol = 1e-10, firstBlock = t.n } = opts;
  if (!(relTol >= 1e-14 && relTol <= 1e-2)) throw new RangeError(`largestEigenvalue: relTol must be in [1e-14, 1e-2], got ${relTol}`);
  if (!Number.isInteger(firstBlock) || firstBlock < 1) {
    throw new RangeError(`largestEigenvalue: firstBlock must be a positive integer, got ${firstBlock}`);
  }
  if (t.n === 0) throw new RangeError('largestEigenvalue: empty matrix');
  for (let k = Math.min(t.n, firstBlock); ; k = Math.min(t.n, 2 * k)) {
    const { lo, hi } = leadingBlockBracket(t, k, relTol / 2);
    if (k === t.n) return 0.5 * (lo + hi);
    // λ_max(T) ≥ λ_max(T_k) ≥ lo; if x passes the inertia test on all of T, λ_max(T) < x.
    const x = nudgeUp(hi, relTol / 2);
    if (exceedsSpectrum(t, x)) return 0.5 * (lo + x);
  }
}

/** Sums over the eigenvalues `λ_j` of a block: `g = Σ 1/(x − λ_j)`, `h = Σ 1/(x − λ_j)²`. */
interface Resolvent {
  readonly g: number;
  readonly h: number;
}

/**
 * `g` and `h` at `x` for the leading `rows` rows, or `null` when `x` is not above that block's
 * spectrum. From the pivots `r_k = p_k/p_{k−1} = x − t_k − e_{k−1}²/r_{k−1}` and their first two
 * derivatives in `x`: `g = (ln p)' = Σ r'/r`, `h = −(ln p)'' = Σ (r'/r)² − r''/r`.
 */
function resolventAbove(t: SymmetricTridiagonal, x: number, rows: number): Resolvent | null {
  const { diag, offSq } = t;
  let r = x - diag[0]!;
  if (!(r > 0)) return null;
  let inv = 1 / r;
  let dr = 1;
  let ddr = 0;
  let g = inv;
  let h = inv * inv;
  for (let k = 1; k < rows; k++) {
    const q = offSq[k - 1]! * inv; // e²/r
    const qInv = q * inv; // e²/r²
    ddr = qInv * (ddr - 2 * dr * dr * inv);
    dr = 1 + qInv * dr;
    r = x - diag[k]! - q;
    if (!(r > 0)) return null;
    inv = 1 / r;
    const a = dr * inv;
    g += a;
    h += a * a - ddr * inv;
  }
  return { g, h };
}

/**
 * A proven bracket of `λ_max` of the leading `rows × rows` block, `hi − lo ≤ relTol·|hi|`.
 * Starts from `lo = max_i t_ii` (a Rayleigh quotient) and `hi` = the Gershgorin bound; each
 * step is Laguerre's from `hi` (degree `rows`), or bisection when that leaves the bracket or
 * after 40 steps. Laguerre only ever lowers `hi`, so at the end a probe just below `hi`
 * closes the bracket from below.
 */
function leadingBlockBracket(t: SymmetricTridiagonal, rows: number, relTol: number): EigenBracket {
  let lo = -Infinity;
  let hi = -Infinity;
  for (let i = 0; i < rows; i++) {
    const up = i > 0 ? Math.sqrt(t.offSq[i - 1]!) : 0;
    const down = i < rows - 1 ? Math.sqrt(t.offSq[i]!) : 0;
    lo = Math.max(lo, t.diag[i]!);
    hi = Math.max(hi, t.diag[i]! + up + down);
  }
  if (!Number.isFinite(hi)) throw new RangeError(`largestEigenvalue: the matrix has non-finite entries (Gershgorin bound ${hi})`);
  hi = nudgeUp(hi, 4 * Number.EPSILON);
  let at: Resolvent | null = resolventAbove(t, hi, rows);
  for (let tries = 0; at === null; tries++) {
    if (tries === 60) throw new RangeError('largestEigenvalue: the inertia test fails above the Gershgorin bound');
    hi = nudgeUp(hi, 1e-12 * 2 ** tries); // only when round-off makes the Gershgorin bound a tie
    at = resolventAbove(t, hi, rows);
  }
  // 200 steps bound the work when λ_max ≈ 0 and no relative tolerance can be met.
  for (let step = 0; hi - lo > relTol * Math.abs(hi) && step < 200; step++) {
    const probe = 0.5 * relTol * Math.abs(hi);
    const gap = laguerreStep(at, rows);
    // Laguerre converges cubically, so once its step is under `probe` (or unusable: ~0, NaN)
    // the eigenvalue is above `hi − probe`, and one probe there closes the bracket.
    let x = gap > probe ? hi - gap : hi - probe;
    if (!(x > lo && x < hi) || step >= 40) x = 0.5 * (lo + hi);
    const next = resolventAbove(t, x, rows);
    if (next === null) lo = x;
    else {
      hi = x;
      at = next;
    }
  }
  return { lo, hi };
}

function nudgeUp(v: number, rel: number): number {
  return v + Math.max(Math.abs(v), 1e-300) * rel;
}

/** Laguerre's step `n / (g + √((n−1)(n h − g²)))` for a degree-`n` polynomial with real roots. */
function laguerreStep({ g, h }: Resolvent, n: number): number {
  return n / (g + Math.sqrt(Math.max(0, (n - 1) * (n * h - g * g))));
}
