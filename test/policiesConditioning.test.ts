/**
 * The thesis' policies: step-consistency-lr (the rate from the `update` group), batch-dissonance-
 * batch (the batch from the per-example and sub-batch groups), and `conditioned`, whose two
 * halves must not influence each other. Also the worked example of docs/policies.md.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { batchDissonanceBatch, noiseFromCoherence } from '../policies/batchDissonanceBatch.js';
import { conditioned } from '../policies/conditioned.js';
import { lossSpike } from '../policies/examples/lossSpike.js';
import { noiseScale } from '../policies/noiseScale.js';
import { stepConsistencyLr } from '../policies/stepConsistencyLr.js';
import { composePolicies, type Knobs, type PolicyInput } from '../src/policy.js';
import { runPolicy, sampleEvent, stepEvent, updatesOf } from './policiesStreams.js';

const START: Knobs = { learningRate: 0.1, batchSize: 64 };
const close = (a: number | undefined, b: number, rel = 1e-12) => assert.ok(a !== undefined && Math.abs(a - b) <= rel * Math.abs(b), `${a} ≈ ${b}`);

/** Step event t, then an `update` sample of step t. */
function updateStep(t: number, values: Record<string, number | null>, step: Partial<Parameters<typeof stepEvent>[1]> = {}): PolicyInput[] {
  return [stepEvent(t, { gradNorm: 2, updateNorm: 0.2, ...step }), sampleEvent(t, 'update', values, { batchSize: step?.batchSize ?? 64 })];
}

/** The EMA (decay d, bias-corrected) of a series, after each element. */
function emas(xs: number[], d: number): number[] {
  let biased = 0;
  let weight = 0;
  return xs.map((x) => ((biased = d * biased + (1 - d) * x), (weight = d * weight + (1 - d)), biased / weight));
}

