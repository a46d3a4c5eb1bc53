/**
 * The batch-size policies from the literature against hand computations: the AdaScale gain
 * ratio, noise-scale, CABS, DiveBatch (and the identities its documentation states), and the
 * Pollux/AdaptDL goodput optimum.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adascale } from '../policies/adascale.js';
import { cabs, cabsBatch } from '../policies/cabs.js';
import { datasetDiversity, divebatch } from '../policies/divebatch.js';
import { bestBatch, fitStepTime, goodput, goodputOf } from '../policies/goodput.js';
import { gainRatio } from '../policies/lib/gain.js';
import { noiseScale } from '../policies/noiseScale.js';
import type { Knobs, PolicyInput } from '../src/policy.js';
import { epochEvent, runPolicy, sampleEvent, stepEvent, updatesOf } from './policiesStreams.js';

const START: Knobs = { learningRate: 0.1, batchSize: 64 };
const close = (a: number | undefined, b: number, rel = 1e-14) => assert.ok(a !== undefined && Math.abs(a - b) <= rel * Math.abs(b), `${a} ≈ ${b}`);
const noise = (step: number, traceSigma: number | null, gradSqEstimate: number | null, batchSize = 64) => sampleEvent(step, 'perExample', { traceSigma, gradSqEstimate }, { batchSize });

/** Float64 per-example statistics of explicit gradient vectors (rows). */
function stats(rows: number[][]) {
  const b = rows.length;
  const mean = rows[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0) / b);
  const sq = (v: number[]) => v.reduce((s, x) => s + x * x, 0);
  const traceSigma = rows.reduce((s, r) => s + sq(r.map((x, j) => x - mean[j])), 0) / (b - 1);
  const gradSq = sq(mean) - traceSigma / b;
  const sumSq = rows.reduce((s, r) => s + sq(r), 0);
  const sum = mean.map((x) => x * b);
  return { b, mean, traceSigma, gradSq, yin: sumSq / sq(sum), coherence: rows.reduce((s, r) => s + r.reduce((t, x, j) => t + x * mean[j], 0), 0) / sumSq };
}

describe('AdaScale gain ratio', () => {
  test('r = (σ² + μ²)/(σ²/S + μ²) with σ² = tr Σ / b₀, by hand', () => {
    // tr Σ = 3.2, b₀ = 32 → σ² = 0.1; μ² = 0.3; S = 128/32 = 4: r = 0.4 / 0.325 = 16/13.
    close(gainRatio(3.2, 0.3, 32, 128), 16 / 13);
    assert.equal(gainRatio(3.2, 0.3, 32, 32), 1, 'the base batch gains nothing');
    assert.equal(gainRatio(3.2, 0, 32, 128), 4, 'pure noise: the full S');
    assert.equal(gainRatio(3.2, -0.1, 32, 128), 4, 'a negative μ² estimate counts as 0');
    assert.equal(gainRatio(0, 0.3, 32, 128), 1, 'no noise: a bigger batch is worth one step');
    assert.equal(gainRatio(0, 0, 32, 128), 1);
  });

  test("per example, the gain is Pollux's statistical efficiency: r(m)·m₀/m = (φ + m₀)/(φ + m)", () => {
    const [t, g, m0] = [500, 0.5, 64];
    const phi = t / g;
    for (const m of [64, 100, 256, 1000]) close((gainRatio(t, g, m0, m) * m0) / m, (phi + m0) / (phi + m), 1e-13);
  });

  test('the policy smooths σ² and μ² per base-batch step (decay^S per step), bias-corrected', () => {
    const h = adascale.validate({ baseBatch: 32, smoothing: 0.9 });
    const events: PolicyInput[] = [noise(0, 3.2, 0.3, 64), noise(2, 6.4, 0.1, 64), stepEvent(2, { batchSize: 64 })];
    const out = runPolicy(adascale, h, { learningRate: 0.1, batchSize: 64 }, events);
    // S = 64/32 = 2. The first sample weighs 1 − 0.9^2 (one step at S = 2); the second comes
    // 2 steps later, so the past decays by 0.9^(2·2); bias-corrected averages.
    const w1 = 1 - 0.9 ** 2;
    const d = 0.9 ** (2 * 2);
    const avg = (a: number, b: number) => (d * w1 * a + (1 - d) * b) / (d * w1 + (1 - d));
    close(out[2].update!.learningRate, 0.1 * gainRatio(avg(3.2, 6.4), avg(0.3, 0.1), 32, 64), 1e-13);
  });
});

