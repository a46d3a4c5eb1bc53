/**
 * Chapter-4 experiments 3 (mask effectiveness) and 4 (metric cost against parameter count): the
 * analysis against hand computations and closed forms, then each quick variant end to end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cost } from '../experiments/cost.js';
import { masks } from '../experiments/masks.js';
import { useBackend } from '../src/backend/backend.js';
import { tf } from '../src/backend/tf.js';
import { perExampleLoss } from '../src/engine/losses.js';
import { createMask } from '../src/engine/mask.js';
import { UsageError } from '../src/errors.js';
import {
  type CostPoint, type CostOptions, CostOptionsSchema, costAnalysis, fitCost, fitLogLog, measureEachGroup, networksOf, ratios,
} from '../src/experiments/cost.js';
import {
  EXTENSIVE, type MaskRow, MaskOptionsSchema, NEVER_MASKED, errorStats, fractionsOf, masksAnalysis, sampleError, thresholds, timeStats,
} from '../src/experiments/masks.js';
import { DefinitionSchema, type AnalysisResult, type ExperimentDefinition } from '../src/experiments/types.js';
import { SAMPLED_GROUPS } from '../src/metrics/registry.js';
import { buildModel } from '../src/models/zoo.js';
import { renderPlot } from '../src/report/index.js';
import { parseOptions } from '../src/validation.js';
import { oneHot, seededTensor } from './helpers.js';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

/** Ordinary least squares written as the textbook normal equations, in float64: the test's own. */
function olsByNormalEquations(xs: number[], ys: number[]): { slope: number; intercept: number } {
  const n = xs.length;
  const [sx, sy] = [xs.reduce((a, b) => a + b, 0), ys.reduce((a, b) => a + b, 0)];
  const sxy = xs.reduce((a, x, i) => a + x * ys[i]!, 0);
  const sxx = xs.reduce((a, x) => a + x * x, 0);
  const slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  return { slope, intercept: (sy - slope * sx) / n };
}

describe('log-log fit', () => {
  test('an exact power law gives its exponent, no spread and r² = 1', () => {
    const xs = [1e3, 1e4, 3e4, 1e5, 1e6];
    const ys = xs.map((x) => 3 * x ** 0.75);
    const f = fitLogLog(xs, ys, { resamples: 200 });
    close(f.slope, 0.75, 1e-12, 'slope');
    close(f.intercept, Math.log10(3), 1e-10, 'intercept');
    close(f.se!, 0, 1e-10, 'standard error');
    close(f.interval![0], 0.75, 1e-10, 'bootstrap low');
    close(f.interval![1], 0.75, 1e-10, 'bootstrap high');
    close(f.r2, 1, 1e-12, 'r²');
    assert.equal(f.n, 5);
  });

  test('slope, intercept, standard error and r² against a hand computation', () => {
    // log x = 0, 1, 2, 3; log y = 0, 1.1, 1.9, 3.2. x̄ = 1.5, ȳ = 1.55; Sxx = 5, Sxy = 5.2 →
    // slope 1.04, intercept 1.55 − 1.56 = −0.01. Residuals 0.01, 0.07, −0.17, 0.09: SSR = 0.042,
    // se = √(0.042 / 2 / 5) = √0.0042; SST = 5.45, r² = 1 − 0.042 / 5.45.
    const f = fitLogLog([1, 10, 100, 1000], [1, 10 ** 1.1, 10 ** 1.9, 10 ** 3.2]);
    close(f.slope, 1.04, 1e-12, 'slope');
    close(f.intercept, -0.01, 1e-12, 'intercept');
    close(f.se!, Math.sqrt(0.0042), 1e-12, 'se');
    close(f.r2, 1 - 0.042 / 5.45, 1e-12, 'r²');
    assert.ok(f.interval![0] < 1.04 && 1.04 < f.interval![1], `interval ${f.interval}`);
  });

  test('two points: the slope through them, no standard error, a bootstrap interval of that slope alone', () => {
    const f = fitLogLog([10, 1000], [2, 200]);
    close(f.slope, 1, 1e-12, 'slope');
    assert.equal(f.se, null);
    // Resamples with both points have the same slope; those with one point twice have none.
    close(f.interval![0], 1, 1e-12, 'low');
    close(f.interval![1], 1, 1e-12, 'high');
  });

  test('noisy data of a known exponent: the interval covers it, and a seed repeats it', () => {
    const xs = [1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6];
    const noise = [0.08, -0.05, 0.02, -0.1, 0.06, -0.02, 0.09, -0.07, 0.03, -0.04];
    const ys = xs.map((x, i) => 0.002 * x ** 1.3 * 10 ** noise[i]!);
    const f = fitLogLog(xs, ys, { seed: 7 });
    const own = olsByNormalEquations(xs.map(Math.log10), ys.map(Math.log10));
    close(f.slope, own.slope, 1e-10, 'slope against the normal equations');
    assert.ok(f.interval![0] < 1.3 && 1.3 < f.interval![1], `interval ${f.interval} misses 1.3`);
    assert.ok(f.interval![1] - f.interval![0] > 0.01, 'noisy data has a spread');
    assert.deepEqual(fitLogLog(xs, ys, { seed: 7 }).interval, f.interval);
  });

  test('what has no line is refused in one line', () => {
    assert.throws(() => fitLogLog([1, 10], [0, 5]), (e: Error) => e instanceof UsageError && /positive/.test(e.message) && !e.message.includes('\n'));
    assert.throws(() => fitLogLog([5, 5, 5], [1, 2, 3]), (e: Error) => e instanceof UsageError && /distinct/.test(e.message));
    assert.throws(() => fitLogLog([1, 2], [1]), UsageError);
  });
});

