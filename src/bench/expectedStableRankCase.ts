/**
 * Bench rows for `E[R(Y)]` (the normaliser of rankX/rankW): the cost of the first call at a new
 * batch size, which a batch-size policy pays each time it changes the batch. Bidiagonal sampler
 * (now) against the Bartlett–Lanczos sampler it replaced (only up to b = 512: it needs minutes
 * beyond). Neither touches tfjs, so the rows do not depend on the backend.
 */
import {
  bartlettStableRankDraws,
  clearExpectedStableRankCache,
  DEFAULT_STABLE_RANK_SAMPLES,
  expectedStableRankEstimate,
  monteCarlo,
} from '../metrics/expectedStableRank.js';
import { timeIt } from './timing.js';

export interface StableRankBenchRow {
  /** The batch size b (the Gram matrix is b × b). */
  batch: number;
  what: string;
  /** Median milliseconds of an uncached call. */
  ms: number;
  note?: string;
}

export interface StableRankBenchOptions {
  /** Timed calls per bidiagonal row (median; default 7). The Bartlett rows run once. */
  runs?: number;
  /** Include the Bartlett rows (default true; about 20 s on a slow machine). */
  bartlett?: boolean;
  samples?: number;
}

const BATCHES = [128, 512, 4096];
const DIMS = [100, 1_000_000];
const BARTLETT_MAX_B = 512;

export async function benchExpectedStableRank(opts: StableRankBenchOptions = {}): Promise<StableRankBenchRow[]> {
  const { runs = 7, bartlett = true, samples = DEFAULT_STABLE_RANK_SAMPLES } = opts;
  const rows: StableRankBenchRow[] = [];
  for (const b of BATCHES) {
    for (const d of DIMS) {
      let est = expectedStableRankEstimate(d, b, samples);
      const { ms } = await timeIt(
        () => {
          clearExpectedStableRankCache();
          est = expectedStableRankEstimate(d, b, samples);
        },
        { warmup: 1, runs },
      );
      rows.push({ batch: b, what: `E[R(Y)] d=${d} b=${b}: bidiagonal, ${samples} samples`, ms, note: describe(est) });
      if (!bartlett || b > BARTLETT_MAX_B) continue;
      const [n, m] = [Math.max(d, b), Math.min(d, b)];
      let old = est;
      const before = await timeIt(() => (old = monteCarlo(samples, bartlettStableRankDraws(n, m))), { warmup: 0, runs: 1 });
      rows.push({ batch: b, what: `E[R(Y)] d=${d} b=${b}: Bartlett–Lanczos (before), ${samples} samples`, ms: before.ms, note: describe(old) });
    }
  }
  return rows;
}

function describe(e: { mean: number; stdError: number }): string {
  return `mean ${e.mean.toPrecision(8)} ± ${e.stdError.toPrecision(2)}`;
}
