/**
 * `E[R(Y)]` for a `d × b` matrix `Y` of independent standard Gaussians, `R(Y) = ‖Y‖_F² / ‖Y‖₂²`
 * (the normaliser of `rankX` and `rankW`, thesis eq. 3.20). Monte Carlo over `samples` draws
 * (default 256, at least 200), seeded from the shape alone, so that a shape gets the same
 * number in every process whatever else was computed before. The closed form `d·b/(√d+√b)²` is
 * not used: it is 2–56% off at small shapes (docs/metrics.md has a table).
 *
 * **The bidiagonal model** (Dumitriu & Edelman, "Matrix models for beta ensembles", J. Math.
 * Phys. 43, 2002, the case β = 1). `R` is invariant under transposition, so let `n = max(d, b)`
 * rows and `m = min(d, b)` columns. Golub–Kahan bidiagonalisation by Householder reflections,
 * `Y = U B Vᵀ`, gives an upper bidiagonal `m × m` matrix `B` with the singular values of `Y`:
 * - the first left reflection maps column 1 (`n` Gaussians) onto `e_1`: `B[0][0] = χ_n`;
 * - row 1 of the other `m − 1` columns is still i.i.d. Gaussian (the reflection is orthogonal
 *   and independent of them); the right reflection maps it onto `e_1`: `B[0][1] = χ_{m−1}`;
 * - what remains is an `(n − 1) × (m − 1)` i.i.d. Gaussian block, independent of both; repeat.
 *
 * So, all independent, `B[i][i] ~ χ_{n−i}` (i = 0..m−1) and `B[i][i+1] ~ χ_{m−1−i}`
 * (i = 0..m−2); check: `E‖B‖_F² = Σ(n−i) + Σ(m−1−i) = nm`. A draw of `R` then costs `2m − 1`
 * chi-squared variates, `‖Y‖_F² = tr(BᵀB)`, and `‖Y‖₂² = λ_max` of the tridiagonal `BᵀB`
 * (src/metrics/bidiagonal.ts, relative tolerance 1e-10), instead of an `m × m` Wishart matrix.
 */
import { largestEigenvalueLanczos } from './gram.js';
import { gramOfUpperBidiagonal, largestEigenvalue, type SymmetricTridiagonal } from './bidiagonal.js';

export const DEFAULT_STABLE_RANK_SAMPLES = 256;
export const MIN_STABLE_RANK_SAMPLES = 200;
/** Relative tolerance of each `‖Y‖₂²`. */
export const STABLE_RANK_EIGEN_TOL = 1e-10;

export interface StableRankEstimate {
  /** The Monte-Carlo mean of `R(Y)`. */
  readonly mean: number;
  /** Its standard error (sample standard deviation / √samples). */
  readonly stdError: number;
  readonly samples: number;
}

/** A few recent shapes: a draw is cheap now, but a metric asks for the same shape every step. */
const CACHE_SIZE = 32;
const cache = new Map<string, StableRankEstimate>();

/** `E[R(Y)]` for a `d × b` standard Gaussian `Y` (see the module comment). */
export function expectedStableRank(d: number, b: number, samples = DEFAULT_STABLE_RANK_SAMPLES): number {
  return expectedStableRankEstimate(d, b, samples).mean;
}

