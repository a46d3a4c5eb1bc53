/**
 * The report: its plots hold the trace's numbers (read here straight from trace.jsonl and
 * recomputed in float64 by this file's own code: medians, bins, interpolation), the page holds
 * every plot, table and spec and nothing external, tooltips survive SVG rendering, PNG and SVG
 * files are valid with their text drawn, and bad directories are one-line usage errors.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { runReportCommand } from '../src/cli/commands/report.js';
import { exitReport } from '../src/cli/exit.js';
import { UsageError } from '../src/errors.js';
import { comparisonReport, plotsOf, renderPlot, renderReport, reportOfAll, runReport, writePlots, type ReportDoc, type ReportPlot } from '../src/report/index.js';
import { markdown } from '../src/report/markdown.js';
import { rasterize } from '../src/report/plot.js';
import { createRun } from '../src/trace/writer.js';
import { writeSyntheticComparison, writeSyntheticRun, type SyntheticRun } from './fixtures/report/synthetic.js';

let tmp = '';
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-report-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// An independent reading of a trace: JSON lines, parsed here, and the float64 rules recomputed.

type Rec = Record<string, any>;
function lines(dir: string): Rec[] {
  return fs.readFileSync(path.join(dir, 'trace.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);
}

/** Per step: examples through it, examples before it, wall seconds, and the record. */
function stepsOf(dir: string) {
  let seen = 0;
  return lines(dir).filter((r) => r.type === 'step').map((r) => {
    seen += r.batchSize;
    return { rec: r, through: seen, before: seen - r.batchSize, wall: r.wallTime / 1000 };
  });
}

function throughAt(dir: string, step: number): number {
  return stepsOf(dir).filter((s) => s.rec.step <= step).reduce((a, s) => a + s.rec.batchSize, 0);
}

