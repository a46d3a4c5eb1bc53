/**
 * `E[R(Y)]` for a `d × b` matrix `Y` of independent standard Gaussians, `R(Y) = ‖Y‖_F² / ‖Y‖₂²`
 * (the normaliser of `rankX` and `rankW`, thesis eq. 3.20). Monte Carlo over `samples`
 * matrices (default 256, at least 200), seeded from the shape alone, so that a shape gets the
 * same number in every process whatever else was computed before; cached per shape.
 *
 * No `d × b` matrix is formed (`d` can be the parameter count). With `m = min(d, b)` and
 * `df = max(d, b)`, `W = YᵀY` (or `YYᵀ`) is Wishart_m(I, df) and `R(Y) = tr(W) / λ_max(W)`.
 * `W` is sampled exactly by the Bartlett decomposition `W = T Tᵀ`, `T` lower triangular with
 * `T_ii = sqrt(χ²_{df−i})` (i = 0..m−1) and `T_ij ~ N(0, 1)` below the diagonal;
 * `tr(W) = Σ T_ij²` and `λ_max(W)` comes from Lanczos on `x ↦ T(Tᵀx)`.
 * The closed form `d·b/(√d+√b)²` is not used (METRICS.md: 4–27% off at small shapes).
 */
import { largestEigenvalueLanczos } from './gram.js';

export const DEFAULT_STABLE_RANK_SAMPLES = 256;
export const MIN_STABLE_RANK_SAMPLES = 200;

export interface StableRankEstimate {
  /** The Monte-Carlo mean of `R(Y)`. */
  readonly mean: number;
  /** Its standard error (sample standard deviation / √samples). */
  readonly stdError: number;
  readonly samples: number;
}

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
  for (const [name, x] of [['d', d], ['b', b]] as const) {
    if (!Number.isInteger(x) || x < 1) throw new RangeError(`expectedStableRank: ${name} must be a positive integer, got ${x}`);
  }
  if (!Number.isInteger(samples) || samples < MIN_STABLE_RANK_SAMPLES) {
    throw new RangeError(`expectedStableRank: needs at least ${MIN_STABLE_RANK_SAMPLES} samples, got ${samples}`);
  }
  const m = Math.min(d, b);
  const df = Math.max(d, b);
  const key = `${m}x${df}/${samples}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let est: StableRankEstimate;
  if (m === 1) {
    est = { mean: 1, stdError: 0, samples }; // one column (or row): R = 1 exactly
  } else {
    const rng = new Rng(shapeSeed(m, df));
    let sum = 0;
    let sumSq = 0;
    for (let s = 0; s < samples; s++) {
      const r = sampleStableRankWishart(m, df, rng);
      sum += r;
      sumSq += r * r;
    }
    const mean = sum / samples;
    const variance = Math.max(0, (sumSq - samples * mean * mean) / (samples - 1));
    est = { mean, stdError: Math.sqrt(variance / samples), samples };
  }
  cache.set(key, est);
  return est;
}

/** Forgets the cached estimates (for tests). */
export function clearExpectedStableRankCache(): void {
  cache.clear();
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

/** A 32-bit seed from the shape, so that the estimate of a shape does not depend on call order. */
function shapeSeed(m: number, df: number): number {
  let h = 0x9e3779b9 ^ Math.imul(m, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h ^= Math.imul(df, 0xc2b2ae35) + (df / 2 ** 32 >>> 0);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A small deterministic generator: xoshiro128** (seeded through splitmix32), 53-bit uniforms,
 * Box–Muller normals, Marsaglia–Tsang gammas.
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