describe('step-consistency-lr', () => {
  const ratios = [0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.1, 0.1];

  test('a falling descentRatio lowers the rate, after `patience` smoothed samples below the band', () => {
    const h = stepConsistencyLr.validate({ optimizer: 'adaptive' });
    const events = ratios.flatMap((r, i) => updateStep(i * 10, { descentRatio: r, cosSimWUpdate: 0.95, localSmoothness: 1 }));
    const out = runPolicy(stepConsistencyLr, h, START, events);
    // Independently: the first sample at which 3 consecutive smoothed ratios are < 0.3.
    const smoothed = emas(ratios, 0.5);
    let run = 0;
    const fire = smoothed.findIndex((r) => (run = r < 0.3 ? run + 1 : 0) === 3);
    const u = updatesOf(out, events);
    assert.equal(u.length, 1);
    assert.equal(u[0].step, fire * 10);
    assert.equal(u[0].update.learningRate, 0.05);
    assert.match(u[0].update.reason!, /^descentRatio 0\.\d+ < 0.3 for 3 samples: lr 0.1 → 0.05$/);
  });

  test('a step that barely turned the gradient grows the rate ×1.25, with a cooldown between', () => {
    const h = stepConsistencyLr.validate({ optimizer: 'adaptive' });
    const events = Array.from({ length: 9 }, (_, i) => updateStep(i * 10, { descentRatio: 0.97, cosSimWUpdate: 0.995 })).flat();
    const lrs = runPolicy(stepConsistencyLr, h, START, events).filter((_, i) => i % 2 === 1).map((s) => s.knobs.learningRate);
    // Fires at sample 3; the cooldown (3 samples) then a new streak of 3 → sample 9.
    assert.deepEqual(lrs.map((x) => Number(x.toPrecision(12))), [0.1, 0.1, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.15625]);
  });

  test('a turning gradient (low cosSimWUpdate) lowers the rate even with a good descentRatio', () => {
    const h = stepConsistencyLr.validate({ optimizer: 'adaptive', patience: 1 });
    const out = runPolicy(stepConsistencyLr, h, START, updateStep(0, { descentRatio: 0.8, cosSimWUpdate: -0.3 }));
    assert.match(out[1].update!.reason!, /^cosSimWUpdate -0.3 < 0 for 1 samples: lr 0.1 → 0.05$/);
  });

  test('the smoothness ceiling c·lr·‖h̄‖/(L·‖Δ‖) = ½/L for SGD caps the rate; adaptive optimizers skip it', () => {
    // ‖h̄‖ = 2, ‖Δ‖ = 0.2 = lr·‖h̄‖ (plain SGD), L = 10: ceiling 0.5·0.1·2/(10·0.2) = 0.05 = 1/(2L).
    const events = [0, 10, 20].flatMap((t) => updateStep(t, { descentRatio: 0.6, cosSimWUpdate: 0.95, localSmoothness: 10 }));
    const sgd = runPolicy(stepConsistencyLr, stepConsistencyLr.validate({}), START, events);
    const u = updatesOf(sgd, events);
    assert.equal(u.length, 1);
    close(u[0].update.learningRate, 0.05);
    assert.match(u[0].update.reason!, /lr above the smoothness ceiling 0.05/);
    assert.deepEqual(updatesOf(runPolicy(stepConsistencyLr, stepConsistencyLr.validate({ optimizer: 'adaptive' }), START, events), events), []);
    // The ceiling also stops growth at it.
    const grow = [0, 10, 20].flatMap((t) => updateStep(t, { descentRatio: 0.97, cosSimWUpdate: 0.995, localSmoothness: 4.5 }));
    const capped = runPolicy(stepConsistencyLr, stepConsistencyLr.validate({}), START, grow).at(-1)!;
    close(capped.knobs.learningRate, 0.5 / 4.5);
  });

  test('bounds hold; null values are never acted on; the options are checked', () => {
    const h = stepConsistencyLr.validate({ optimizer: 'adaptive', patience: 1, cooldown: 0, minLr: 0.04 });
    const events = [0, 10, 20].flatMap((t) => updateStep(t, { descentRatio: -1, cosSimWUpdate: 0.95 }));
    assert.deepEqual(runPolicy(stepConsistencyLr, h, START, events).map((s) => s.knobs.learningRate).filter((_, i) => i % 2), [0.05, 0.04, 0.04]);
    const blank = [0, 10, 20, 30].flatMap((t) => updateStep(t, { descentRatio: null, cosSimWUpdate: null, localSmoothness: null }));
    const out = runPolicy(stepConsistencyLr, stepConsistencyLr.validate({ patience: 1 }), START, blank);
    assert.deepEqual(updatesOf(out, blank), []);
    assert.deepEqual((out.at(-1)!.state as { streak: unknown }).streak, { dir: 0, count: 0, cooldown: 0 });
    assert.throws(() => stepConsistencyLr.validate({ lowRatio: 0.95 }), /options 'lowRatio' and 'highRatio'/);
    assert.throws(() => stepConsistencyLr.validate({ decrease: 1.5 }), /option 'decrease' = 1.5/);
    assert.throws(() => stepConsistencyLr.validate({ ceiling: -0.5 }), /option 'ceiling' = -0.5/);
  });
});