function med(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

function plot(doc: ReportDoc, title: string): ReportPlot {
  const found = plotsOf(doc).find((p) => p.plot.title === title);
  assert.ok(found, `no plot titled "${title}" among: ${plotsOf(doc).map((p) => p.plot.title).join(' | ')}`);
  return found.plot;
}

/** The inline rows of a plot spec (top-level data, or the data of layer `layer`). */
function rows(p: ReportPlot, layer?: number): Rec[] {
  const spec = p.spec as Rec;
  return (layer === undefined ? spec.data.values : spec.layer[layer].data.values) as Rec[];
}

const curve = (p: ReportPlot, policy?: string) => rows(p).filter((r) => policy === undefined || r.policy === policy).map((r) => [r.x, r.median, r.lo, r.hi]);

// ---------------------------------------------------------------------------------------------

const knobRun = (dir: string, extra: Partial<SyntheticRun> = {}) => {
  const r: SyntheticRun = {
    policy: 'plateau', seed: 3, steps: 60, epochSteps: 15, every: 5,
    learningRate: (s) => (s < 20 ? 0.1 : s < 40 ? 0.05 : 0.01), batchSize: (s) => (s < 30 ? 8 : 16), ...extra,
  };
  writeSyntheticRun(dir, r);
  return r;
};

test('a run report: every plot, and each plot holds the trace\'s numbers (no reduction below 500 steps)', () => {
  const dir = path.join(tmp, 'run-a');
  knobRun(dir);
  const doc = runReport(dir);
  const titles = plotsOf(doc).map((p) => p.plot.title);
  assert.deepEqual(titles, [
    'Training loss against examples seen', 'Training loss against wall time (s)',
    'Validation accuracy against examples seen', 'Validation accuracy against wall time (s)',
    'Learning rate over the run', 'Batch size over the run',
    'step: every optimizer step, free', 'weightPerturbation: sampled', 'perExample: sampled',
  ]);
  const steps = stepsOf(dir);
  assert.equal(steps.length, 60);
  assert.deepEqual(curve(plot(doc, titles[0]!)), steps.map((s) => [s.through, s.rec.loss, s.rec.loss, s.rec.loss]));
  assert.deepEqual(curve(plot(doc, titles[1]!)), steps.map((s) => [s.wall, s.rec.loss, s.rec.loss, s.rec.loss]));
  const epochs = lines(dir).filter((r) => r.type === 'event' && r.kind === 'epoch');
  assert.equal(epochs.length, 4);
  assert.deepEqual(curve(plot(doc, titles[2]!)), epochs.map((e) => [throughAt(dir, e.step - 1), e.valAccuracy, e.valAccuracy, e.valAccuracy]));
  assert.deepEqual(curve(plot(doc, titles[3]!)), epochs.map((e) => [e.wallTime / 1000, e.valAccuracy, e.valAccuracy, e.valAccuracy]));
  // Metrics: x = examples through the sampled step; nulls left out.
  const samples = lines(dir).filter((r) => r.type === 'metric' && r.group === 'perExample');
  const noise = rows(plot(doc, titles[8]!)).filter((r) => r.metric === 'noiseScale').map((r) => [r.x, r.median]);
  assert.deepEqual(noise, samples.filter((s) => s.values.noiseScale !== null).map((s) => [throughAt(dir, s.step), s.values.noiseScale]));
  assert.equal(noise.length, samples.length - 1);
  const grad = rows(plot(doc, titles[6]!)).filter((r) => r.metric === 'gradNorm').map((r) => [r.x, r.median]);
  assert.deepEqual(grad, steps.map((s) => [s.through, s.rec.gradNorm]));
});

test('knob plots: the value in force from the examples seen before each step, change points only, and every decision with its reason', () => {
  const dir = path.join(tmp, 'run-b');
  knobRun(dir);
  const doc = runReport(dir);
  const lr = plot(doc, 'Learning rate over the run');
  const steps = stepsOf(dir);
  // Change points, computed here: the first step, each step whose learning rate differs from the one before, the last.
  const expected = steps.filter((s, i) => i === 0 || i === steps.length - 1 || s.rec.learningRate !== steps[i - 1]!.rec.learningRate).map((s) => [s.before, s.rec.learningRate]);
  assert.deepEqual(rows(lr, 0).map((r) => [r.x, r.value]), expected);
  assert.deepEqual(expected.map((e) => e[1]), [0.1, 0.05, 0.01, 0.01]);
  const updates = lines(dir).filter((r) => r.type === 'update');
  const lrUpdates = updates.filter((u) => u.before.learningRate !== u.after.learningRate);
  const points = rows(lr, 1);
  assert.equal(points.length, 2);
  assert.deepEqual(points.map((p) => [p.x, p.value]), lrUpdates.map((u) => [throughAt(dir, u.step), u.after.learningRate]));
  for (const [i, p] of points.entries()) assert.ok(p.tip.includes(lrUpdates[i]!.reason), p.tip);
  // A decision's point sits where its new value starts: at the x of the next step's line point.
  assert.deepEqual(points.map((p) => p.x), [expected[1]![0], expected[2]![0]]);
  const bs = rows(plot(doc, 'Batch size over the run'), 1);
  assert.deepEqual(bs.map((p) => [p.x, p.value]), updates.filter((u) => u.before.batchSize !== u.after.batchSize).map((u) => [throughAt(dir, u.step), u.after.batchSize]));
});

test('the batch-size plot shows the size the policy chose, not an epoch\'s short last batch', () => {
  const dir = path.join(tmp, 'run-short');
  const requested = (s: number) => (s < 30 ? 8 : 16);
  knobRun(dir, { batchSize: requested, actualBatchSize: (s) => (s % 15 === 14 ? 5 : requested(s)) });
  const steps = stepsOf(dir);
  assert.ok(steps.some((s) => s.rec.batchSize === 5), 'the trace has short batches');
  const line = rows(plot(runReport(dir), 'Batch size over the run'), 0).map((r) => [r.x, r.value]);
  const at = (step: number) => steps.find((s) => s.rec.step === step)!.before;
  assert.deepEqual(line, [[at(0), 8], [at(30), 16], [at(59), 16]]);
});

test('a comparison: median and min–max band over seeds, point by point when the seeds share x, interpolated when not', () => {
  const dir = path.join(tmp, 'cmp-a');
  const runs: SyntheticRun[] = [];
  for (const seed of [0, 1, 2]) runs.push({ policy: 'constant', seed, steps: 40 });
  // Different batch sizes per seed: the examples seen differ, so seeds meet on the union of their x.
  for (const seed of [0, 1]) runs.push({ policy: 'adabatch', seed, steps: 40, batchSize: () => 8 + 4 * seed });
  writeSyntheticComparison(dir, { runs });
  const doc = comparisonReport(dir);
  const loss = plot(doc, 'Training loss against examples seen');
  const seeds = [0, 1, 2].map((s) => stepsOf(path.join(dir, 'runs', `constant-s${s}`)));
  const expected = seeds[0]!.map((_, i) => {
    const ys = seeds.map((st) => st[i]!.rec.loss as number);
    assert.equal(new Set(seeds.map((st) => st[i]!.through)).size, 1);
    return [seeds[0]![i]!.through, med(ys), Math.min(...ys), Math.max(...ys)];
  });
  assert.deepEqual(curve(loss, 'constant'), expected);
  // adabatch: seed 0 has x = 8, 16, …, 320; seed 1 has x = 12, 24, …, 480.
  const a = [0, 1].map((s) => stepsOf(path.join(dir, 'runs', `adabatch-s${s}`)).map((st) => [st.through, st.rec.loss as number] as const));
  const grid = [...new Set(a.flatMap((s) => s.map((p) => p[0])))].sort((p, q) => p - q);
  const interp = (s: (readonly [number, number])[], x: number): number | null => {
    if (x < s[0]![0] || x > s.at(-1)![0]) return null;
    for (let i = 0; i < s.length; i++) {
      if (s[i]![0] === x) return s[i]![1];
      if (s[i]![0] < x && x < s[i + 1]![0]) return s[i]![1] + ((s[i + 1]![1] - s[i]![1]) / (s[i + 1]![0] - s[i]![0])) * (x - s[i]![0]);
    }
    return null;
  };
  const expectA = grid.map((x) => {
    const ys = a.map((s) => interp(s, x)).filter((y): y is number => y !== null);
    return [x, med(ys), Math.min(...ys), Math.max(...ys)];
  });
  const got = curve(loss, 'adabatch');
  assert.equal(got.length, expectA.length);
  got.forEach((g, i) => g.forEach((v, j) => assert.ok(Math.abs(v - expectA[i]![j]!) <= 1e-12 * Math.max(1, Math.abs(expectA[i]![j]!)), `point ${i} field ${j}: ${v} vs ${expectA[i]![j]}`)));
  // Beyond seed 0's last x (320) only seed 1 counts: median = min = max.
  const tail = got.filter((g) => g[0]! > 320);
  assert.ok(tail.length > 0 && tail.every((g) => g[1] === g[2] && g[2] === g[3]));
  // The same colour for a policy in every plot.
  for (const { plot: p } of plotsOf(doc)) {
    const specText = JSON.stringify(p.spec);
    assert.ok(specText.includes('"domain":["constant","adabatch"],"range":["#4c78a8","#f58518"]'), p.title);
  }
});

test('long runs: first and last step kept, the steps between in bins of k, median per bin (k = 3 for 1203 steps at 500 points)', () => {
  const dir = path.join(tmp, 'run-long');
  writeSyntheticRun(dir, { policy: 'constant', seed: 1, steps: 1203, every: 50 });
  const doc = runReport(dir);
  const steps = stepsOf(dir);
  const k = Math.ceil((1203 - 2) / (500 - 2));
  assert.equal(k, 3);
  const expected = [[steps[0]!.through, steps[0]!.rec.loss]];
  for (let i = 1; i < steps.length - 1; i += k) {
    const bin = steps.slice(i, Math.min(i + k, steps.length - 1));
    expected.push([med(bin.map((s) => s.through)), med(bin.map((s) => s.rec.loss))]);
  }
  expected.push([steps.at(-1)!.through, steps.at(-1)!.rec.loss]);
  const got = rows(plot(doc, 'Training loss against examples seen')).map((r) => [r.x, r.median]);
  assert.equal(got.length, 403);
  assert.deepEqual(got, expected);
  // A smaller limit gives even bins (median = mean of the middle two) and a short last bin.
  const small = runReport(dir, { maxPoints: 12 });
  const k2 = Math.ceil(1201 / 10);
  const got2 = rows(plot(small, 'Training loss against wall time (s)')).map((r) => [r.x, r.median]);
  const exp2 = [[steps[0]!.wall, steps[0]!.rec.loss]];
  for (let i = 1; i < steps.length - 1; i += k2) {
    const bin = steps.slice(i, Math.min(i + k2, steps.length - 1));
    exp2.push([med(bin.map((s) => s.wall)), med(bin.map((s) => s.rec.loss))]);
  }
  exp2.push([steps.at(-1)!.wall, steps.at(-1)!.rec.loss]);
  assert.equal(got2.length, 12);
  got2.forEach((g, i) => g.forEach((v, j) => assert.ok(Math.abs(v - exp2[i]![j]!) <= 1e-12 * Math.abs(exp2[i]![j]!), `${v} vs ${exp2[i]![j]}`)));
  assert.ok(doc.sections.find((s) => s.title === 'Training curves')!.text!.includes('k = 3'));
});

test('a resumed run: wall time leaves out the downtime between the kill and the resume', () => {
  const dir = path.join(tmp, 'run-resumed');
  const w = createRun(dir, { config: {}, seed: 0, backend: 'cpu', versions: { gradcond: '0', tfjs: '0', node: '0' }, model: 'm', startTime: '2025-01-01T00:00:00Z' });
  const step = (s: number, wallTime: number, loss: number) => w.step({ step: s, epoch: 1, wallTime, batchSize: 4, learningRate: 0.1, loss, gradNorm: 1, paramNorm: 1, updateNorm: 1, kappaWStep: null, gradDotPrevGrad: null, gradDotPrevUpdate: null, stepMs: 1 });
  w.event({ kind: 'start', step: 0, wallTime: 0 });
  for (let s = 0; s < 6; s++) step(s, 100 * (s + 1), 10 - s); // killed after step 5 (wallTime 600), checkpoint at 4 steps
  w.event({ kind: 'start', step: 4, wallTime: 60_600 }); // resumed a minute later
  for (let s = 4; s < 8; s++) step(s, 60_600 + 100 * (s - 3), 5 - s / 10);
  w.event({ kind: 'end', step: 8, wallTime: 61_100 });
  w.close();
  const got = rows(plot(runReport(dir), 'Training loss against wall time (s)')).map((r) => [r.x, r.median]);
  // Steps 0–3 from the first process; 4–7 replayed, 60 s of downtime (60 600 − 600 ms) taken off.
  assert.deepEqual(got, [[0.1, 10], [0.2, 9], [0.3, 8], [0.4, 7], [0.7, 4.6], [0.8, 4.5], [0.9, 4.4], [1.0, 4.3]].map(([x, y]) => [x!, y!]));
});

test('the page: every plot as SVG, the table with its target and notes, the spec, escaped text, nothing external', async () => {
  const dir = path.join(tmp, 'cmp-page');
  writeSyntheticComparison(dir, {
    runs: [0, 1].flatMap((seed) => [
      { policy: 'constant', seed, steps: 40 },
      { policy: 'plateau', seed, steps: 40, learningRate: (s: number) => (s < 20 ? 0.1 : 0.05) },
    ]),
  });
  const doc = comparisonReport(dir);
  const html = await renderReport(doc);
  const n = plotsOf(doc).length;
  assert.equal(n, 9);
  assert.equal(html.match(/<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g)?.length, n);
  assert.equal(html.match(/<figure class="plot/g)?.length, n);
  const file = JSON.parse(fs.readFileSync(path.join(dir, 'compare.json'), 'utf8'));
  for (const c of file.display.columns) assert.ok(html.includes(`<th>${c.replace(/&/g, '&amp;')}</th>`), c);
  for (const row of file.display.rows) for (const c of row) assert.ok(html.includes(`>${c}</td>`), c);
  assert.ok(html.includes(`${(100 * file.table.target.valAccuracy).toFixed(1)}% validation accuracy`));
  for (const note of file.table.notes) assert.ok(html.includes(note.slice(0, 40).replace(/'/g, '&#39;').replace(/"/g, '&quot;')), note);
  for (const needle of ['budget per run', '100 steps', 'sgd, initial learning rate 0.1, initial batch size 8', '0, 1 (2 per policy)']) assert.ok(html.includes(needle), needle);
  // No resource from anywhere else; no script at all; a policy allowing nothing external.
  assert.doesNotMatch(html, /<(script|link|img|iframe|object|embed)\b/i);
  assert.doesNotMatch(html, /\s(src|href)="(https?:)?\/\//i);
  assert.doesNotMatch(html, /url\((?!#)/i);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'/);
  // A reason from the trace ("plateau <19> & \"quoted\"") is escaped, in the tooltip too.
  assert.ok(html.includes('plateau &lt;19&gt; &amp; &quot;quoted&quot; for plateau'));
  assert.ok(!html.includes('plateau <19>'));
  // Run links are relative to the page's directory.
  assert.ok(html.includes('href="runs/constant-s0/"'));
});

test('tooltips survive SVG rendering: each decision point has a <title> holding its reason', async () => {
  const dir = path.join(tmp, 'run-tips');
  knobRun(dir);
  const lr = plot(runReport(dir), 'Learning rate over the run');
  const svg = await renderPlot(lr.spec, 'svg');
  const titles = [...svg.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]!);
  const reasons = lines(dir).filter((r) => r.type === 'update' && r.before.learningRate !== r.after.learningRate).map((u) => u.reason as string);
  assert.equal(titles.length, reasons.length);
  reasons.forEach((r, i) => assert.ok(titles[i]!.includes(r.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')), titles[i]));
  // Lines (no tooltip encoding) get no title.
  assert.equal(svg.match(/<path[^>]*aria-roledescription="line mark"[^>]*>\s*<title>/g), null);
});

test('PNG and SVG files: one per plot, valid, with their text drawn', async () => {
  const dir = path.join(tmp, 'run-files');
  knobRun(dir);
  const doc = runReport(dir);
  const pngs = await writePlots(doc, path.join(tmp, 'png'), 'png');
  const svgs = await writePlots(doc, path.join(tmp, 'svg'), 'svg');
  assert.equal(pngs.length, plotsOf(doc).length);
  assert.equal(svgs.length, plotsOf(doc).length);
  assert.equal(path.basename(pngs[0]!), '01-training-loss-against-examples-seen.png');
  for (const f of pngs) {
    const b = fs.readFileSync(f);
    assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], f);
    assert.equal(b.subarray(12, 16).toString('latin1'), 'IHDR');
    assert.ok(b.readUInt32BE(16) > 100 && b.readUInt32BE(20) > 100, `${f}: ${b.readUInt32BE(16)}×${b.readUInt32BE(20)}`);
  }
  for (const f of svgs) {
    const text = fs.readFileSync(f, 'utf8');
    assert.match(text, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* width="\d+(\.\d+)?" height="\d+(\.\d+)?"/);
    assert.ok(text.trimEnd().endsWith('</svg>'));
    assert.ok(rasterize(text).width > 0, f); // resvg parses it as SVG
  }
  // Text is drawn: the same plot with and without its words differs in dark pixels.
  const words = { data: { values: [{}] }, mark: { type: 'text', fontSize: 30, text: 'gradcond' }, width: 200, height: 60 } as const;
  const blank = { ...words, mark: { ...words.mark, text: ' ' } };
  const dark = async (spec: object) => {
    const px = rasterize(await renderPlot(spec as never, 'svg')).pixels;
    let count = 0;
    for (let i = 0; i < px.length; i += 4) if (px[i]! < 100 && px[i + 3]! > 0) count++;
    return count;
  };
  assert.ok((await dark(words)) > 300 + (await dark(blank)));
});

test('an unfinished comparison: the report names the missing and unfinished runs and still renders', async () => {
  const dir = path.join(tmp, 'cmp-unfinished');
  writeSyntheticComparison(dir, {
    runs: [
      { policy: 'constant', seed: 0, steps: 30 },
      { policy: 'cosine', seed: 0, steps: 30, ending: 'none' },
    ],
    missing: [{ policy: 'constant', seed: 1 }, { policy: 'cosine', seed: 1 }],
    finished: false,
  });
  const doc = comparisonReport(dir);
  const results = doc.sections[0]!;
  assert.match(results.text!, /2 of 4 run\(s\) missing\*\*: constant-s1 \(not started yet\); cosine-s1 \(not started yet\)/);
  assert.match(results.text!, /1 run\(s\) unfinished\*\* .*: cosine-s0/);
  assert.match(results.table!.caption!, /^\*\*Provisional\*\*/);
  assert.deepEqual(results.table!.rows.map((r) => [r[0], r[1]]), [['constant', '1'], ['cosine', '1']]);
  const runs = doc.sections.find((s) => s.title === 'Runs')!.table!;
  assert.deepEqual(runs.rows.map((r) => [r[0], r[3]]), [['constant-s0', 'done'], ['cosine-s0', 'incomplete'], ['constant-s1', 'missing'], ['cosine-s1', 'missing']]);
  const html = await renderReport(doc);
  assert.equal(html.match(/<svg xmlns=/g)?.length, plotsOf(doc).length);
  // Nothing started: tables and the list of missing runs, no plot.
  const none = path.join(tmp, 'cmp-none');
  writeSyntheticComparison(none, { runs: [], missing: [{ policy: 'constant', seed: 0 }], finished: false });
  const empty = comparisonReport(none);
  assert.equal(plotsOf(empty).length, 0);
  assert.match(empty.sections[0]!.text!, /No run has started yet/);
  assert.match(await renderReport(empty), /nothing to plot/);
});

test('bad input: a directory that is neither a comparison nor a run is one line and exit code 2', async () => {
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  const cases: [string[], RegExp][] = [
    [[empty], /empty: neither a comparison directory \(compare\.json\) nor a run directory/],
    [[path.join(tmp, 'nope')], /nope: no such directory/],
    [[], /name at least one/],
  ];
  for (const [dirs, message] of cases) {
    const err = await runReportCommand({ dirs, out: path.join(tmp, 'x.html'), format: 'html', 'max-points': 500 }).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof UsageError, String(err));
    const r = exitReport(err);
    assert.equal(r.code, 2);
    assert.match(r.line, message);
    assert.ok(!r.line.includes('\n'));
  }
  const args = { dirs: [empty], out: path.join(tmp, 'x.html'), 'max-points': 500 };
  await assert.rejects(runReportCommand({ ...args, format: 'html', 'plots-dir': tmp }), /--plots-dir goes with --format png or svg/);
  await assert.rejects(runReportCommand({ ...args, format: 'html', 'max-points': 2 }), /maxPoints \(--max-points\) must be an integer of at least 3, got 2/);
  await assert.rejects(renderPlot({ data: { url: 'https://example.com/x.json' }, mark: 'point' }, 'svg'), /must hold their data inline/);
  assert.throws(() => reportOfAll([path.join(tmp, 'run-a'), empty]), /empty: neither/);
});

test('the CLI writes the page, and several directories make one page with a section each', async () => {
  const out = path.join(tmp, 'out', 'both.html');
  await runReportCommand({ dirs: [path.join(tmp, 'run-a'), path.join(tmp, 'cmp-page')], out, format: 'html', 'max-points': 500 });
  const html = fs.readFileSync(out, 'utf8');
  assert.match(html, /<h2 id="s-run-run-a">Run run-a<\/h2>/);
  assert.match(html, /<h2 id="s-comparison-constant-plateau">Comparison: constant, plateau<\/h2>/);
  assert.equal(html.match(/<svg xmlns=/g)?.length, 18);
  assert.ok(html.includes('href="../cmp-page/runs/constant-s0/"'));
});

test('small markdown: paragraphs, lists, code, links; everything else escaped', () => {
  assert.equal(markdown('a <b>\nc\n\n- x `<y>`\n- **z**\n\n```\n<p>\n```\n[t](runs/a/) [j](javascript:alert(1))'),
    '<p>a &lt;b&gt; c</p>\n<ul><li>x <code>&lt;y&gt;</code></li><li><strong>z</strong></li></ul>\n<pre><code>&lt;p&gt;</code></pre>\n<p><a href="runs/a/">t</a> [j](javascript:alert(1))</p>');
});

test('a compare.json the report cannot read is one line naming the file and the problem', () => {
  const dir = path.join(tmp, 'cmp-bad');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'compare.json'), '{"spec": {"policies": []}, "runs": []}');
  assert.throws(() => comparisonReport(dir), (e: unknown) => e instanceof UsageError && /compare\.json: not a comparison file: spec\['policies'\] /.test(e.message) && !e.message.includes('\n'));
  fs.writeFileSync(path.join(dir, 'compare.json'), '{"spec": ');
  assert.throws(() => comparisonReport(dir), /compare\.json: cannot read the comparison/);
});