describe('mask errors and thresholds', () => {
  test('sample error definitions', () => {
    const k = sampleError('kappaW', 2.2, 2, 0.5);
    assert.ok(k.kind === 'error' && !EXTENSIVE.has('kappaW'));
    close(k.abs, 0.2, 1e-12, 'abs');
    close(k.rel!, 0.1, 1e-12, 'rel');
    close(k.signed!, 0.1, 1e-12, 'signed');
    // Extensive: 0.3 over a kept fraction of 0.25 estimates 1.2 against 1.
    const e = sampleError('traceSigma', 0.3, 1, 0.25);
    assert.ok(EXTENSIVE.has('traceSigma') && e.kind === 'error');
    close(e.abs, 0.2, 1e-12, 'abs');
    close(e.rel!, 0.2, 1e-12, 'rel');
    assert.deepEqual(sampleError('cosSimW', 0.1, 0, 0.5), { kind: 'error', abs: 0.1, rel: null, signed: null });
    assert.deepEqual(sampleError('cosSimW', 0.25, -0.5, 0.5), { kind: 'error', abs: 0.75, rel: 1.5, signed: 1.5 });
    assert.deepEqual(sampleError('rankW', 1, 4, 0.5), { kind: 'error', abs: 3, rel: 0.75, signed: -0.75 });
    assert.deepEqual(sampleError('noiseScale', null, null, 0.5), { kind: 'both-null' });
    assert.deepEqual(sampleError('noiseScale', 3, null, 0.5), { kind: 'null-mismatch' });
    assert.deepEqual(sampleError('kappaW', 4, 4, 1), { kind: 'error', abs: 0, rel: 0, signed: 0 });
  });

  /** One network, one batch: the reference, p = 1 again, two masks at 0.1 and two at 0.5. */
  function handRows(): MaskRow[] {
    const at = { network: 'A', params: 100, stage: 0, batch: 0 };
    const row = (p: number, seed: number | null, reference: boolean, cos: number | null, x: number, ms: number): MaskRow =>
      ({ ...at, p, maskSeed: seed, kept: p, reference, values: { cosSimW: cos, stableRankX: x }, ms: { weightPerturbation: ms, inputGradient: 5 } });
    return [
      row(1, null, true, 0.5, 3, 10), row(1, null, false, 0.5, 3, 12),
      row(0.1, 1, false, 0.45, 3, 6), row(0.1, 2, false, 0.6, 3, 7),
      row(0.5, 1, false, 0.51, 3, 8), row(0.5, 2, false, 0.49, 3, 9),
    ];
  }

  test('mean absolute and relative errors, times and the 5% threshold by hand', () => {
    const errors = errorStats(handRows());
    const get = (p: number, metric: string) => errors.find((e) => e.network === 'A' && e.p === p && e.metric === metric)!;
    // p = 0.1: |0.45 − 0.5| = 0.05, |0.6 − 0.5| = 0.1 → mean 0.075; relative 0.1 and 0.2 → 0.15.
    close(get(0.1, 'cosSimW').meanAbs!, 0.075, 1e-12, 'abs 0.1');
    close(get(0.1, 'cosSimW').meanRel!, 0.15, 1e-12, 'rel 0.1');
    close(get(0.5, 'cosSimW').meanRel!, 0.02, 1e-12, 'rel 0.5');
    close(get(0.1, 'cosSimW').bias!, (-0.1 + 0.2) / 2, 1e-12, 'signed 0.1');
    close(get(0.5, 'cosSimW').bias!, 0, 1e-12, 'signed 0.5');
    assert.equal(get(1, 'cosSimW').meanAbs, 0);
    assert.equal(get(0.1, 'stableRankX').meanAbs, 0);
    assert.equal(get(0.1, 'cosSimW').n, 2);
    assert.equal(errors.find((e) => e.network === 'all' && e.p === 0.1 && e.metric === 'cosSimW')!.meanRel, get(0.1, 'cosSimW').meanRel);

    const times = timeStats(handRows());
    const t = (p: number) => times.find((x) => x.network === 'A' && x.group === 'weightPerturbation' && x.p === p)!;
    assert.equal(t(1).medianMs, 11); // the reference (10) and p = 1 again (12)
    close(t(0.5).ratio, 8.5 / 11, 1e-12, 'ratio at 0.5');

    const th = thresholds(errors, times, 0.05);
    const cos = th.find((r) => r.metric === 'cosSimW')!;
    assert.equal(cos.p, 0.5); // 2% at 0.5, 15% at 0.1
    close(cos.meanRel!, 0.02, 1e-12, 'error at the threshold');
    close(cos.timeSaved!, 1 - 8.5 / 11, 1e-12, 'time saved');
    assert.equal(cos.masked, true);
    assert.equal(cos.smallest!.p, 0.1);
    assert.equal(cos.largest!.p, 0.5);
    const x = th.find((r) => r.metric === 'stableRankX')!;
    assert.equal(x.masked, false);
    assert.equal(x.p, 0.1);
  });

  test('a null in one of the two is a mismatch, and no fraction with one counts as under the threshold', () => {
    const rows = handRows().map((r) => (r.p === 0.5 && r.maskSeed === 1 ? { ...r, values: { ...r.values, cosSimW: null } } : r));
    const e = errorStats(rows).find((s) => s.network === 'A' && s.p === 0.5 && s.metric === 'cosSimW')!;
    assert.equal(e.mismatched, 1);
    assert.equal(e.n, 1);
    assert.equal(thresholds(errorStats(rows), timeStats(rows), 0.05).find((r) => r.metric === 'cosSimW')!.p, 1);
  });

  test('options are checked in one line; 1 is always among the fractions', () => {
    const bad = () => parseOptions(MaskOptionsSchema, { architectures: [{ label: 'm', zoo: 'mlp' }], fractions: [0], maskSeeds: 1, batches: 1, batchSize: 8 }, 'mask options');
    assert.throws(bad, (e: Error) => e instanceof UsageError && /\(0, 1\]/.test(e.message) && !e.message.includes('\n'));
    assert.throws(() => parseOptions(CostOptionsSchema, { architectures: [], batchSize: 8, runs: 1 }, 'cost options'), UsageError);
    assert.deepEqual(fractionsOf({ fractions: [0.5, 0.01, 0.5] }), [0.01, 0.5, 1]);
  });
});