describe('batch-dissonance-batch', () => {
  test('batch-normalised coherence gives the noise scale exactly for isotropic noise (explicit vectors)', () => {
    // h_i = G + σ·e_i with orthonormal e_i ⊥ G: per-example noise of trace σ², B = σ²/‖G‖².
    const b = 6;
    const sigma = 1.7;
    const G = [0.4, ...new Array(b).fill(0)]; // ‖G‖² = 0.16
    const rows = Array.from({ length: b }, (_, i) => G.map((g, j) => g + (j === i + 1 ? sigma : 0)));
    const dot = (x: number[], y: number[]) => x.reduce((s, v, j) => s + v * y[j], 0);
    const mean = G.map((_, j) => rows.reduce((s, r) => s + r[j], 0) / b);
    const coherence = rows.reduce((s, r) => s + dot(mean, r), 0) / rows.reduce((s, r) => s + dot(r, r), 0);
    close(noiseFromCoherence((b * coherence - 1) / (b - 1)), sigma ** 2 / 0.16, 1e-12);
    assert.equal(noiseFromCoherence(0), Number.POSITIVE_INFINITY);
    assert.equal(noiseFromCoherence(-0.01), Number.POSITIVE_INFINITY, 'c < 1/b: the batch mean is all noise');
  });

  /** A perExample sample describing per-example gradients of noise scale B at batch b. */
  function dissonance(step: number, B: number, b = 64): PolicyInput {
    return sampleEvent(step, 'perExample', { traceSigma: B, gradSqEstimate: 1, coherence: (1 + B / b) / (1 + B), rankW: (1 + B) / (b + B) }, { batchSize: b });
  }

  test('rising dissonance raises the batch; agreement lowers it; within bounds', () => {
    const h = batchDissonanceBatch.validate({});
    const rising = [10, 50, 100, 200, 400, 800, 1600].map((B, i) => dissonance(i * 10, B));
    const up = runPolicy(batchDissonanceBatch, h, START, rising);
    const u = updatesOf(up, rising);
    assert.equal(u.length, 1);
    assert.equal(u[0].update.batchSize, 128);
    assert.match(u[0].update.reason!, /^dissonance: noise scale [\d.]+ > 2×64, coherence .* > 2×64, rankW 0.\d+ > 0.5 for 3 samples: batch 64 → 128$/);
    const agree = [0, 10, 20].map((t) => dissonance(t, 4));
    assert.deepEqual(runPolicy(batchDissonanceBatch, h, START, agree).map((s) => s.knobs.batchSize), [64, 64, 32]);
    const floor = runPolicy(batchDissonanceBatch, batchDissonanceBatch.validate({ minBatch: 48, patience: 1 }), START, agree);
    assert.equal(floor[0].knobs.batchSize, 48);
  });

  test('confusion votes by its own thresholds, from the multiBatch group', () => {
    const h = batchDissonanceBatch.validate({ patience: 1 });
    const out = runPolicy(batchDissonanceBatch, h, START, [sampleEvent(0, 'multiBatch', { confusion: 0.4, diversity: 1 })]);
    assert.equal(out[0].knobs.batchSize, 128);
    assert.match(out[0].update!.reason!, /confusion 0.4 > 0.1/);
    const none = runPolicy(batchDissonanceBatch, h, START, [sampleEvent(0, 'multiBatch', { confusion: 0.05 })]);
    assert.equal(none[0].update, null, 'between the thresholds: no vote');
  });

  test('mixed votes below the quorum hold; nulls are ignored', () => {
    const h = batchDissonanceBatch.validate({ patience: 1 });
    const split = runPolicy(batchDissonanceBatch, h, START, [sampleEvent(0, 'perExample', { traceSigma: 1000, gradSqEstimate: 1, coherence: 0.9 })]);
    assert.equal(split[0].update, null, 'noise scale says grow, coherence says shrink: mean vote 0');
    const blank = runPolicy(batchDissonanceBatch, h, START, [sampleEvent(0, 'perExample', { traceSigma: null, gradSqEstimate: null, coherence: null, rankW: null })]);
    assert.equal(blank[0].update, null);
    assert.throws(() => batchDissonanceBatch.validate({ band: 1 }), /option 'band' = 1/);
  });
});

