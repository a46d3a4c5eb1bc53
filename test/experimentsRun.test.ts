/**
 * The experiment framework end to end on tiny grids (synthetic data, a few dozen steps): runs in
 * worker processes, experiment.json and report.html, resume and refusals, and the analyses'
 * numbers against independent computations from the run directories (test.json, the raw batch
 * losses of trace.jsonl).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { useBackend } from '../src/backend/backend.js';
import { tf } from '../src/backend/tf.js';
import { runResumable } from '../src/compare/compare.js';
import { parseRunSpec } from '../src/compare/runSpec.js';
import { UsageError } from '../src/errors.js';
import { parseDefinition } from '../src/experiments/registry.js';
import { EXPERIMENT_FILE, REPORT_FILE, runExperiment, type ExperimentFile } from '../src/experiments/run.js';
import type { DefinitionInput, VariantInput } from '../src/experiments/types.js';

// A fresh calibration cache: this file measures, it does not reuse another run's measurements.
process.env.GRADCOND_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-cache-'));

const DATA = { name: 'synthetic', examples: 96, valExamples: 48, testExamples: 48, inputShape: [8], classes: 3 } as const;
const FC = { label: 'fc', zoo: 'fc-orthogonal', options: { activation: 'relu' }, widths: [8] };

function tiny(name: string, analysis: string, v: VariantInput): DefinitionInput {
  return { name, title: `Tiny ${analysis}`, question: 'Does it run?', figures: ['figure 0.0'], analysis, quick: v, full: v };
}

const SPEED = parseDefinition(tiny('tiny-speed', 'speed', {
  settings: { data: DATA, optimizer: 'sgd', budget: { kind: 'steps', value: 36 }, metrics: { groups: ['perExample', 'weightPerturbation'], every: 4 } },
  blocks: [{ name: 'zoo', architectures: [FC], depths: [1, 2, 4], batchSizes: [16], learningRates: [0.2], policies: [{ name: 'constant' }], seeds: [0, 1] }],
  analysis: { window: 6, span: 6, resamples: 2000, metrics: ['kappaW', 'coherence', 'kappaWStep'] },
}));

const CONTROL = parseDefinition(tiny('tiny-control', 'control', {
  settings: { data: DATA, optimizer: 'sgd', budget: { kind: 'examples', value: 480 }, validateEvery: 5, metrics: { groups: 'none' } },
  blocks: [
    { name: 'grid', architectures: [FC], depths: [1], batchSizes: [8, 16], learningRates: [0.2], policies: [{ name: 'constant' }], seeds: [0, 1] },
    { name: 'policies', architectures: [FC], depths: [1], batchSizes: [16], learningRates: [0.2], policies: [{ name: 'constant' }, { name: 'cosine' }], seeds: [0, 1] },
  ],
  analysis: {},
}));

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-exp-'));
const read = (dir: string): ExperimentFile => JSON.parse(fs.readFileSync(path.join(dir, EXPERIMENT_FILE), 'utf8'));

/** Centred moving average by brute force: for each step, the mean of the losses within ±h steps. */
function bruteSmooth(losses: { step: number; loss: number }[], window: number): { step: number; value: number }[] {
  const h = Math.floor(window / 2);
  return losses.map((p) => {
    const near = losses.filter((q) => Math.abs(q.step - p.step) <= h);
    return { step: p.step, value: near.reduce((s, q) => s + q.loss, 0) / near.length };
  });
}

