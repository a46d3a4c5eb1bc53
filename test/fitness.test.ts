/**
 * The fitness score (src/fitness): the rule's arithmetic against hand-computed cases, fitting and
 * leave-one-out on points whose Spearman correlations are known exactly, and `fitness` /
 * `rankFitness` on real models — deterministic for a seed, leak-free, leaving the model bit for
 * bit as it was, a dead network below a healthy one, null scores with reasons that never stop a
 * ranking, proxies and parameter counts against hand counts, batch-norm calibration against a
 * float64 computation of the batch statistics, and the command line's ranked output.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import yargs from 'yargs';
import { useBackend } from '../src/backend/backend.js';
import { tf } from '../src/backend/tf.js';
import { fitnessCommand } from '../src/cli/commands/fitness.js';
import type { Dataset } from '../src/data/dataset.js';
import { loadData } from '../src/data/registry.js';
import { syntheticClusters } from '../src/data/synthetic.js';
import { UsageError } from '../src/errors.js';
import { disposeBatches, drawBatches } from '../src/fitness/batches.js';
import { calibrateBatchNorm } from '../src/fitness/calibrate.js';
import { candidateOf, parseZooSpec, refLabel } from '../src/fitness/candidates.js';
import { DEFAULT_RULE } from '../src/fitness/defaultRule.js';
import { fitRule, leaveOneOut, type FitPoint } from '../src/fitness/fit.js';
import { fitness, scoringBatches } from '../src/fitness/fitness.js';
import type { FitnessMetrics } from '../src/fitness/metrics.js';
import { computeProxy } from '../src/fitness/proxies/index.js';
import { formatTable, rankFitness } from '../src/fitness/rank.js';
import { applyRule, midRankCdf, type FitnessRule } from '../src/fitness/rule.js';
import { saveModel } from '../src/models/io.js';
import { buildModel } from '../src/models/zoo.js';

const metricsOf = (m: Record<string, number | string>): FitnessMetrics =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v === 'number' ? { value: v } : { value: null, reason: v }])) as FitnessMetrics;

describe('the rule', () => {
  test('mid-rank CDF by hand', () => {
    const ref = [1, 2, 2, 3];
    assert.equal(midRankCdf(ref, 0), 0);
    assert.equal(midRankCdf(ref, 1), 0.5 / 4);
    assert.equal(midRankCdf(ref, 2), (1 + 2 / 2) / 4);
    assert.equal(midRankCdf(ref, 2.5), 3 / 4);
    assert.equal(midRankCdf(ref, 9), 1);
  });

  const rule: FitnessRule = {
    fittedOn: 'hand',
    terms: [
      { metric: 'rankX', direction: 1, reference: [0.1, 0.2, 0.3, 0.4], rho: 0.5 },
      { metric: 'diversity', direction: -1, reference: [0.5, 1, 1.5, 2], rho: -0.5 },
    ],
  };

  test('a live candidate: the mean of its oriented terms', () => {
    // rankX 0.25 beats 2 of 4 → 0.5; diversity 0.75 is above 1 of 4 → lower-is-better term 0.75.
    const s = applyRule(rule, metricsOf({ rankX: 0.25, diversity: 0.75 }));
    assert.deepEqual(s, { score: 0.625, reason: null, dead: false, terms: { rankX: 0.5, diversity: 0.75 } });
  });

  test('a dead candidate ranks below every live one: 1 subtracted, scored on the terms it has', () => {
    const s = applyRule(rule, metricsOf({ rankX: 'all columns are zero', diversity: 0.75 }));
    assert.equal(s.score, 0.75 - 1);
    assert.equal(s.dead, true);
    assert.match(s.reason!, /dead at initialisation: every input gradient/);
    const zero = applyRule(rule, metricsOf({ rankX: 0.01, diversity: 'zero batch gradient (batch 2)' }));
    assert.equal(zero.dead, true);
    assert.equal(zero.score, 0 - 1);
  });

  test('a live candidate with a term undefined gets a null score with the reason', () => {
    const s = applyRule(rule, metricsOf({ rankX: 0.25, diversity: 'non-finite gradient' }));
    assert.equal(s.score, null);
    assert.match(s.reason!, /diversity is undefined: non-finite gradient/);
    assert.match(applyRule(rule, metricsOf({ rankX: 0.25 })).reason!, /diversity was not measured/);
  });
});

describe('fitting', () => {
  // acc = 1..5; rankX follows it (ρ = 1), diversity opposes it (ρ = −1); coherence has ranks
  // [2, 5, 3, 1, 4]: Σd² = 1 + 9 + 0 + 9 + 1 = 20, ρ = 1 − 6·20 / (5·24) = 0 exactly.
  const coherence = [2, 5, 3, 1, 4];
  const points: FitPoint[] = [1, 2, 3, 4, 5].map((a, i) => ({
    accuracy: a / 10,
    metrics: metricsOf({ rankX: a, diversity: 10 - a, coherence: coherence[i]! }),
  }));

  test('metrics enter with the sign of their ρ when |ρ| ≥ minRho; references sorted', () => {
    const rule = fitRule(points, { fittedOn: 'test' });
    assert.deepEqual(rule.terms.map((t) => [t.metric, t.direction, t.rho]), [['rankX', 1, 1], ['diversity', -1, -1]]);
    assert.deepEqual(rule.terms[1]!.reference, [5, 6, 7, 8, 9]);
  });

  test('dead points take no part in fitting', () => {
    const withDead = [...points, { accuracy: 0.9, metrics: metricsOf({ rankX: 'all columns are zero', diversity: 0, coherence: 0 }) }];
    assert.deepEqual(fitRule(withDead, { fittedOn: 't' }).terms.map((t) => t.rho), [1, -1]);
  });

  test('with no metric reaching minRho the strongest enters alone', () => {
    const rule = fitRule(points, { fittedOn: 't', minRho: 1.5 });
    assert.equal(rule.terms.length, 1);
    assert.equal(Math.abs(rule.terms[0]!.rho!), 1);
  });

  test('leave-one-out: each point ranked against the others only', () => {
    // One metric equal to accuracy: held out, point i beats i of the 3 others.
    const pts: FitPoint[] = [0.1, 0.2, 0.3, 0.4].map((a) => ({ accuracy: a, metrics: metricsOf({ rankX: a }) }));
    assert.deepEqual(leaveOneOut(pts).map((s) => s.score), [0, 1 / 3, 2 / 3, 1]);
  });
});

describe('zoo specs', () => {
  test('name:key=value,… becomes a model reference and back', () => {
    const ref = parseZooSpec('fc-orthogonal:depth=4,width=128,activation=tanh,batchNorm=true');
    assert.deepEqual(ref, { zoo: 'fc-orthogonal', options: { depth: 4, width: 128, activation: 'tanh', batchNorm: true } });
    assert.equal(refLabel(ref), 'fc-orthogonal:depth=4,width=128,activation=tanh,batchNorm=true');
    assert.deepEqual(parseZooSpec('resnet'), { zoo: 'resnet', options: {} });
    assert.throws(() => parseZooSpec('mlp:depth'), UsageError);
  });
});

describe('fitness on models', () => {
  let data: Dataset;
  const shape = { inputShape: [12], classes: 4 };
  const healthy = () => buildModel('fc-orthogonal', { ...shape, depth: 2, width: 16, seed: 1 });
  const zeroed = () => {
    const m = healthy();
    tf.tidy(() => m.setWeights(m.getWeights().map((w) => tf.zerosLike(w))));
    return m;
  };
  const bits = (m: tf.LayersModel) => m.weights.map((w) => Array.from(w.read().dataSync()));
  const opts = { batchSize: 16, batches: 3, seed: 5 };

  before(async () => {
    await useBackend('wasm', { threads: 1 });
    data = syntheticClusters({ size: 200, inputShape: [12], classes: 4, seed: 2 });
  });

  test('deterministic for a seed, leak-free, and the model left bit for bit', async () => {
    const model = healthy();
    const before = bits(model);
    const tensors = tf.memory().numTensors;
    const a = await fitness(model, data, opts);
    const b = await fitness(model, data, opts);
    assert.equal(tf.memory().numTensors, tensors, 'tensor leak');
    assert.deepEqual(bits(model), before);
    assert.ok(a.score !== null && Number.isFinite(a.score), `score ${a.score} (${a.reason})`);
    assert.deepEqual({ ...a, ms: 0 }, { ...b, ms: 0 });
    const other = await fitness(model, data, { ...opts, seed: 6 });
    assert.notDeepEqual(other.metrics, a.metrics, 'another seed draws other batches');
    model.dispose();
  });

  test('after k SGD steps: other metrics, and a model passed in is restored', async () => {
    const model = healthy();
    const before = bits(model);
    const tensors = tf.memory().numTensors;
    const at0 = await fitness(model, data, opts);
    const at5 = await fitness(model, data, { ...opts, steps: 5, learningRate: 0.1 });
    assert.equal(tf.memory().numTensors, tensors, 'tensor leak');
    assert.deepEqual(bits(model), before);
    assert.notDeepEqual(at5.metrics, at0.metrics);
    model.dispose();
  });

  test('an all-zero network is dead and scores below a healthy one', async () => {
    const good = await fitness(healthy, data, opts);
    const dead = await fitness(zeroed, data, opts);
    assert.equal(dead.dead, true);
    assert.match(dead.reason!, /dead at initialisation/);
    assert.ok(good.score !== null && dead.score !== null && dead.score < good.score, `${dead.score} < ${good.score}`);
    assert.equal(good.dead, false);
  });

  test('bad candidates get null scores with reasons and do not stop the ranking', async () => {
    const nanModel = () => {
      const m = healthy();
      tf.tidy(() => m.setWeights(m.getWeights().map((w) => tf.fill(w.shape, Number.NaN))));
      return m;
    };
    const tensors = tf.memory().numTensors;
    const records = await rankFitness([
      { label: 'throws', source: () => { throw new UsageError("unknown model 'nope'"); } },
      { label: 'dead', source: zeroed },
      { label: 'nan', source: nanModel },
      { label: 'wrong-input', source: () => buildModel('mlp', { inputShape: [7], classes: 4, depth: 1, width: 4 }) },
      { label: 'healthy', source: healthy },
      candidateOf(parseZooSpec('mlp:depth=0'), shape),
    ], data, opts);
    assert.equal(tf.memory().numTensors, tensors, 'tensor leak');
    assert.deepEqual(records.map((r) => [r.model, r.rank]), [['healthy', 1], ['dead', 2], ['throws', null], ['nan', null], ['wrong-input', null], ['mlp:depth=0', null]]);
    for (const r of records) assert.ok(r.score === null || Number.isFinite(r.score), `${r.model}: ${r.score}`);
    const reason = (m: string) => records.find((r) => r.model === m)!.reason!;
    assert.match(reason('throws'), /cannot build the model: unknown model 'nope'/);
    assert.match(reason('nan'), /non-finite/);
    assert.match(reason('wrong-input'), /the model takes inputs \[7\], the data's examples are \[12\]/);
    assert.match(reason('mlp:depth=0'), /cannot build the model: .*depth/);
    const table = formatTable(records);
    assert.match(table[0]!, /^rank\s+score\s+model\s+rankX/);
    assert.match(table[1]!, /^1\s+\S+\s+healthy/);
    assert.match(table.at(-1)!, /^-\s+null\s+mlp:depth=0/);
  });

  test('--proxy: the proxy is the score (params against a hand count, synflow on batch 0)', async () => {
    const params = await fitness(healthy, data, { ...opts, proxy: 'params' });
    assert.equal(params.score, 12 * 16 + 16 + 16 * 16 + 16 + 16 * 4 + 4);
    assert.deepEqual(params.metrics, { params: params.score });
    const model = healthy();
    const batches = scoringBatches(data, opts);
    const want = computeProxy('synflow', model, batches[0]!.x, batches[0]!.y);
    disposeBatches(batches);
    const got = await fitness(model, data, { ...opts, proxy: 'synflow' });
    assert.equal(got.score, want.value);
    model.dispose();
    await assert.rejects(fitness(healthy, data, { proxy: 'nope' }), /unknown proxy 'nope'/);
  });

  test('batch normalisation: moving statistics set to the batches\' own (float64 check), then restored bit for bit', () => {
    const model = buildModel('mlp', { ...shape, depth: 1, width: 5, batchNorm: true, seed: 3 });
    const dense = model.layers.find((l) => l.getClassName() === 'Dense')!;
    const bn = model.layers.find((l) => l.getClassName() === 'BatchNormalization')! as unknown as { movingMean: tf.LayerVariable; movingVariance: tf.LayerVariable };
    const batches = drawBatches(data, 16, 3, 1);
    const before = bits(model);
    const restore = calibrateBatchNorm(model, batches);
    // The BN layer's input is the dense layer's output x·W (no bias before batch norm), in float64 over all 48 examples.
    const [w, bias] = dense.getWeights().map((t) => t.arraySync()) as [number[][], number[] | undefined];
    const b = bias ?? new Array<number>(w[0]!.length).fill(0);
    const rows = batches.flatMap((bt) => bt.x.arraySync() as number[][]);
    const z = rows.map((x) => b.map((bj, j) => bj + x.reduce((s, xi, i) => s + xi * w[i]![j]!, 0)));
    const mean = b.map((_, j) => z.reduce((s, r) => s + r[j]!, 0) / z.length);
    const variance = b.map((_, j) => z.reduce((s, r) => s + (r[j]! - mean[j]!) ** 2, 0) / z.length);
    const close = (got: Float32Array | Int32Array | Uint8Array, want: number[]) =>
      want.forEach((v, j) => assert.ok(Math.abs(got[j]! - v) <= 1e-4 * Math.max(1, Math.abs(v)), `${got[j]} vs ${v}`));
    close(bn.movingMean.read().dataSync(), mean);
    close(bn.movingVariance.read().dataSync(), variance);
    restore();
    assert.deepEqual(bits(model), before);
    disposeBatches(batches);
    model.dispose();
  });

  test('batches: bad sizes are one-line UsageErrors', () => {
    assert.throws(() => drawBatches(data, 16, 1, 0), /at least|≥ 2/);
    assert.throws(() => drawBatches(data, 100, 3, 0), /need 300 examples; the data has 200/);
  });
});

describe('gradcond fitness (command)', () => {
  before(async () => {
    await useBackend('wasm', { threads: 1 });
  });

  async function run(...argv: string[]): Promise<string> {
    let out = '';
    const write = process.stdout.write.bind(process.stdout);
    // The command writes strings; the test runner's own frames (buffers) pass through.
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => (typeof chunk === 'string' ? ((out += chunk), true) : write(chunk, ...rest))) as typeof process.stdout.write;
    try {
      await yargs(argv).command(fitnessCommand).strict().fail((msg, err) => { throw err ?? new UsageError(msg); }).parseAsync();
    } finally {
      process.stdout.write = write;
    }
    return out;
  }

  const common = ['--data', 'synthetic', '--examples', '256', '--backend', 'wasm', '--threads', '1', '--quiet', '--batch-size', '16', '--batches', '2'];

  test('--json: one ranked record per candidate; a model that cannot be built is last with a null score', async () => {
    const out = await run('fitness', '--zoo', 'mlp:depth=1,width=8', 'nope', 'fc-orthogonal:depth=2,width=8', '--json', ...common);
    const records = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(records.length, 3);
    assert.deepEqual(records.map((r) => r.rank), [1, 2, null]);
    assert.equal(records[2].model, 'nope');
    assert.equal(records[2].score, null);
    assert.match(records[2].reason, /cannot build the model: unknown model 'nope'/);
    for (const r of records.slice(0, 2)) {
      assert.ok(typeof r.score === 'number' && Number.isFinite(r.score));
      assert.deepEqual(Object.keys(r).sort(), ['dead', 'metrics', 'model', 'ms', 'rank', 'reason', 'reasons', 'score']);
    }
    // Ranked against each other (the default): per term, of two live candidates the better one
    // beats half of {itself, the other} plus the other (¾), the worse ¼, a tie ½.
    const [a, b] = [records[0].metrics, records[1].metrics];
    const terms = DEFAULT_RULE.terms.map((t) => {
      const d = t.direction * (a[t.metric] - b[t.metric]);
      return d > 0 ? [0.75, 0.25] : d < 0 ? [0.25, 0.75] : [0.5, 0.5];
    });
    assert.ok(Math.abs(records[0].score - terms.reduce((s, t) => s + t[0]!, 0) / terms.length) < 1e-12);
    assert.ok(Math.abs(records[1].score - terms.reduce((s, t) => s + t[1]!, 0) / terms.length) < 1e-12);
  });

  test('--proxy params: the parameter count by hand (784·8 + 8 + 8·10 + 10)', async () => {
    const out = await run('fitness', '--zoo', 'mlp:depth=1,width=8', '--proxy', 'params', '--json', ...common);
    assert.equal(JSON.parse(out).score, 784 * 8 + 8 + 8 * 10 + 10);
  });

  test('--model: a saved model scores as the same model does in process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradcond-fitness-cli-'));
    try {
      const model = buildModel('fc-orthogonal', { inputShape: [28, 28, 1], classes: 10, depth: 2, width: 8, seed: 4 });
      await saveModel(model, dir);
      const data = loadData({ name: 'synthetic', examples: 256, valExamples: 0, testExamples: 0 }).train;
      const want = await fitness(model, data, { batchSize: 16, batches: 2 });
      model.dispose();
      const got = JSON.parse(await run('fitness', '--model', join(dir, 'model.json'), '--json', '--against', 'reference', ...common));
      assert.equal(got.model, join(dir, 'model.json'));
      assert.equal(got.score, want.score);
      assert.deepEqual(got.metrics, want.metrics);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a table without --json; no candidate is a UsageError', async () => {
    const out = await run('fitness', '--zoo', 'mlp:depth=1,width=8', ...common);
    assert.match(out.split('\n')[0]!, /^rank\s+score\s+model/);
    await assert.rejects(run('fitness', ...common), /name at least one candidate/);
  });
});