describe('measurement protocol', () => {
  before(async () => {
    await useBackend('wasm');
  });

  test('measureEachGroup restores the weights bit for bit, leaks nothing, and p = 1 is no mask', () => {
    const model = buildModel('mlp', { inputShape: [6], classes: 3, depth: 1, width: 5, seed: 3 });
    const [x, y] = [seededTensor([8, 6], 11), oneHot(8, 3)];
    const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
    const probe = { model, loss: perExampleLoss('categoricalCrossentropy'), eta: 1e-3, inputDirections: 2, learningRate: 0.1 };
    const n0 = tf.memory().numTensors;
    const a = measureEachGroup(probe, x, y, SAMPLED_GROUPS, null);
    const b = measureEachGroup(probe, x, y, SAMPLED_GROUPS, createMask(model.trainableWeights.map((w) => w.read().size), 1, 5));
    assert.equal(tf.memory().numTensors, n0);
    assert.deepEqual(model.getWeights().map((w) => Array.from(w.dataSync())), weights);
    assert.deepEqual(b.values, a.values);
    for (const g of SAMPLED_GROUPS) assert.ok(a.durations[g]! >= 0, `a time for ${g}`);
    assert.equal(a.values.kappaWUpdate?.value !== null, true, 'the update group had its step');
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe('quick variants end to end', () => {
  let tensorsBefore = 0;
  let maskDef: ExperimentDefinition;
  let costDef: ExperimentDefinition;
  let maskResult: AnalysisResult;
  let costResult: AnalysisResult;
  const input = (definition: ExperimentDefinition) => ({ definition, variant: 'quick' as const, dir: '.', runs: [], options: definition.quick.analysis, log: () => {} });

  before(async () => {
    await useBackend('wasm');
    tensorsBefore = tf.memory().numTensors;
    maskDef = DefinitionSchema.parse(masks);
    costDef = DefinitionSchema.parse(cost);
    maskResult = await masksAnalysis.run(input(maskDef));
    costResult = await costAnalysis.run(input(costDef));
  });

  after(() => assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor outlives the experiments'));

  test('estimates: a positive number of seconds, no tensor left behind', () => {
    const n0 = tf.memory().numTensors;
    for (const [analysis, def] of [[masksAnalysis, maskDef], [costAnalysis, costDef]] as const) {
      const s = analysis.estimateSeconds!(def.quick, 'quick');
      assert.ok(Number.isFinite(s) && s > 0, `${analysis.name}: ${s}`);
    }
    assert.equal(tf.memory().numTensors, n0);
  });

  test('masks: every row compared; p = 1 remeasured has error exactly 0; unmasked metrics exactly 0 at every p', () => {
    const { rows, errors } = maskResult.results as unknown as { rows: MaskRow[]; errors: ReturnType<typeof errorStats> };
    const o = parseOptions(MaskOptionsSchema, maskDef.quick.analysis, 'options');
    const perBatch = 2 + (fractionsOf(o).length - 1) * o.maskSeeds;
    assert.equal(rows.length, networksOf(o.architectures).length * o.trainSteps.length * o.batches * perBatch);
    for (const e of errors.filter((s) => s.p === 1)) assert.equal(e.meanAbs ?? 0, 0, `${e.metric} at p = 1 on ${e.network}`);
    for (const metric of Object.keys(NEVER_MASKED)) {
      for (const e of errors.filter((s) => s.metric === metric)) assert.equal(e.meanAbs, 0, `${metric} at p = ${e.p}`);
    }
    // Some masked metric does move under a 1% mask: the comparison is not vacuous.
    assert.ok(errors.some((e) => e.p === 0.01 && (e.meanRel ?? 0) > 0.001));
  });

  test('masks: the kept fraction of the 784-32-32-10 MLP at p = 0.01 by hand', () => {
    // Variables 25088, 32, 1024, 32, 320, 10 keep ⌈p·size⌉ ≥ 1: 251 + 1 + 11 + 1 + 4 + 1 = 269 of 26506.
    const { rows } = maskResult.results as unknown as { rows: MaskRow[] };
    const mine = rows.filter((r) => r.network === 'mlp.d2.w32' && r.p === 0.01);
    assert.ok(mine.length > 0);
    for (const r of mine) {
      assert.equal(r.params, 26506);
      assert.equal(r.kept, 269 / 26506);
    }
  });

  test('masks: thresholds agree with the pooled errors; findings and report data are there', async () => {
    const { errors, thresholds: th } = maskResult.results as unknown as { errors: ReturnType<typeof errorStats>; thresholds: ReturnType<typeof thresholds> };
    for (const t of th.filter((r) => r.p !== null)) {
      const above = errors.filter((e) => e.network === 'all' && e.metric === t.metric && e.p >= t.p!);
      for (const e of above) assert.ok(e.meanRel !== null && e.meanRel < 0.05 && e.mismatched === 0, `${t.metric} at p = ${e.p}`);
    }
    assert.ok(maskResult.findings.some((f) => f.includes('stableRankX')), 'the unmaskable metrics are named');
    assert.equal(maskResult.sections.length, 3);
    for (const s of maskResult.sections) for (const p of s.plots ?? []) assert.match(await renderPlot(p.spec, 'svg') as string, /^<svg/);
    JSON.parse(JSON.stringify(maskResult.results));
  });

  test('cost: ≥ 2 decades of parameters, the fits recomputed from the points by the normal equations', async () => {
    const { points, fits } = costResult.results as unknown as { points: CostPoint[]; fits: ReturnType<typeof fitCost> };
    const o: CostOptions = parseOptions(CostOptionsSchema, costDef.quick.analysis, 'options');
    assert.equal(points.length, networksOf(o.architectures).length);
    const params = points.map((p) => p.params);
    assert.ok(Math.log10(Math.max(...params) / Math.min(...params)) >= 2, 'two orders of magnitude');
    // The 256-4-10 MLP by hand: 256·4 + 4 + 4·10 + 10.
    assert.equal(points.find((p) => p.network === 'mlp.d1.w4')!.params, 1078);
    const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!; // runs is odd
    for (const f of fits) {
      const ys = points.map((p) => (f.series === 'train step' ? medianOf(p.stepMs) : medianOf(p.groupMs[f.series]!)));
      const own = olsByNormalEquations(params.map(Math.log10), ys.map(Math.log10));
      close(f.time.slope, own.slope, 1e-9, `${f.series} slope`);
      assert.ok(Number.isFinite(f.time.interval![0]) && f.time.interval![0] <= f.time.interval![1], `${f.series} interval`);
      if (f.series !== 'train step') {
        const r = points.map((p) => medianOf(ratios(p, f.series as never)));
        close(f.ratio!.slope, olsByNormalEquations(params.map(Math.log10), r.map(Math.log10)).slope, 1e-9, `${f.series} ratio slope`);
      }
    }
    assert.equal(fits.length, 1 + o.groups.length);
    assert.equal(costResult.findings.length, fits.length);
    for (const s of costResult.sections) for (const p of s.plots ?? []) assert.match(await renderPlot(p.spec, 'svg') as string, /^<svg/);
  });
});