function rawLosses(runDir: string): { step: number; loss: number }[] {
  return fs.readFileSync(path.join(runDir, 'trace.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'step' && r.loss !== null).map((r) => ({ step: r.step, loss: r.loss }));
}

test('speed: runs, estimate, experiment.json, report; rates and losses match a brute-force reading of the traces', async () => {
  await useBackend('wasm', { threads: 1 });
  const dir = tmp();
  const before = tf.memory().numTensors;
  const lines: string[] = [];
  const file = await runExperiment(SPEED, dir, { variant: 'quick', jobs: 2, log: (l) => lines.push(l) });
  assert.equal(tf.memory().numTensors, before, 'the calibration leaves no tensor behind');
  assert.equal(file.runs.length, 6);
  assert.ok(file.runs.every((r) => r.status === 'done'), JSON.stringify(file.runs.map((r) => [r.id, r.status, r.error])));
  assert.ok(file.estimate && file.estimate.seconds > 0 && file.estimate.calibrations.length === 3, 'three configurations (depths) calibrated');
  assert.ok(file.estimate.calibrations.every((c) => c.stepMs > 0 && c.groupMs.perExample! > 0 && c.groupMs.weightPerturbation! > 0));
  assert.match(lines.join('\n'), /6 run\(s\)[\s\S]*calibrating 3\/3[\s\S]*expected time here: [\s\S]*finished in/);
  assert.deepEqual(read(dir), file);
  const html = fs.readFileSync(path.join(dir, REPORT_FILE), 'utf8');
  for (const title of ['Question', 'Findings', 'Metric against training speed', 'All metric × target pairs', 'Setup', 'Time', 'Runs']) assert.ok(html.includes(title), title);
  assert.ok(html.includes('ρ = '), 'ρ in the plot titles');
  const results = file.results as { runs: { id: string; rate: number; finalLoss: number; lowestLoss: number; steepestStep: number }[]; pairs: { metric: string; rho: number | null; n: number; interval: [number, number] | null }[] };
  for (const r of results.runs) {
    const losses = rawLosses(path.join(dir, 'runs', r.id));
    const smooth = bruteSmooth(losses, 6);
    let best = -Infinity;
    for (const a of smooth) {
      const b = smooth.find((q) => q.step >= a.step + 6);
      if (b) best = Math.max(best, (a.value - b.value) / (b.step - a.step));
    }
    assert.ok(Math.abs(r.rate - best) < 1e-12, `${r.id}: rate ${r.rate} vs ${best}`);
    assert.ok(Math.abs(r.lowestLoss - Math.min(...smooth.map((p) => p.value))) < 1e-12);
    const last = losses.filter((p) => p.step > losses.at(-1)!.step - 6);
    assert.ok(Math.abs(r.finalLoss - last.reduce((s, p) => s + p.loss, 0) / last.length) < 1e-12);
  }
  assert.equal(results.pairs.length, 3 * 4, '3 metrics × 2 points × 2 targets');
  assert.ok(results.pairs.every((p) => p.n === 6 && (p.rho === null || (p.rho >= -1 && p.rho <= 1))));
});

test('resume keeps finished runs and redoes the analysis; another experiment or no flag is refused', async () => {
  await useBackend('wasm', { threads: 1 });
  const dir = tmp();
  await runExperiment(SPEED, dir, { variant: 'quick', jobs: 2, estimate: false });
  const mtimes = () => fs.readdirSync(path.join(dir, 'runs')).map((d) => fs.statSync(path.join(dir, 'runs', d, 'trace.jsonl')).mtimeMs);
  const first = mtimes();
  let ran = 0;
  const again = await runExperiment(SPEED, dir, { variant: 'quick', jobs: 2, resume: true, onFinished: () => void ran++ });
  assert.equal(ran, 0, 'no run ran again');
  assert.deepEqual(mtimes(), first);
  assert.equal(again.estimate!.toRun, 0);
  assert.ok(again.findings.length > 0);
  await assert.rejects(runExperiment(SPEED, dir, { variant: 'quick', jobs: 1, estimate: false }), (e: Error) => e instanceof UsageError && /already holds an experiment/.test(e.message));
  await assert.rejects(runExperiment(CONTROL, dir, { variant: 'quick', jobs: 1, resume: true, estimate: false }), /holds a different experiment/);
  await assert.rejects(runExperiment(SPEED, tmp(), { variant: 'quick', jobs: 1, resume: true, estimate: false }), /nothing to resume/);
  // The same runs analysed another way: copied from the first experiment, none run again.
  const traces = parseDefinition({ ...tiny('tiny-traces', 'traces', { ...SPEED.quick, analysis: {} }) });
  const other = tmp();
  const reused = await runExperiment(traces, other, { variant: 'quick', jobs: 2, reuse: dir, estimate: false, onFinished: () => void ran++ });
  assert.equal(ran, 0, 'every run was reused');
  assert.ok(reused.runs.every((r) => r.status === 'done'));
  await assert.rejects(runExperiment(traces, tmp(), { variant: 'quick', jobs: 1, reuse: tmp(), estimate: false }), /not an experiment directory/);
});

/** Median of a list. */
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

test('control: the grid and policy tables match medians read from test.json; the policy block is a comparison directory', async () => {
  await useBackend('wasm', { threads: 1 });
  const dir = tmp();
  const file = await runExperiment(CONTROL, dir, { variant: 'quick', jobs: 2, estimate: false });
  assert.equal(file.runs.length, 4 + 4 - 2, 'the constant runs at batch 16 are shared by both blocks');
  const testAcc = (id: string) => JSON.parse(fs.readFileSync(path.join(dir, 'runs', id, 'test.json'), 'utf8')).testAccuracy as number;
  const results = file.results as { grid: { baseline: string; results: { policy: string; testAccuracy: { median: number } }[] }; policies: { results: { policy: string; testAccuracy: { median: number } }[] } };
  assert.equal(results.grid.baseline, 'b16', 'the grid is judged against the cell the policies start from');
  for (const bs of [8, 16]) {
    const want = median([0, 1].map((s) => testAcc(`fc.d1.w8.b${bs}.lr0.2.constant.s${s}`)));
    assert.equal(results.grid.results.find((r) => r.policy === `b${bs}`)!.testAccuracy.median, want);
  }
  const cosine = median([0, 1].map((s) => testAcc(`fc.d1.w8.b16.lr0.2.cosine.s${s}`)));
  assert.equal(results.policies.results.find((r) => r.policy === 'cosine')!.testAccuracy.median, cosine);
  const cmp = JSON.parse(fs.readFileSync(path.join(dir, 'policies', 'compare.json'), 'utf8'));
  assert.deepEqual(cmp.runs.map((r: { policy: string; seed: number }) => `${r.policy}/${r.seed}`).sort(), ['constant/0', 'constant/1', 'cosine/0', 'cosine/1']);
  assert.ok(cmp.runs.every((r: { dir: string }) => fs.existsSync(path.join(dir, 'policies', r.dir, 'trace.jsonl'))), 'its run links resolve');
  const html = fs.readFileSync(path.join(dir, REPORT_FILE), 'utf8');
  for (const title of ['Constant runs: batch size × learning rate', 'Policies', 'Training curves']) assert.ok(html.includes(title), title);
  assert.ok(file.findings.some((f) => /smallest possible p is 0\.500/.test(f)), file.findings.join('\n'));
});

test('a run that fails before writing its directory is a failed outcome with the worker\'s error, not a crash', async () => {
  const dir = tmp();
  const spec = parseRunSpec({
    id: 'broken', model: { zoo: 'mlp' }, data: { name: 'csv', file: path.join(dir, 'missing.csv') }, optimizer: 'sgd', learningRate: 0.1,
    batchSize: 8, policy: { name: 'constant' }, seed: 0, budget: { kind: 'steps', value: 2 },
  });
  const [result] = await runResumable([{ spec, dir: path.join(dir, 'runs', 'broken') }], { jobs: 1 });
  assert.equal(result!.outcome.status, 'failed');
  assert.match(result!.error!, /missing\.csv/);
  assert.equal(result!.outcome.reason, result!.error);
});