describe('noise-scale', () => {
  const h = noiseScale.validate({ smoothing: 0.9, minSamples: 1, cooldown: 0, tolerance: 0 });

  test('tr Σ and ‖G‖² are averaged separately; the batch moves to their ratio', () => {
    // Samples at steps 0 and 10 (decay 0.9^10 for the second); ratio of averages, not average of ratios.
    const out = runPolicy(noiseScale, h, START, [noise(0, 9, 0.1), noise(10, 30, 0.4)]);
    const d = 0.9 ** 10;
    const w = 0.1; // the first sample's weight, 1 − 0.9
    const t = (d * w * 9 + (1 - d) * 30) / (d * w + 1 - d);
    const g = (d * w * 0.1 + (1 - d) * 0.4) / (d * w + 1 - d);
    assert.equal(out[0].knobs.batchSize, 90, 'first sample: B = 90');
    assert.equal(out[1].knobs.batchSize, Math.round(t / g));
    assert.notEqual(Math.round(t / g), Math.round((9 / 0.1 + 30 / 0.4) / 2));
  });

  test('rising noise raises the batch, at most ×maxFactor per change, within [minBatch, maxBatch]', () => {
    const rising = [0, 10, 20, 30, 40].map((s, i) => noise(s, 100 * 4 ** i, 1));
    const out = runPolicy(noiseScale, noiseScale.validate({ minSamples: 1, cooldown: 0, maxBatch: 300, smoothing: 0 }), START, rising);
    assert.deepEqual(out.map((s) => s.knobs.batchSize), [100, 200, 300, 300, 300]);
    const low = runPolicy(noiseScale, noiseScale.validate({ minSamples: 1, smoothing: 0 }), START, [noise(0, 1, 1)]);
    assert.equal(low[0].knobs.batchSize, 32, 'B = 1: halve (×1/maxFactor), not straight to minBatch 16');
  });

  test('tolerance, cooldown, minSamples; nulls and ‖G‖² ≤ 0 change nothing', () => {
    assert.deepEqual(updatesOf(runPolicy(noiseScale, noiseScale.validate({ minSamples: 1 }), START, [noise(0, 70, 1)]), []), [], '70 is within 25% of 64');
    const cool = runPolicy(noiseScale, noiseScale.validate({ minSamples: 1, smoothing: 0 }), START, [noise(0, 200, 1), noise(50, 400, 1), noise(100, 400, 1)]);
    assert.deepEqual(cool.map((s) => s.knobs.batchSize), [128, 128, 256]);
    const wait = runPolicy(noiseScale, noiseScale.validate({ smoothing: 0 }), START, [noise(0, 200, 1), noise(5, 200, 1), noise(10, 200, 1)]);
    assert.deepEqual(wait.map((s) => s.knobs.batchSize), [64, 64, 128]);
    const blank = runPolicy(noiseScale, h, START, [noise(0, null, 1), noise(5, 100, null), noise(10, 100, -1), sampleEvent(15, 'update', { traceSigma: 1000 })]);
    assert.deepEqual(updatesOf(blank, []), []);
    assert.deepEqual(blank[1].state, blank[0].state, 'a null value leaves the state alone');
  });

  test('bad options', () => {
    assert.throws(() => noiseScale.validate({ minBatch: 512, maxBatch: 256 }), /options 'minBatch' and 'maxBatch'/);
    assert.throws(() => noiseScale.validate({ maxFactor: 1 }), /option 'maxFactor' = 1/);
    assert.throws(() => noiseScale.validate({ smoothing: 1 }), /option 'smoothing' = 1/);
  });
});

describe('cabs', () => {
  test('B = lr · tr Σ / L, by hand', () => {
    assert.equal(cabsBatch(0.1, 500, 2, 16, 2048), 25);
    assert.equal(cabsBatch(0.1, 50, 2, 16, 2048), 16, 'clamped to minBatch');
    assert.equal(cabsBatch(1, 1e6, 1, 16, 2048), 2048, 'clamped to maxBatch');
    assert.equal(cabsBatch(0.1, 500, 0, 16, 2048), null, 'L = 0: undefined');
  });

  test('the loss (every step) and tr Σ (samples) are running averages (0.95 per step)', () => {
    const h = cabs.validate({ minBatch: 1 });
    const out = runPolicy(cabs, h, START, [stepEvent(0, { loss: 2 }), stepEvent(1, { loss: 1 }), noise(1, 300, 0.1)]);
    const loss = (0.95 * 0.05 * 2 + 0.05 * 1) / (0.95 * 0.05 + 0.05);
    assert.equal(out[2].knobs.batchSize, Math.round((0.1 * 300) / loss));
    assert.equal(out[2].knobs.batchSize, 20);
  });

  test('coupled to the rate: twice the rate, twice the batch', () => {
    const events = [stepEvent(0, { loss: 1 }), noise(0, 400, 0.1)];
    const at = (lr: number) => runPolicy(cabs, cabs.validate({}), { learningRate: lr, batchSize: 64 }, events)[1].knobs.batchSize;
    assert.equal(at(0.1), 40);
    assert.equal(at(0.2), 80);
  });
});

