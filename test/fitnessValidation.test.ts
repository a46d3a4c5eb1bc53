/**
 * The validation's judgement (src/fitness/validate.ts, analysis.ts): Spearman correlations of
 * the leave-one-out fitness score, every proxy and the thesis' gate with reached accuracy, on
 * candidates whose correlations are known by hand; how a run's reached accuracy is read.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RunOutcome } from '../src/compare/outcome.js';
import { reachedAccuracy } from '../src/fitness/analysis.js';
import type { FitnessMetrics } from '../src/fitness/metrics.js';
import { PROXY_NAMES } from '../src/fitness/proxies/index.js';
import { type TrainedCandidate, validate } from '../src/fitness/validate.js';

const v = (x: number) => ({ value: x });

/** Six candidates with accuracy 0.1 … 0.6 and a seventh that has none (its run failed). */
function candidates(): TrainedCandidate[] {
  const acc = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
  // Ranks of grad_norm against accuracy: [2, 5, 3, 1, 4, 6] → Σd² = 1+9+0+9+1+0 = 20, ρ = 1 − 6·20/(6·35) = 3/7.
  const gradNorm = [2, 5, 3, 1, 4, 6];
  const list: TrainedCandidate[] = acc.map((a, i) => ({
    id: `c${i}`,
    accuracy: a,
    // rankX rises with accuracy (ρ = 1), diversity falls with it (ρ = −1), confusion is 0 throughout (no ρ).
    metrics: { rankX: v(a / 2), diversity: v(1 - a), confusion: v(0) } as FitnessMetrics,
    proxies: {
      grad_norm: v(gradNorm[i]!), snip: v(-a), synflow: i === 0 ? { value: null, reason: 'overflow' } : v(a), jacov: v(a), naswot: v(a * a), params: v(100),
    },
  }));
  list.push({ id: 'failed', accuracy: null, metrics: { rankX: v(9), diversity: v(9) }, proxies: { params: v(1) } });
  return list;
}

describe('validate', () => {
  const res = validate(candidates(), { resamples: 2000 });
  const rho = (name: string) => res.methods.find((m) => m.method === name)!.correlation;

  test('one row for the score, each proxy and parameter count, each metric, and the thesis gate', () => {
    assert.deepEqual(res.methods.filter((m) => m.kind === 'proxy').map((m) => m.method), [...PROXY_NAMES]);
    assert.deepEqual(res.methods.filter((m) => m.kind === 'fitness').map((m) => m.method), ['fitness score (leave-one-out)', 'thesis rule (no fitting)']);
    assert.ok(res.methods.some((m) => m.kind === 'gate'));
  });

  test('proxies: ρ as computed by hand; undefined values and missing accuracies left out', () => {
    assert.ok(Math.abs(rho('grad_norm').rho! - 3 / 7) < 1e-12);
    assert.equal(rho('snip').rho, -1);
    assert.equal(rho('jacov').rho, 1);
    assert.equal(rho('naswot').rho, 1);
    assert.equal(rho('synflow').n, 5);
    assert.equal(rho('synflow').rho, 1);
    assert.equal(rho('jacov').n, 6, 'the candidate without accuracy is left out');
    assert.equal(rho('params').rho, null);
    assert.match(rho('params').reason!, /all x or all y values are equal/);
    const iv = rho('grad_norm').interval!;
    assert.ok(iv[0] <= 3 / 7 && 3 / 7 <= iv[1], `${iv}`);
  });

  test('leave-one-out score: held out, candidate i beats exactly the i others below it on both terms (ρ = 1)', () => {
    res.leaveOneOut.slice(0, 6).forEach((s, i) => assert.ok(Math.abs(s.score! - i / 5) < 1e-12, `candidate ${i}: ${s.score}`));
    assert.equal(rho('fitness score (leave-one-out)').rho, 1);
    assert.equal(res.leaveOneOut[6]!.score, null);
    assert.match(res.leaveOneOut[6]!.reason!, /no reached accuracy/);
    assert.deepEqual(res.rule.terms.map((t) => [t.metric, t.direction, t.rho]), [['rankX', 1, 1], ['diversity', -1, -1]]);
    assert.equal(rho('rankX').rho, 1);
    assert.equal(rho('diversity').rho, -1);
  });

  test('the thesis rule: confusion ties (each term ½), diversity falls with accuracy, so its score rises with it (ρ = 1)', () => {
    const thesis = res.methods.find((m) => m.method === 'thesis rule (no fitting)')!;
    // The references are every live candidate's values, the one without accuracy included (no
    // accuracy is read): confusion six ties → ½; diversity 1 − acc among {0.4 … 0.9, 9} → 1 − (5 − i + ½)/7.
    thesis.values.slice(0, 6).forEach((s, i) => assert.ok(Math.abs(s! - (0.5 + (1 - (5 - i + 0.5) / 7)) / 2) < 1e-12, `candidate ${i}: ${s}`));
    assert.equal(thesis.correlation.rho, 1);
  });

  test('sensitivity: the leave-one-out ρ at each entry threshold', () => {
    assert.deepEqual(res.sensitivity.map((s) => s.minRho), [0, 0.2, 0.3, 0.4, 0.5]);
    for (const s of res.sensitivity) assert.equal(s.correlation.rho, 1);
  });

  test('the thesis gate as a 0/1 prediction, ρ by hand with ties', () => {
    // rankX = acc/2 ≤ 0.15 for acc ≤ 0.3: gate [1,1,1,0,0,0]; rank correlation = −√(13.5/17.5).
    assert.ok(Math.abs(rho('thesis gate (rankX ≤ 0.15)').rho! + Math.sqrt(13.5 / 17.5)) < 1e-12);
  });
});

describe('reached accuracy', () => {
  const outcome = (status: RunOutcome['status'], finalValAccuracy: number | null): RunOutcome => ({
    id: 'x', status, reason: null, steps: 1, examples: 1, wallMs: 1, finalLoss: null, finalValAccuracy, bestValAccuracy: finalValAccuracy, testLoss: null, testAccuracy: null, validation: [],
  });
  test('the last validation accuracy; chance for a diverged run; none for a failed or unfinished one', () => {
    assert.equal(reachedAccuracy(outcome('done', 0.7), 10), 0.7);
    assert.equal(reachedAccuracy(outcome('dead', 0.1), 10), 0.1);
    assert.equal(reachedAccuracy(outcome('diverged', null), 10), 0.1);
    assert.equal(reachedAccuracy(outcome('failed', null), 10), null);
    assert.equal(reachedAccuracy(outcome('incomplete', 0.5), 10), null);
  });
});
