/**
 * `batch-dissonance-batch`: the batch size from batch-dissonance alone — the thesis' test of
 * whether conditioning with respect to the inputs can steer the batch (Nelson 2022, "Gradient
 * Conditioning in Deep Neural Networks", section 4.2.2). Examples whose gradients disagree ask
 * for a larger batch (their noise averages out only over more of them); agreement allows a
 * smaller one. It reads the `perExample` group (`coherence`, `noiseScale`'s parts, `rankW`) and
 * the `multiBatch` group (`confusion`).
 *
 * Each signal is put on one scale, the noise scale B it implies, and compared with the batch b
 * (B ≫ b: the batch's noise dominates its mean; B ≪ b: the batch wastes examples). With
 * per-example gradients h_i = G + noise of covariance Σ, and B = tr Σ/‖G‖²:
 * - `noiseScale` is B itself (tr Σ and ‖G‖² averaged separately, McCandlish et al. 2018);
 * - `coherence` c = Σ⟨h̄, h_i⟩/Σ‖h_i‖² (thesis eq. 3.26) has E ≈ (1 + B/b)/(1 + B), so its
 *   batch-normalised form ĉ = (b·c − 1)/(b − 1) ≈ 1/(1 + B) and B ≈ 1/ĉ − 1;
 * - `rankW`, the stable rank of [h_1 … h_b] over a Gaussian matrix's (thesis eq. 3.20), would be
 *   (1 + B)/(b + B) for isotropic noise, but real noise is far from isotropic: on a recorded
 *   Fashion-MNIST MLP run rankW was 0.05–0.1 (an isotropic reading of B ≈ 3–6) while the noise
 *   scale was 50–1500. So rankW votes by its own thresholds: above `rankHigh` (the isotropic
 *   value at B = b) it asks for a larger batch, below `rankLow` it allows a smaller one;
 * - `confusion` (thesis eq. 3.24), the most negative cosine between sub-batch gradients, votes
 *   by thresholds too: above `confusionHigh` for a larger batch, below `confusionLow` for a
 *   smaller one.
 * The noise scale and coherence vote +1 when B > band·b, −1 when B < b/band, else 0; the
 * batch grows ×`factor`
 * when the mean vote is ≥ `quorum`, shrinks ÷`factor` when ≤ −quorum, after `patience`
 * consecutive samples agree, then rests `cooldown` samples; always within [minBatch, maxBatch].
 *
 * Defaults: band 2 (act when B is outside [b/2, 2b]); quorum ½ (most signals agree);
 * confusion 0.1 / 0.01 (some sub-batch pair more than ~6° past orthogonal / none); rankW 0.5 /
 * 0.01 (the recorded run stayed between, so rankW abstains there); ×2 per change,
 * batches 16 … 1024 around the usual 64; patience 3, cooldown 3, EMA decay 0.5 per sample, as in
 * `step-consistency-lr`, so that both families act on the same time scale.
 */
import { z } from 'zod';
import { definePolicy, isMetricInput, type Knobs, type PolicyInput, type PolicyUpdate } from '../src/policy.js';
import type { MetricSample } from '../src/stream/types.js';
import { EMPTY_EMA, emaPush, emaValue, type Ema } from './lib/ema.js';
import { afterAction, extendStreak, NO_STREAK, streakFires, type Direction, type Streak } from './lib/hysteresis.js';
import { clamp, fmt, valueOf } from './lib/signals.js';

export const dissonanceOptions = z
  .strictObject({
    minBatch: z.int().min(2).default(16).describe('smallest batch (≥ 2: per-example statistics need two examples)'),
    maxBatch: z.int().min(2).default(1024).describe('largest batch'),
    factor: z.number().gt(1).default(2).describe('multiply or divide the batch by this per change'),
    band: z.number().gt(1).default(2).describe('a signal votes to grow when its B > band·b, to shrink when B < b/band'),
    quorum: z.number().gt(0).max(1).default(0.5).describe('act when the mean vote reaches ± this'),
    confusionHigh: z.number().min(0).max(1).default(0.1).describe('confusion above this votes to grow'),
    confusionLow: z.number().min(0).max(1).default(0.01).describe('confusion below this votes to shrink'),
    rankHigh: z.number().min(0).max(1).default(0.5).describe('rankW above this votes to grow'),
    rankLow: z.number().min(0).max(1).default(0.01).describe('rankW below this votes to shrink'),
    patience: z.int().min(1).default(3).describe('consecutive samples that must agree before acting'),
    cooldown: z.int().min(0).default(3).describe('samples to rest after acting'),
    smoothing: z.number().min(0).lt(1).default(0.5).describe('EMA decay per sample'),
  })
  .refine((o) => o.minBatch <= o.maxBatch, { message: "options 'minBatch' and 'maxBatch': minBatch must not exceed maxBatch", path: ['minBatch'] })
  .refine((o) => o.confusionLow <= o.confusionHigh, { message: "options 'confusionLow' and 'confusionHigh': confusionLow must not exceed confusionHigh", path: ['confusionLow'] })
  .refine((o) => o.rankLow <= o.rankHigh, { message: "options 'rankLow' and 'rankHigh': rankLow must not exceed rankHigh", path: ['rankLow'] });

export type DissonanceOptions = z.output<typeof dissonanceOptions>;