describe('divebatch', () => {
  test('n·Δ_D = 1 + tr Σ/‖G‖² and Δ_b = 1/(b·coherence): the identities the module states', () => {
    const rows = [
      [0.3, -1.2, 0.5, 2.0],
      [1.1, 0.4, -0.7, 0.2],
      [0.9, 0.8, 0.1, -0.3],
      [-0.2, 1.5, 0.6, 0.4],
      [0.5, 0.2, 0.9, 1.1],
    ];
    const s = stats(rows);
    const n = rows.length;
    const pop = (s.traceSigma * (n - 1)) / n; // tr Σ of the data set itself (1/n)
    const meanSq = s.mean.reduce((t, x) => t + x * x, 0);
    close(n * s.yin, 1 + pop / meanSq, 1e-13);
    close(s.yin, 1 / (n * s.coherence), 1e-13);
    // From a batch, ‖G‖² is estimated without bias by gradSqEstimate (not by ‖h̄‖²).
    close(s.gradSq, meanSq - s.traceSigma / n, 1e-13);
  });

  test('at the epoch end: b ← min(max(δ·n·Δ_D, b), maxBatch), lr × b_new/b_old', () => {
    const h = divebatch.validate({});
    const events: PolicyInput[] = [noise(0, 1000, 2), noise(5, 3000, 2), stepEvent(5), epochEvent(1, 10)];
    const out = runPolicy(divebatch, h, START, events);
    // mean tr Σ 2000, mean ‖G‖² 2 → n·Δ_D = 1001, δ·n·Δ_D = 100.1 → 100.
    close(datasetDiversity({ trace: 4000, gradSq: 4, samples: 2 })!, 1001);
    assert.deepEqual(out.map((s) => s.knobs.batchSize), [64, 64, 64, 100]);
    close(out[3].knobs.learningRate, (0.1 * 100) / 64);
    assert.match(out[3].update!.reason!, /n·Δ_D 1001, δ·n·Δ_D 100.1 over 2 samples: batch 64 → 100/);
  });

  test('never shrinks; unbounded diversity goes to maxBatch; the window restarts', () => {
    const h = divebatch.validate({ maxBatch: 512, scaleLr: false });
    const small = runPolicy(divebatch, h, START, [noise(0, 10, 1), epochEvent(1, 10)]);
    assert.deepEqual(updatesOf(small, []), []);
    const wild = runPolicy(divebatch, h, START, [noise(0, 10, -1), epochEvent(1, 10), noise(10, 1000, 1), epochEvent(2, 20)]);
    assert.deepEqual(wild.map((s) => s.knobs.batchSize), [64, 512, 512, 512]);
    assert.equal(wild[3].update, null, 'the new window (δ·n·Δ_D ≈ 100) is below the batch');
    assert.equal(wild[1].knobs.learningRate, 0.1);
  });
});

describe('goodput', () => {
  test('the step-time fit and the optimum m* = √(αφ/β), by hand and by brute force', () => {
    const model = fitStepTime({ '64': { n: 10, ms: 5.2 }, '128': { n: 10, ms: 8.4 }, '99': { n: 2, ms: 100 } }, 5);
    close(model!.beta, 0.05, 1e-12);
    close(model!.alpha, 2, 1e-12);
    assert.equal(bestBatch(model!, 1000, 16, 1024), 200);
    let arg = 0;
    for (let m = 16; m <= 1024; m++) if (goodputOf(model!, 1000, 64, m) > goodputOf(model!, 1000, 64, arg || 16)) arg = m;
    assert.equal(arg, 200);
    assert.equal(fitStepTime({ '64': { n: 10, ms: 5 } }, 5), null, 'one batch size: no slope');
    assert.deepEqual(fitStepTime({ '64': { n: 10, ms: 3.2 }, '128': { n: 10, ms: 6.4 } }, 5), { alpha: 0, beta: 0.05 });
    assert.equal(bestBatch({ alpha: 0, beta: 0.05 }, 1000, 64, 1024), 64, 'no overhead: the smallest batch');
    assert.equal(bestBatch({ alpha: 2, beta: 0 }, 1000, 64, 1024), 1024, 'no per-example cost: the largest');
  });

  test('explores a second batch size, then moves to the optimum with the AdaScale rate', () => {
    const h = goodput.validate({ every: 10, minTimings: 3 });
    const events: PolicyInput[] = [];
    let batch = 64;
    const run = (from: number, to: number) => {
      for (let t = from; t < to; t++) {
        events.push(stepEvent(t, { batchSize: batch, stepMs: 2 + 0.05 * batch }));
        if (t % 5 === 0) events.push(noise(t, 500, 0.5, batch));
      }
    };
    run(0, 10);
    let out = runPolicy(goodput, h, START, events);
    const explore = out.at(-1)!;
    assert.equal(explore.knobs.batchSize, 128);
    assert.match(explore.update!.reason!, /only batch 64 timed: exploring throughput at batch 128/);
    // σ² = 500/64, μ² = 0.5: the gain at 128 is (7.8125 + 0.5)/(7.8125/2 + 0.5).
    close(explore.knobs.learningRate, 0.1 * (8.3125 / (7.8125 / 2 + 0.5)), 1e-12);
    batch = 128;
    run(10, 20);
    out = runPolicy(goodput, h, START, events);
    const best = out.at(-1)!;
    assert.equal(best.knobs.batchSize, 200, 'm* = √(2·1000/0.05)');
    close(best.knobs.learningRate, 0.1 * (8.3125 / (7.8125 / (200 / 64) + 0.5)), 1e-12);
  });
});
