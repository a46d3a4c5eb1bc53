/**
 * The float64 linear algebra the proxies need on small `n × n` matrices (n = batch size):
 * row correlations, and log-determinants by Cholesky (symmetric positive definite) or by LU
 * with partial pivoting (any square matrix, like `numpy.linalg.slogdet`). Plain arithmetic on
 * row-major Float64Arrays; no tfjs.
 */

/**
 * The Pearson correlation matrix of the `n` rows (length `d`) of a row-major matrix, as
 * `numpy.corrcoef` computes it; `{ constantRow: i }` when row `i` has no variance (its
 * correlations are undefined).
 */
export function rowCorrelation(rows: ArrayLike<number>, n: number, d: number): { matrix: Float64Array } | { constantRow: number } {
  const unit = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let mean = 0;
    for (let k = 0; k < d; k++) mean += rows[i * d + k]!;
    mean /= d;
    let sq = 0;
    for (let k = 0; k < d; k++) {
      const c = rows[i * d + k]! - mean;
      unit[i * d + k] = c;
      sq += c * c;
    }
    if (!(sq > 0)) return { constantRow: i };
    const inv = 1 / Math.sqrt(sq);
    for (let k = 0; k < d; k++) unit[i * d + k]! *= inv;
  }
  const matrix = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    matrix[i * n + i] = 1;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += unit[i * d + k]! * unit[j * d + k]!;
      matrix[i * n + j] = s;
      matrix[j * n + i] = s;
    }
  }
  return { matrix };
}

/** The lower Cholesky factor `L` (`A = L Lᵀ`) of a symmetric matrix, or null when `A` is not positive definite. */
export function cholesky(a: ArrayLike<number>, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let diag = a[j * n + j]!;
    for (let k = 0; k < j; k++) diag -= l[j * n + k]! * l[j * n + k]!;
    if (!(diag > 0)) return null; // also catches NaN
    const ljj = Math.sqrt(diag);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/**
 * `log det A` and `tr(A⁻¹)` of a symmetric positive definite matrix from its Cholesky factor:
 * `log det A = 2 Σ log L_jj` and `tr(A⁻¹) = ‖L⁻¹‖_F²` (columns of `L⁻¹` by forward
 * substitution). Null when `A` is not positive definite.
 */
export function logDetAndTraceInverse(a: ArrayLike<number>, n: number): { logDet: number; traceInverse: number } | null {
  const l = cholesky(a, n);
  if (!l) return null;
  let logDet = 0;
  for (let j = 0; j < n; j++) logDet += 2 * Math.log(l[j * n + j]!);
  let traceInverse = 0;
  const column = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    // Solve L v = e_c; v is zero above row c.
    for (let i = c; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= l[i * n + k]! * column[k]!;
      column[i] = s / l[i * n + i]!;
      traceInverse += column[i]! * column[i]!;
    }
  }
  return { logDet, traceInverse };
}

/**
 * `log |det A|` of a square matrix by LU with partial pivoting (the algorithm behind
 * `numpy.linalg.slogdet`). Null when `A` is singular to float64 precision: a pivot no larger
 * than `n · ε · ‖A‖∞`, where rounding alone could have produced it (numpy would return −∞ or
 * a meaningless large negative number).
 */
export function logAbsDet(a: ArrayLike<number>, n: number): number | null {
  const m = Float64Array.from(a);
  let normInf = 0;
  for (let i = 0; i < n; i++) {
    let row = 0;
    for (let j = 0; j < n; j++) row += Math.abs(m[i * n + j]!);
    normInf = Math.max(normInf, row);
  }
  const tolerance = n * Number.EPSILON * normInf;
  let logDet = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]!) > Math.abs(m[p * n + k]!)) p = i;
    const pivot = m[p * n + k]!;
    if (!(Math.abs(pivot) > tolerance)) return null;
    if (p !== k) {
      for (let j = k; j < n; j++) {
        const t = m[k * n + j]!;
        m[k * n + j] = m[p * n + j]!;
        m[p * n + j] = t;
      }
    }
    logDet += Math.log(Math.abs(pivot));
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k]! / pivot;
      if (f === 0) continue;
      for (let j = k + 1; j < n; j++) m[i * n + j]! -= f * m[k * n + j]!;
    }
  }
  return logDet;
}