/** `E[R(Y)]` with its Monte-Carlo standard error; cached per (shape, samples). */
export function expectedStableRankEstimate(
  d: number,
  b: number,
  samples = DEFAULT_STABLE_RANK_SAMPLES,
): StableRankEstimate {
  checkArguments(d, b, samples);
  const m = Math.min(d, b);
  const n = Math.max(d, b);
  const key = `${m}x${n}/${samples}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const est = m === 1 ? { mean: 1, stdError: 0, samples } : monteCarlo(samples, bidiagonalStableRankDraws(n, m));
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, est);
  return est;
}

/** Forgets the cached estimates (for tests and benchmarks). */
export function clearExpectedStableRankCache(): void {
  cache.clear();
}

function checkArguments(d: number, b: number, samples: number): void {
  for (const [name, x] of [['d', d], ['b', b]] as const) {
    if (!Number.isSafeInteger(x) || x < 1) throw new RangeError(`expectedStableRank: ${name} must be a positive integer, got ${x}`);
  }
  if (!Number.isSafeInteger(samples) || samples < MIN_STABLE_RANK_SAMPLES) {
    throw new RangeError(`expectedStableRank: needs an integer number of samples ≥ ${MIN_STABLE_RANK_SAMPLES}, got ${samples}`);
  }
}

/** Mean and standard error of `samples` draws (Welford's update: no cancellation when R ≫ its spread). */
export function monteCarlo(samples: number, draw: () => number): StableRankEstimate {
  let mean = 0;
  let m2 = 0;
  for (let s = 1; s <= samples; s++) {
    const x = draw();
    const delta = x - mean;
    mean += delta / s;
    m2 += delta * (x - mean);
  }
  const variance = samples > 1 ? m2 / (samples - 1) : 0;
  return { mean, stdError: Math.sqrt(variance / samples), samples };
}

/**
 * A generator of independent draws of `R(Y)`, `Y` an `n × m` standard Gaussian (`n ≥ m ≥ 2`),
 * by the bidiagonal model, seeded from the shape.
 */
export function bidiagonalStableRankDraws(n: number, m: number, seed = shapeSeed(m, n)): () => number {
  const draw = gaussianBidiagonalDrawer(n, m, new Mulberry32Variates(seed));
  const entries = { diagSq: new Float64Array(m), superSq: new Float64Array(m - 1) };
  const t: SymmetricTridiagonal = { n: m, diag: new Float64Array(m), offSq: new Float64Array(m - 1) };
  const opts = { relTol: STABLE_RANK_EIGEN_TOL, firstBlock: edgeRows(n, m) };
  return () => {
    draw(entries);
    gramOfUpperBidiagonal(entries.diagSq, entries.superSq, t);
    let trace = 0;
    for (let i = 0; i < m; i++) trace += t.diag[i]!;
    return trace / largestEigenvalue(t, opts);
  };
}

/**
 * Draws the squared entries of the upper bidiagonal `B` whose singular values have the law of
 * those of an `n × m` standard Gaussian matrix, `n ≥ m ≥ 1`: `diagSq[i] ~ χ²_{n−i}`,
 * `superSq[i] ~ χ²_{m−1−i}`, all independent.
 */
export function gaussianBidiagonalDrawer(
  n: number,
  m: number,
  source: VariateSource,
): (out: { diagSq: Float64Array; superSq: Float64Array }) => void {
  if (!(Number.isSafeInteger(m) && m >= 1 && Number.isSafeInteger(n) && n >= m)) {
    throw new RangeError(`gaussianBidiagonal: needs integers n ≥ m ≥ 1, got n = ${n}, m = ${m}`);
  }
  const diag = chiSquaredFiller(Array.from({ length: m }, (_, i) => n - i), source);
  const upper = chiSquaredFiller(Array.from({ length: m - 1 }, (_, i) => m - 1 - i), source);
  return (out) => {
    diag(out.diagSq);
    upper(out.superSq);
  };
}

/**
 * Rows of `BᵀB` that hold its top eigenvector to far below the tolerance, for the first try of
 * `largestEigenvalue` (the full-matrix check makes the answer right whatever this says). Near
 * the spectral edge `BᵀB` acts like an Airy operator on `ℓ = (nm)^{1/3}/(√n+√m)^{2/3}` rows and
 * the eigenvector decays like `exp(−(2/3)(i/ℓ)^{3/2})`; measured over 300 draws each at shapes
 * from 10 × 10 to 10⁹ × 4096, the rows needed for 1e-10 were ≤ 7.6ℓ at the median and ≤ 12ℓ always.
 */
function edgeRows(n: number, m: number): number {
  const ell = Math.cbrt((n * m) / (Math.sqrt(n) + Math.sqrt(m)) ** 2);
  return Math.min(m, Math.ceil(12 * ell) + 16);
}

/** A 32-bit seed from the shape, so that the estimate of a shape does not depend on call order. */
export function shapeSeed(m: number, df: number): number {
  let h = 0x9e3779b9 ^ Math.imul(m, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h ^= Math.imul(df, 0xc2b2ae35) + (df / 2 ** 32 >>> 0);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Random variates.

/** Uniforms on the open interval (0, 1) and standard normals. */
export interface VariateSource {
  uniform(): number;
  normal(): number;
}

/**
 * The ziggurat of Marsaglia & Tsang ("The ziggurat method for generating random variables",
 * J. Stat. Softw. 5(8), 2000), 128 layers: `x_i` are the layers' right edges, `f_i = exp(−x_i²/2)`,
 * `k_i` the integer bound of each layer's part that lies wholly under the density.
 */
const ZIGGURAT = (() => {
  const layers = 128;
  const r = 3.442619855899; // right edge of the base layer
  const v = 9.91256303526217e-3; // area of each layer
  const scale = 2 ** 24; // |j| < 2²⁴ below
  const k = new Float64Array(layers);
  const w = new Float64Array(layers);
  const f = new Float64Array(layers);
  const q = v / Math.exp(-0.5 * r * r);
  k[0] = Math.floor((r / q) * scale);
  w[0] = q / scale;
  w[layers - 1] = r / scale;
  f[0] = 1;
  f[layers - 1] = Math.exp(-0.5 * r * r);
  let x = r;
  for (let i = layers - 2; i >= 1; i--) {
    const next = Math.sqrt(-2 * Math.log(v / x + Math.exp(-0.5 * x * x)));
    k[i + 1] = Math.floor((next / x) * scale);
    x = next;
    f[i] = Math.exp(-0.5 * x * x);
    w[i] = x / scale;
  }
  return { r, k, w, f };
})();

/**
 * Uniforms and ziggurat normals from the 32-bit words of mulberry32 (src/data/random.ts): for
 * the same seed, `mulberry32(seed)()` is `(word() >>> 0) / 2³²`. A class over integer words,
 * not closures over `mulberry32`'s floats, because V8 then keeps the state unboxed and inlines
 * the calls (measured: the sampler ran about 1.3× faster).
 */
export class Mulberry32Variates implements VariateSource {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  /** The next word of mulberry32, as a signed 32-bit integer. */
  word(): number {
    const a = (this.state = (this.state + 0x6d2b79f5) | 0);
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return t ^ (t >>> 14);
  }

  /** Uniform on (0, 1): the midpoints of the 2⁻³² grid, so `log` never sees 0. */
  uniform(): number {
    return ((this.word() >>> 0) + 0.5) * 2.3283064365386963e-10;
  }

  /**
   * A standard normal by the ziggurat: one word ~98.8% of the time. The low 7 bits choose the
   * layer and the other 25 (signed) the abscissa, so the two are independent (the original
   * reuses the layer bits in the abscissa).
   */
  normal(): number {
    const { r, k, w, f } = ZIGGURAT;
    for (;;) {
      const word = this.word();
      const i = word & 127;
      const j = word >> 7;
      const x = j * w[i]!;
      if (Math.abs(j) < k[i]!) return x;
      if (i === 0) return j > 0 ? r + this.normalTail() : -r - this.normalTail();
      if (f[i]! + this.uniform() * (f[i - 1]! - f[i]!) < Math.exp(-0.5 * x * x)) return x;
    }
  }

  /** `|z| − r` given `|z| > r` (Marsaglia 1964). */
  private normalTail(): number {
    const { r } = ZIGGURAT;
    for (;;) {
      const t = -Math.log(this.uniform()) / r;
      const y = -Math.log(this.uniform());
      if (y + y >= t * t) return t;
    }
  }
}

/** A filler of `out[i] ~ χ²_{dfs[i]} = 2·Gamma(dfs[i]/2)`, integer `dfs[i] ≥ 1` (see `gammaFiller`). */
export function chiSquaredFiller(dfs: ArrayLike<number>, source: VariateSource): (out: Float64Array) => void {
  const shapes = Array.from(dfs, (df) => {
    if (!Number.isInteger(df) || df < 1) throw new RangeError(`chiSquared: degrees of freedom must be positive integers, got ${df}`);
    return df / 2;
  });
  return gammaFiller(shapes, source, 2);
}

/**
 * A filler of `out[i] ~ scale·Gamma(shapes[i], 1)`, all independent, for drawing the same list
 * of shapes many times (Marsaglia & Tsang, "A simple method for generating gamma variables",
 * ACM TOMS 26(3), 2000). For shape `a ≥ 1`: `d·v` with `d = a − 1/3`, `v = (1 + c·x)³`,
 * `c = 1/√(9d)`, `x` normal, accepted when `u < 1 − 0.0331x⁴` (a squeeze, ~92% of draws) or
 * `ln u < x²/2 + d(1 − v + ln v)`; for `a < 1`, `Gamma(a + 1)·u^{1/a}`. About one normal and
 * one uniform per variate at any shape (a sum of `k` squared normals would cost `k`); `d`, `c`
 * are computed once per entry, and the loop is written out here because V8 would not inline a
 * helper into it (measured: 1.2× slower).
 */
export function gammaFiller(shapes: ArrayLike<number>, source: VariateSource, scale = 1): (out: Float64Array) => void {
  const n = shapes.length;
  const ds = new Float64Array(n);
  const cs = new Float64Array(n);
  const boost = new Float64Array(n); // 1/a for a < 1, else 0
  for (let i = 0; i < n; i++) {
    const a = shapes[i]!;
    if (!(a > 0 && a < Infinity)) throw new RangeError(`gamma: shape must be positive and finite, got ${a}`);
    ds[i] = (a < 1 ? a + 1 : a) - 1 / 3;
    cs[i] = 1 / Math.sqrt(9 * ds[i]!);
    boost[i] = a < 1 ? 1 / a : 0;
  }
  return (out) => {
    for (let i = 0; i < n; i++) {
      const d = ds[i]!;
      const c = cs[i]!;
      for (;;) {
        let x: number;
        let v: number;
        do {
          x = source.normal();
          v = 1 + c * x;
        } while (v <= 0);
        v = v * v * v;
        const u = source.uniform();
        const x2 = x * x;
        if (u < 1 - 0.0331 * x2 * x2 || Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) {
          out[i] = scale * d * v;
          break;
        }
      }
      if (boost[i]! > 0) out[i] = out[i]! * Math.pow(source.uniform(), boost[i]!);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// The earlier sampler, kept as an independent (slow, O(m²) memory and O(m²)+ time per draw)
// reference for tests and the benchmark.

/**
 * Draws of `R(Y)` for an `n × m` Gaussian by the Bartlett decomposition of `W = YᵀY ~
 * Wishart_m(I, n)`: `W = T Tᵀ`, `T` lower triangular with `T_ii = √χ²_{n−i}` and `N(0, 1)`
 * below the diagonal; `tr(W) = Σ T_ij²`, `λ_max(W)` by Lanczos on `x ↦ T(Tᵀx)`.
 */
export function bartlettStableRankDraws(n: number, m: number, seed = shapeSeed(m, n)): () => number {
  const rng = new Rng(seed);
  return () => sampleStableRankWishart(m, n, rng);
}

/**
 * One draw of `tr(W) / λ_max(W)`, `W ~ Wishart_m(I, df)`, `df ≥ m`, by the Bartlett
 * decomposition.
 */
export function sampleStableRankWishart(m: number, df: number, rng: Rng): number {
  // T lower triangular, row-major m × m.
  const t = new Float64Array(m * m);
  let tr = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < i; j++) {
      const z = rng.normal();
      t[i * m + j] = z;
      tr += z * z;
    }
    const c = rng.chiSquared(df - i);
    t[i * m + i] = Math.sqrt(c);
    tr += c;
  }
  const tmp = new Float64Array(m);
  const lambda = largestEigenvalueLanczos(m, (x, out) => {
    // tmp = Tᵀ x
    tmp.fill(0);
    for (let i = 0; i < m; i++) {
      const xi = x[i]!;
      const row = i * m;
      for (let j = 0; j <= i; j++) tmp[j] = tmp[j]! + t[row + j]! * xi;
    }
    // out = T tmp
    for (let i = 0; i < m; i++) {
      let s = 0;
      const row = i * m;
      for (let j = 0; j <= i; j++) s += t[row + j]! * tmp[j]!;
      out[i] = s;
    }
  });
  return tr / lambda;
}

/**
 * A small deterministic generator: xoshiro128** (seeded through splitmix32), 53-bit uniforms,
 * Box–Muller normals, Marsaglia–Tsang gammas. Kept as it was, independent of the new sampler's
 * mulberry32 words, ziggurat and gamma filler.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | undefined;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform on (0, 1) with 53 random bits (never exactly 0). */
  uniform(): number {
    for (;;) {
      const hi = this.nextUint32() >>> 5; // 27 bits
      const lo = this.nextUint32() >>> 6; // 26 bits
      const u = (hi * 67108864 + lo) / 9007199254740992;
      if (u > 0) return u;
    }
  }

  /** A standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const phi = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(phi);
    return r * Math.cos(phi);
  }

  /** Gamma(shape, 1), Marsaglia–Tsang; for shape < 1, Gamma(shape + 1) · U^(1/shape). */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new RangeError(`gamma shape must be positive, got ${shape}`);
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.uniform(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** χ²_k = Gamma(k/2, scale 2). */
  chiSquared(k: number): number {
    return 2 * this.gamma(k / 2);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
