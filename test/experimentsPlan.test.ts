/**
 * The experiment framework without training: definitions validated, grids expanded into run
 * specs (ids, shared runs, overrides, schedule lengths), the registry, and the time model
 * (a run's expected time, the schedule on workers) against hand computations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../src/errors.js';
import type { Calibration } from '../src/experiments/calibrate.js';
import { makespan, runMs, stepsOf, formatDuration } from '../src/experiments/estimate.js';
import { planExperiment, runsOfBlock } from '../src/experiments/plan.js';
import { experiments, getExperiment, parseDefinition } from '../src/experiments/registry.js';
import { networkLabeller } from '../src/experiments/series.js';
import type { AnalysedRun, DefinitionInput, VariantInput } from '../src/experiments/types.js';
import { parseRunSpec } from '../src/compare/runSpec.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useBackend } from '../src/backend/backend.js';
import { cacheFile, cachedCalibration, storeCalibration } from '../src/experiments/calibrationCache.js';

const DATA = { name: 'synthetic', examples: 64, valExamples: 32, testExamples: 32, inputShape: [8], classes: 3 } as const;

function variant(blocks: VariantInput['blocks'], extra: Partial<VariantInput> = {}): VariantInput {
  return { settings: { data: DATA, optimizer: 'sgd', budget: { kind: 'examples', value: 640 }, metrics: { groups: 'none' } }, blocks, ...extra };
}

function definition(v: VariantInput, name = 'tiny'): DefinitionInput {
  return { name, title: 'Tiny', question: 'Does the framework work?', analysis: 'traces', quick: v, full: v };
}

const FC = { label: 'fc', zoo: 'fc-orthogonal', options: { activation: 'relu' } } as const;

test('a block expands seed-major into readable ids, one spec per cell', () => {
  const d = parseDefinition(definition(variant([{ name: 'grid', architectures: [FC], depths: [1, 3], widths: [8], batchSizes: [16], learningRates: [0.1, 0.01], policies: [{ name: 'constant' }], seeds: [0, 1] }])));
  const runs = planExperiment(d.quick);
  assert.equal(runs.length, 2 * 2 * 2);
  assert.deepEqual(runs.slice(0, 4).map((r) => r.id), ['fc.d1.w8.b16.lr0.1.constant.s0', 'fc.d1.w8.b16.lr0.01.constant.s0', 'fc.d3.w8.b16.lr0.1.constant.s0', 'fc.d3.w8.b16.lr0.01.constant.s0']);
  assert.ok(runs.slice(4).every((r) => r.cell.seed === 1));
  const r = runs[2]!;
  assert.deepEqual(r.spec.model, { zoo: 'fc-orthogonal', options: { activation: 'relu', depth: 3, width: 8 } });
  assert.equal(r.spec.learningRate, 0.1);
  assert.equal(r.dir, 'runs/fc.d3.w8.b16.lr0.1.constant.s0');
  assert.deepEqual(parseRunSpec(r.spec), r.spec, 'every spec is a valid run spec');
});

test('an architecture\'s own depths replace the block\'s; a schedule gets the run length; blocks share identical runs', () => {
  const d = parseDefinition(definition(variant([
    { name: 'grid', architectures: [FC, { label: 'cnn', zoo: 'cnn-plain', depths: [2] }], depths: [1, 4], batchSizes: [32, 64], learningRates: [0.1], policies: [{ name: 'constant' }], seeds: [0] },
    { name: 'policies', architectures: [FC], depths: [1], batchSizes: [32], learningRates: [0.1], policies: [{ name: 'constant' }, { name: 'cosine' }], seeds: [0] },
  ])));
  const runs = planExperiment(d.quick);
  assert.equal(runs.filter((r) => r.cell.architecture === 'cnn').length, 2, 'cnn has depth 2 only, at two batch sizes');
  const shared = runs.find((r) => r.id === 'fc.d1.b32.lr0.1.constant.s0')!;
  assert.deepEqual(shared.blocks, ['grid', 'policies']);
  assert.equal(runs.length, 4 + 2 + 1, 'the shared constant run is planned once');
  const cosine = runs.find((r) => r.cell.policy === 'cosine')!;
  assert.deepEqual(cosine.spec.policy.options, { total: 20, unit: 'step' }, '640 examples at batch 32 = 20 steps');
  assert.equal(runsOfBlock(runs, 'policies').length, 2);
});

test('a block overriding a setting keeps its own runs apart; metric options merge, every replacing budget', () => {
  const d = parseDefinition(definition(variant([
    { name: 'a', architectures: [FC], depths: [1], batchSizes: [8], learningRates: [0.1], policies: [{ name: 'constant' }], seeds: [0] },
    { name: 'b', architectures: [FC], depths: [1], batchSizes: [8], learningRates: [0.1], policies: [{ name: 'constant' }], seeds: [0], settings: { budget: { kind: 'steps', value: 5 } } },
    { name: 'm', architectures: [FC], depths: [1], batchSizes: [8], learningRates: [0.1], policies: [{ name: 'constant' }], seeds: [0], metrics: [{ label: 'mask0.5', options: { mask: 0.5, every: 2 } }], settings: { metrics: { groups: 'economy', budget: 0.1 } } },
  ])));
  const runs = planExperiment(d.quick);
  assert.deepEqual(runs.map((r) => r.id), ['fc.d1.b8.lr0.1.constant.s0', 'fc.d1.b8.lr0.1.constant.s0.b', 'fc.d1.b8.lr0.1.constant.mask0.5.s0']);
  assert.deepEqual(runs[1]!.spec.budget, { kind: 'steps', value: 5 });
  assert.deepEqual(runs[2]!.spec.metrics, { groups: 'economy', mask: 0.5, every: 2 });
});

test('bad definitions are one-line UsageErrors naming the experiment and the field', () => {
  const block = { name: 'g', architectures: [FC], batchSizes: [8], learningRates: [0.1], policies: [{ name: 'constant' }], seeds: [0] };
  const bad = (v: VariantInput) => () => planExperiment(parseDefinition(definition(v)).quick);
  assert.throws(bad(variant([{ ...block, architectures: [{ label: 'x', zoo: 'nope' }] }])), (e: Error) => e instanceof UsageError && /unknown model 'nope'/.test(e.message));
  assert.throws(bad(variant([{ ...block, policies: [{ name: 'nope' }] }])), /unknown policy 'nope'/);
  assert.throws(bad(variant([{ ...block, policies: [{ name: 'constant' }, { name: 'constant' }] }])), /policy label 'constant' is used twice/);
  assert.throws(bad(variant([{ ...block, batchSizes: [] }])), /experiment 'tiny'.*batchSizes/);
  assert.throws(() => parseDefinition({ ...definition(variant([block])), analysis: 'nope' }), /unknown analysis 'nope'/);
  assert.throws(() => parseDefinition({ ...definition(variant([block])), extra: 1 }), /unknown option 'extra'/);
  assert.throws(() => parseDefinition(definition(variant([{ ...block, architectures: [{ ...FC, label: 'a b' }] }]))), /labels may hold/);
});

test('the registry validates every experiment, finds them by name or number, and refuses others', () => {
  const all = experiments();
  assert.ok(all.length >= 3);
  for (const d of all) {
    assert.ok(planExperiment(d.quick).length > 0 || d.quick.blocks.length === 0, `${d.name} quick plans`);
    planExperiment(d.full);
  }
  assert.equal(getExperiment('1').name, 'traces');
  assert.equal(getExperiment('control').number, 5);
  assert.throws(() => getExperiment('nope'), (e: Error) => e instanceof UsageError && /unknown experiment 'nope': choose one of traces, speed/.test(e.message));
});

const CAL: Calibration = { key: 'k', example: 'x', stepMs: 10, groupMs: { perExample: 30, weightPerturbation: 50 }, setupMs: 400, validationMs: 20, testMs: 25, trainSize: 1000 };

test('a run\'s expected time by hand: steps, metric samples by cadence or budget, validations, setup and test', () => {
  const spec = (budget: object, metrics: object, extra: object = {}) => parseRunSpec({
    id: 'r', model: { zoo: 'mlp' }, data: DATA, optimizer: 'sgd', learningRate: 0.1, batchSize: 50, policy: { name: 'constant' }, seed: 0, budget, metrics, ...extra,
  });
  assert.equal(stepsOf({ kind: 'epochs', value: 2 }, 64, 1000), 32, '2 × ⌈1000/64⌉');
  // 100 steps × 10 ms; perExample every 10 → 10 × 30 ms; validations: every 25 steps → 4, plus ⌊100·50/1000⌋ + 1 = 6 epoch ends.
  assert.equal(runMs(spec({ kind: 'steps', value: 100 }, { groups: ['perExample'], every: 10 }, { validateEvery: 25 }), CAL), 400 + 1000 + 300 + 10 * 20 + 25);
  // 5000 examples at 50 = 100 steps; per-group cadence: weightPerturbation every 30 → 4 samples × 50.
  assert.equal(runMs(spec({ kind: 'examples', value: 5000 }, { every: { weightPerturbation: 30 } }), CAL), 400 + 1000 + 200 + 6 * 20 + 25);
  // Budget 20%: metrics take 0.2/0.8 of the 1000 ms of training (under the every-step cost).
  assert.equal(runMs(spec({ kind: 'steps', value: 100 }, { groups: ['perExample'], budget: 0.2 }), CAL), 400 + 1000 + 250 + 6 * 20 + 25);
  // The 'policy reads' count: noise-scale reads perExample, sampled under the default 5% budget.
  assert.ok(Math.abs(runMs(spec({ kind: 'steps', value: 100 }, { groups: 'none' }, { policy: { name: 'noise-scale' } }), CAL) - (400 + 1000 + (0.05 / 0.95) * 1000 + 6 * 20 + 25)) < 1e-9);
  assert.equal(runMs(spec({ kind: 'seconds', value: 3 }, {}), CAL), 400 + 3000 + 25);
});

test('the schedule on workers: each run to the first worker free, plus the worker start', () => {
  assert.equal(makespan([5, 3, 3, 1], 2, 0), 6); // w1: 5, then 1 → 6; w2: 3, 3 → 6
  assert.equal(makespan([4, 4, 4], 2, 1), 9); // w1: 1+4+4; w2: 1+4
  assert.equal(makespan([7], 8, 2), 9, 'never more workers than runs');
  assert.equal(makespan([], 2), 0);
  assert.equal(formatDuration(42.4), '42 s');
  assert.equal(formatDuration(200), '3 min 20 s');
  assert.equal(formatDuration(3900), '1 h 05 min');
});

test('network labels name the axes that vary within an architecture, not the seed', () => {
  const cell = (architecture: string, depth: number, width: number, seed: number) => ({ cell: { block: 'b', architecture, zoo: 'z', depth, width, batchSize: 32, learningRate: 0.1, policy: 'constant', metrics: 'default', seed } }) as unknown as AnalysedRun;
  const runs = [cell('fc', 2, 32, 0), cell('fc', 4, 32, 1), cell('cnn', 2, 4, 0)];
  const label = networkLabeller(runs);
  assert.equal(label(runs[1]!.cell), 'fc d4', 'each architecture has one width: not in the label');
  assert.equal(networkLabeller([cell('fc', 2, 32, 0), cell('fc', 2, 64, 0)], false)(cell('fc', 2, 64, 0).cell), 'w64');
});

test('calibrations are kept a week per machine and configuration; an unreadable cache is ignored', async () => {
  await useBackend('cpu');
  process.env.GRADCOND_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-cache-'));
  const { key: _k, example: _e, ...measured } = CAL;
  assert.equal(cachedCalibration('a'), null);
  storeCalibration('a', measured);
  assert.deepEqual(cachedCalibration('a'), measured);
  assert.equal(cachedCalibration('b'), null);
  assert.equal(cachedCalibration('a', Date.now() + 8 * 86_400_000), null, 'older than a week: measured again');
  fs.writeFileSync(cacheFile(), '{not json');
  assert.equal(cachedCalibration('a'), null);
  storeCalibration('a', measured);
  assert.deepEqual(cachedCalibration('a'), measured);
});
