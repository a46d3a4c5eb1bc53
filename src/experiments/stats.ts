/**
 * Rank correlation with an honest interval, for "does this metric go with faster training?".
 *
 * - Spearman's ρ is Pearson's correlation of the ranks, ties given their average rank (the
 *   definition that stays exact with ties; Spearman 1904, and e.g. Kendall & Gibbons, *Rank
 *   Correlation Methods*, ch. 3). Undefined (null, with why) for fewer than 3 pairs or when
 *   either side has a single rank.
 * - The 95% interval is a percentile bootstrap (Efron & Tibshirani 1993, ch. 13): resample the
 *   points with replacement, recompute ρ, take the 2.5% and 97.5% quantiles (type 7) of the
 *   resampled values. Seeded, at least 2000 resamples. When points come in clusters (the seeds
 *   of one network), whole clusters are resampled, since seeds of one network are not
 *   independent evidence. A resample whose x or y is all ties has no ρ: it is left out and
 *   counted; when more than half are, the interval is null with that reason.
 */
import { mulberry32 } from '../data/random.js';
import { UsageError } from '../errors.js';
import { quantile } from '../compare/stats.js';

/** 1-based ranks, ties sharing the average of the ranks they span. */
export function averageRanks(xs: readonly number[]): Float64Array {
  const order = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
  const ranks = new Float64Array(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && xs[order[j + 1]!] === xs[order[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!] = rank;
    i = j + 1;
  }
  return ranks;
}

/** Pearson correlation in float64; null when either side has no spread. */
export function pearson(xs: ArrayLike<number>, ys: ArrayLike<number>): number | null {
  const n = xs.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i]!;
    my += ys[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

export type Rho = { rho: number; reason: null } | { rho: null; reason: string };

function checkPairs(xs: readonly number[], ys: readonly number[]): void {
  if (xs.length !== ys.length) throw new UsageError(`spearman: ${xs.length} x values but ${ys.length} y values`);
  if (xs.some((v) => !Number.isFinite(v)) || ys.some((v) => !Number.isFinite(v))) throw new UsageError('spearman: every value must be a finite number (leave undefined points out)');
}

/** Spearman's ρ of paired values (finite numbers). */
export function spearman(xs: readonly number[], ys: readonly number[]): Rho {
  checkPairs(xs, ys);
  if (xs.length < 3) return { rho: null, reason: `${xs.length} point(s): a rank correlation needs at least 3` };
  const rho = pearson(averageRanks(xs), averageRanks(ys));
  if (rho === null) return { rho: null, reason: 'all x or all y values are equal: no ranking to correlate' };
  return { rho, reason: null };
}

export interface BootstrapOptions {
  /** Resamples (default 4000, at least 2000). */
  resamples?: number;
  /** Seeds the resampling (default 0). */
  seed?: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
  /** Cluster of each point (resampled whole); default: each point alone. */
  clusters?: readonly (string | number)[];
}

/** ρ with its percentile bootstrap interval (see the module comment). */
export interface Correlation {
  n: number;
  /** Distinct clusters (= n without clusters). */
  clusters: number;
  rho: number | null;
  reason: string | null;
  interval: [number, number] | null;
  intervalReason: string | null;
  level: number;
  resamples: number;
  /** Resamples left out because all their x or all their y tied. */
  degenerate: number;
  seed: number;
}

export const MIN_RESAMPLES = 2000;

/** Indices of the points of each cluster, in first-seen order. */
function clusterIndex(n: number, clusters?: readonly (string | number)[]): number[][] {
  if (!clusters) return Array.from({ length: n }, (_, i) => [i]);
  if (clusters.length !== n) throw new UsageError(`spearman: ${clusters.length} cluster labels for ${n} points`);
  const groups = new Map<string | number, number[]>();
  clusters.forEach((c, i) => groups.set(c, [...(groups.get(c) ?? []), i]));
  return [...groups.values()];
}

/** The ρ values of `resamples` bootstrap resamples (NaN where undefined), drawn as the module comment says. */
export function bootstrapRhos(xs: readonly number[], ys: readonly number[], groups: number[][], resamples: number, seed: number): Float64Array {
  const rand = mulberry32(seed);
  const out = new Float64Array(resamples);
  const bx: number[] = [];
  const by: number[] = [];
  for (let r = 0; r < resamples; r++) {
    bx.length = 0;
    by.length = 0;
    for (let k = 0; k < groups.length; k++) {
      for (const i of groups[Math.floor(rand() * groups.length)]!) {
        bx.push(xs[i]!);
        by.push(ys[i]!);
      }
    }
    out[r] = pearson(averageRanks(bx), averageRanks(by)) ?? Number.NaN;
  }
  return out;
}

export function spearmanInterval(xs: readonly number[], ys: readonly number[], opts: BootstrapOptions = {}): Correlation {
  const { resamples = 4000, seed = 0, level = 0.95 } = opts;
  if (!Number.isInteger(resamples) || resamples < MIN_RESAMPLES) throw new UsageError(`bootstrap resamples must be an integer of at least ${MIN_RESAMPLES}, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new UsageError(`bootstrap level must be in (0, 1), got ${level}`);
  const point = spearman(xs, ys);
  const groups = clusterIndex(xs.length, opts.clusters);
  const base = { n: xs.length, clusters: groups.length, rho: point.rho, reason: point.reason, level, resamples, seed };
  if (point.rho === null) return { ...base, interval: null, intervalReason: point.reason, degenerate: 0 };
  if (groups.length < 3) return { ...base, interval: null, intervalReason: `${groups.length} cluster(s): resampling needs at least 3`, degenerate: 0 };
  const rhos = bootstrapRhos(xs, ys, groups, resamples, seed);
  const kept = Array.from(rhos).filter((v) => !Number.isNaN(v));
  const degenerate = resamples - kept.length;
  if (kept.length < resamples / 2) {
    return { ...base, interval: null, intervalReason: `${degenerate} of ${resamples} resamples had all x or all y tied: too few points to resample`, degenerate };
  }
  const a = (1 - level) / 2;
  return { ...base, interval: [quantile(kept, a), quantile(kept, 1 - a)], intervalReason: null, degenerate };
}

/** "ρ = −0.62 [−0.85, −0.21], n = 18" (or why ρ or its interval is undefined). */
export function formatCorrelation(c: Correlation, digits = 2): string {
  if (c.rho === null) return `ρ undefined (${c.reason}), n = ${c.n}`;
  const rho = `ρ = ${c.rho.toFixed(digits)}`;
  const ci = c.interval ? ` [${c.interval[0].toFixed(digits)}, ${c.interval[1].toFixed(digits)}]` : ` (no interval: ${c.intervalReason})`;
  const n = c.clusters === c.n ? `n = ${c.n}` : `n = ${c.n} runs of ${c.clusters} networks`;
  return `${rho}${ci}, ${n}`;
}

/** Whether the interval lies wholly on one side of zero. */
export function excludesZero(c: Correlation): boolean {
  return c.interval !== null && (c.interval[0] > 0 || c.interval[1] < 0);
}