export interface DissonanceState {
  trace: Ema;
  gradSq: Ema;
  /** EMA of the batch-normalised coherence ĉ (independent of b). */
  coherence: Ema;
  /** EMAs of rankW and confusion, which depend on the batch: restarted when it changes. */
  rank: Ema;
  confusion: Ema;
  /** The batch size the rank and confusion EMAs were measured at. */
  batch: number | null;
  streak: Streak;
}

export const DISSONANCE_START: DissonanceState = { trace: EMPTY_EMA, gradSq: EMPTY_EMA, coherence: EMPTY_EMA, rank: EMPTY_EMA, confusion: EMPTY_EMA, batch: null, streak: NO_STREAK };

/** The noise scale a batch-normalised coherence ĉ implies: 1/ĉ − 1 (∞ when ĉ ≤ 0). */
export function noiseFromCoherence(normalised: number): number {
  return normalised > 0 ? 1 / normalised - 1 : Number.POSITIVE_INFINITY;
}

/** The state after one perExample or multiBatch sample (null values leave their EMA alone). */
function observe(s: DissonanceState, e: MetricSample, d: number): DissonanceState {
  const b = e.batchSize;
  const fresh = s.batch !== b;
  let next: DissonanceState = fresh ? { ...s, rank: EMPTY_EMA, confusion: EMPTY_EMA, batch: b } : s;
  const push = (ema: Ema, v: number | null) => (v === null ? ema : emaPush(ema, v, d));
  if (e.group === 'perExample') {
    const [trace, gradSq, c, rank] = ['traceSigma', 'gradSqEstimate', 'coherence', 'rankW'].map((n) => valueOf(e, n));
    const normalised = c === null || b < 2 ? null : (b * c - 1) / (b - 1);
    const both = trace !== null && gradSq !== null;
    next = { ...next, trace: both ? push(next.trace, trace) : next.trace, gradSq: both ? push(next.gradSq, gradSq) : next.gradSq };
    next = { ...next, coherence: push(next.coherence, normalised), rank: push(next.rank, rank) };
  } else next = { ...next, confusion: push(next.confusion, valueOf(e, 'confusion')) };
  return next;
}

/** Every available signal's vote and its words, against the batch b. */
function votes(h: DissonanceOptions, s: DissonanceState, b: number): [number, string][] {
  const out: [number, string][] = [];
  const vote = (noise: number, what: string) => {
    const v = noise > h.band * b ? 1 : noise < b / h.band ? -1 : 0;
    out.push([v, `${what} ${v > 0 ? `> ${h.band}×${b}` : v < 0 ? `< ${b}/${h.band}` : 'within the band'}`]);
  };
  const [trace, gradSq, c, rank, confusion] = [s.trace, s.gradSq, s.coherence, s.rank, s.confusion].map(emaValue);
  if (trace !== null && gradSq !== null) vote(gradSq > 0 ? Math.max(0, trace) / gradSq : Number.POSITIVE_INFINITY, `noise scale ${gradSq > 0 ? fmt(Math.max(0, trace) / gradSq) : '∞'}`);
  if (c !== null) vote(noiseFromCoherence(c), `coherence (ĉ ${fmt(c)}, B≈${fmt(noiseFromCoherence(c))})`);
  const threshold = (x: number, hi: number, lo: number, what: string) => {
    const v = x > hi ? 1 : x < lo ? -1 : 0;
    out.push([v, `${what} ${fmt(x)}${v > 0 ? ` > ${hi}` : v < 0 ? ` < ${lo}` : ''}`]);
  };
  if (rank !== null) threshold(rank, h.rankHigh, h.rankLow, 'rankW');
  if (confusion !== null) threshold(confusion, h.confusionHigh, h.confusionLow, 'confusion');
  return out;
}

/** The batch-dissonance batch-size reducer (shared with `conditioned`). */
export function dissonanceUpdate(event: PolicyInput, state: DissonanceState, h: DissonanceOptions, knobs: Knobs): [PolicyUpdate | null, DissonanceState] {
  if (!isMetricInput(event) || (event.group !== 'perExample' && event.group !== 'multiBatch')) return [null, state];
  let s = observe(state, event, h.smoothing);
  const b = knobs.batchSize;
  const all = votes(h, s, b);
  const mean = all.length ? all.reduce((sum, [v]) => sum + v, 0) / all.length : 0;
  const dir: Direction = mean >= h.quorum ? 1 : mean <= -h.quorum ? -1 : 0;
  s = { ...s, streak: extendStreak(s.streak, dir) };
  if (!streakFires(s.streak, h.patience)) return [null, s];
  const target = clamp(Math.round(dir > 0 ? b * h.factor : b / h.factor), h.minBatch, h.maxBatch);
  if (target === b) return [null, s];
  const why = all.filter(([v]) => v === dir).map(([, w]) => w);
  const reason = `${dir > 0 ? 'dissonance' : 'agreement'}: ${why.join(', ')} for ${s.streak.count} samples: batch ${b} → ${target}`;
  return [{ batchSize: target, reason }, { ...s, streak: afterAction(h.cooldown) }];
}

export const batchDissonanceBatch = definePolicy({
  name: 'batch-dissonance-batch',
  description: 'The batch size from batch-dissonance only (coherence, noise scale, rankW, confusion), by vote.',
  source: 'Nelson 2022, thesis section 4.2.2; noise scale: McCandlish et al. 2018',
  knobs: ['batchSize'],
  reads: ['perExample', 'multiBatch'],
  options: dissonanceOptions,
  init: () => DISSONANCE_START,
  update: (event, state, h, knobs) => dissonanceUpdate(event, state, h, knobs),
});