describe('conditioned: each knob by its own family', () => {
  const h = conditioned.validate({ lr: { optimizer: 'adaptive' } });
  const ratios = [0.9, 0.6, 0.4, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];

  /** The same `update` samples, with the batch-dissonance side and the batch size varied. */
  function stream(batch: number, B: number): PolicyInput[] {
    return ratios.flatMap((r, i) => [
      stepEvent(i * 10, { batchSize: batch, gradNorm: 2, updateNorm: 0.2 }),
      sampleEvent(i * 10, 'update', { descentRatio: r, cosSimWUpdate: 0.95, localSmoothness: 3 }, { batchSize: batch }),
      sampleEvent(i * 10, 'perExample', { traceSigma: B, gradSqEstimate: 1, coherence: (1 + B / batch) / (1 + B), rankW: (1 + B) / (batch + B) }, { batchSize: batch }),
      sampleEvent(i * 10, 'multiBatch', { confusion: B > batch ? 0.3 : 0 }, { batchSize: batch }),
    ]);
  }

  test('changing the batch size alone does not move any learning-rate decision', () => {
    const lrDecisions = (events: PolicyInput[], start: Knobs) =>
      updatesOf(runPolicy(conditioned, h, start, events), events)
        .filter((u) => u.update.learningRate !== undefined)
        .map((u) => [u.step, u.kind, u.update.learningRate]);
    const a = stream(64, 2000); // dissonant: the batch grows
    const b = stream(256, 3); // agreeing at another batch: the batch shrinks
    const runA = runPolicy(conditioned, h, START, a);
    const runB = runPolicy(conditioned, h, { learningRate: 0.1, batchSize: 256 }, b);
    assert.ok(runA.at(-1)!.knobs.batchSize > 64 && runB.at(-1)!.knobs.batchSize < 256, 'the batch moved both ways');
    const decisions = lrDecisions(a, START);
    assert.ok(decisions.length >= 1);
    assert.deepEqual(lrDecisions(b, { learningRate: 0.1, batchSize: 256 }), decisions);
    assert.deepEqual(runA.map((s) => s.knobs.learningRate), runB.map((s) => s.knobs.learningRate));
  });

  test('and the batch decisions ignore the update group', () => {
    const batchDecisions = (events: PolicyInput[]) => updatesOf(runPolicy(conditioned, h, START, events), events).filter((u) => u.update.batchSize !== undefined).map((u) => [u.step, u.update.batchSize]);
    const base = stream(64, 2000);
    const otherLr = base.map((e) => ('group' in e && e.group === 'update' ? { ...e, values: { descentRatio: 0.99, cosSimWUpdate: 0.999, localSmoothness: 0.1 } } : e));
    assert.deepEqual(batchDecisions(otherLr), batchDecisions(base));
  });

  test('options are nested per half and checked there', () => {
    assert.equal(conditioned.validate({ lr: { patience: 5 } }).lr.patience, 5);
    assert.equal(conditioned.validate({ lr: { patience: 5 } }).batch.maxBatch, 1024);
    assert.throws(() => conditioned.validate({ lr: { patience: 0 } }), /option 'lr.patience' = 0/);
    assert.throws(() => conditioned.validate({ batch: { minBatch: 900, maxBatch: 512 } }), /options 'batch.minBatch' and 'batch.maxBatch'/);
  });
});

describe('the worked example of docs/policies.md', () => {
  test('the docs show the example file verbatim, and it runs and composes', () => {
    const doc = readFileSync(new URL('../docs/policies.md', import.meta.url), 'utf8');
    const file = readFileSync(new URL('../policies/examples/lossSpike.ts', import.meta.url), 'utf8');
    assert.ok(doc.includes('```ts\n' + file + '```'), 'docs/policies.md contains policies/examples/lossSpike.ts');
    const h = lossSpike.validate({ ratio: 3 });
    const losses = [1, 1.1, 0.9, 5, 1];
    const out = runPolicy(lossSpike, h, START, losses.map((loss, t) => stepEvent(t, { loss })));
    assert.deepEqual(out.map((s) => s.knobs.learningRate), [0.1, 0.1, 0.1, 0.05, 0.05]);
    assert.throws(() => lossSpike.validate({ ratio: 1 }), /option 'ratio' = 1/);
    const both = composePolicies([noiseScale, lossSpike]);
    assert.deepEqual([...both.knobs].sort(), ['batchSize', 'learningRate']);
  });
});
