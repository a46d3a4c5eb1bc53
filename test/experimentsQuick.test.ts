/**
 * The quick variants of experiments 1, 2 and 5, end to end as `gradcond experiment NAME --quick`
 * runs them (minutes on 2 cores each): every run finishes, the report is written, and numbers in
 * the results are checked against independent computations from the run directories.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { useBackend } from '../src/backend/backend.js';
import { getExperiment } from '../src/experiments/registry.js';
import { REPORT_FILE, runExperiment } from '../src/experiments/run.js';
import { METRIC_NAMES } from '../src/metrics/registry.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-quick-'));
const JOBS = 2;

function records(dir: string, id: string): Record<string, unknown>[] {
  return fs.readFileSync(path.join(dir, 'runs', id, 'trace.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/** Spearman by counting ranks and the sums formula (independent of src/experiments/stats.ts). */
function bruteSpearman(xs: number[], ys: number[]): number {
  const rank = (v: number[]) => v.map((x) => 1 + v.filter((u) => u < x).length + (v.filter((u) => u === x).length - 1) / 2);
  const r = rank(xs);
  const s = rank(ys);
  const n = xs.length;
  const m = (n + 1) / 2;
  const dot = (a: number[], b: number[]) => a.reduce((t, v, i) => t + v * b[i]!, 0) - n * m * m;
  return dot(r, s) / Math.sqrt(dot(r, r) * dot(s, s));
}

test('experiment 1 (traces) --quick: every run traced; first values are the seeds\' medians read from the traces', async () => {
  await useBackend('wasm', { threads: 1 });
  const dir = tmp();
  const file = await runExperiment(getExperiment('traces'), dir, { variant: 'quick', jobs: JOBS, estimate: false });
  assert.ok(file.runs.every((r) => r.status === 'done' || r.status === 'dead' || r.status === 'diverged'), JSON.stringify(file.runs.filter((r) => r.status === 'failed')));
  const results = file.results as Record<string, Record<string, { first: number | null; seeds: number }>>;
  assert.deepEqual(Object.keys(results), [...METRIC_NAMES]);
  const first = (id: string) => (records(dir, id).find((r) => r.type === 'metric' && r.group === 'weightPerturbation') as { values: { kappaW: number } }).values.kappaW;
  const want = (first('fc-relu.d2.w32.b32.lr0.05.constant.s1') + first('fc-relu.d2.w32.b32.lr0.05.constant.s2')) / 2;
  assert.ok(Math.abs(results.kappaW!['fc-relu d2']!.first! - want) <= 1e-12 * want, `${results.kappaW!['fc-relu d2']!.first} vs ${want}`);
  const html = fs.readFileSync(path.join(dir, REPORT_FILE), 'utf8');
  assert.ok(html.includes('Metric traces') && html.includes('kappaX') && html.includes('figure 2.5'));
});

test('experiment 2 (speed) --quick: 80 pairs, each ρ equal to a brute-force Spearman of the per-run values', async () => {
  await useBackend('wasm', { threads: 1 });
  const dir = tmp();
  const file = await runExperiment(getExperiment('speed'), dir, { variant: 'quick', jobs: JOBS, estimate: false });
  type RunRow = { network: string; rate: number | null; finalLoss: number | null; at: Record<string, { steepest: number | null; lowest: number | null }> };
  const results = file.results as { runs: RunRow[]; pairs: { metric: string; point: 'steepest' | 'lowest'; target: 'rate' | 'finalLoss'; rho: number | null; n: number; interval: [number, number] | null }[] };
  assert.equal(results.pairs.length, METRIC_NAMES.length * 4);
  let checked = 0;
  for (const p of results.pairs) {
    const used = results.runs.filter((r) => r.at[p.metric]![p.point] !== null && r[p.target] !== null);
    assert.equal(p.n, used.length);
    if (p.rho === null) continue;
    const ref = bruteSpearman(used.map((r) => r.at[p.metric]![p.point]!), used.map((r) => r[p.target]!));
    assert.ok(Math.abs(p.rho - ref) < 1e-12, `${p.metric} ${p.point} ${p.target}: ${p.rho} vs ${ref}`);
    assert.ok(p.interval === null || (p.interval[0] <= p.interval[1] && p.interval[0] >= -1 && p.interval[1] <= 1));
    checked++;
  }
  assert.ok(checked >= 40, `most pairs have a ρ (${checked})`);
  assert.ok(file.findings.some((f) => /metric × target pairs/.test(f)));
});

test('experiment 5 (control) --quick: a 3 × 2 constant grid and 14 policies, judged against constant', async () => {
  await useBackend('wasm', { threads: 1 });
  const dir = tmp();
  const file = await runExperiment(getExperiment('control'), dir, { variant: 'quick', jobs: JOBS, estimate: false });
  const results = file.results as { grid: { results: { policy: string; runs: number }[] }; policies: { baseline: string; results: { policy: string; runs: number; testAccuracy: { median: number } | null }[] } };
  assert.deepEqual(results.grid.results.map((r) => r.policy).sort(), ['b16 lr0.05', 'b16 lr0.2', 'b32 lr0.05', 'b32 lr0.2', 'b64 lr0.05', 'b64 lr0.2']);
  assert.equal(results.policies.results.length, 14);
  assert.equal(results.policies.baseline, 'constant');
  const constant = results.policies.results.find((r) => r.policy === 'constant')!;
  const acc = [0, 1].map((s) => JSON.parse(fs.readFileSync(path.join(dir, 'runs', `fc-relu.d2.w64.b32.lr0.05.constant.s${s}`, 'test.json'), 'utf8')).testAccuracy as number);
  assert.equal(constant.testAccuracy!.median, (acc[0]! + acc[1]!) / 2);
  assert.ok(fs.existsSync(path.join(dir, 'policies', 'compare.json')));
  assert.ok(file.findings.some((f) => /smallest possible p/.test(f)));
});
