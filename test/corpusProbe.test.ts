/**
 * Corpus, probe on broken input: a model whose weights are missing, cut short, padded, NaN or
 * overflowing; a model tfjs cannot build; data that is NaN, 1e39, ragged or nested thousands of
 * levels deep. Each is refused in one line naming what is wrong (never probed at random weights,
 * never blamed on zero gradients), exit 2, inputs untouched. Large batches are cut to a stated
 * bound, with progress on stderr.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { loadModel } from '../src/models/io.js';
import { probe, type ProbeData, readProbeData } from '../src/probe.js';
import { type CliCase, cliSuite } from './corpus/cliCase.js';
import { buildFixtures, type Fixtures, probeData } from './corpus/fixtures.js';
import { assertRefused, assertUnchanged, cli, gradcondLines, snapshot } from './corpus/harness.js';

let fx: Fixtures;
before(async () => {
  await useBackend('cpu');
  fx = await buildFixtures('probe', { models: true, data: true, runs: false });
});
after(() => fx.cleanup());

const OPTS = { eta: 1e-3, n: 4, mask: 1, seed: 0 };

/** Writes a data.json variant into scratch. */
function dataFile(name: string, content: unknown): string {
  const p = fx.out(name);
  fs.writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

/** Loads model and data as `gradcond probe` does and probes; frees everything. */
async function probeFiles(model: string, data: string, opts: Partial<typeof OPTS> & { loss?: string } = {}) {
  const m = await loadModel(model);
  let d: ProbeData | null = null;
  try {
    d = readProbeData(data);
    return probe(m, d, { ...OPTS, ...opts });
  } finally {
    for (const b of d?.batches ?? []) tf.dispose([b.x, b.y]);
    m.dispose();
  }
}

/** A library case: refused with `line` (exit 2), no tensor left, the fixtures untouched. */
function refused(name: string, run: () => unknown, line: RegExp | string, opts: { todo?: string; leakTodo?: string } = {}): void {
  test(name, { todo: opts.todo }, async () => {
    const before = snapshot(fx.dir);
    const tensors = tf.memory().numTensors;
    await assertRefused(run, 2, line);
    if (!opts.leakTodo) assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
    assertUnchanged(fx.dir, before);
  });
  if (opts.leakTodo) {
    test(`${name}: no tensor left behind`, { todo: opts.leakTodo }, async () => {
      const tensors = tf.memory().numTensors;
      await Promise.resolve().then(run).then(() => undefined, () => undefined);
      assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
    });
  }
}

describe('corpus: saved models that must not be probed', () => {
  const data = () => fx.file('probe.json');
  refused('model.json without a weights manifest (tfjs would use random weights)', () => probeFiles(fx.model('nomanifest'), data()), /nomanifest\/model\.json: no weightsManifest, so the model's weights are missing \(tfjs would initialise them at random\)$/);
  refused('a weights file with 8 trailing bytes', () => probeFiles(fx.model('trailing'), data()), /trailing\/model\.json: weight file weights\.bin holds 180 bytes, the manifest describes 172 \(8 trailing bytes\)$/);
  refused('a weights file 8 bytes short', () => probeFiles(fx.model('short'), data()), /short\/model\.json: weight file weights\.bin holds 164 bytes, the manifest describes 172 \(8 bytes missing\)$/);
  refused('no weights file', () => probeFiles(fx.model('noweights'), data()), /^weight file not found: .*noweights\/weights\.bin$/);
  refused('a NaN weight, named as such', () => probeFiles(fx.model('nan'), data()), /nan\/model\.json: weight 'dense_Dense\d+\/kernel' has 1 non-finite values \(NaN or ±Infinity\) of 20$/);
  refused('an infinite weight', () => probeFiles(fx.model('inf'), data()), /inf\/model\.json: weight 'dense_Dense\d+\/kernel' has 1 non-finite values \(NaN or ±Infinity\) of 20$/);
  refused('finite weights whose loss overflows float32 (not "zero gradients")', () => probeFiles(fx.model('huge'), data()), "batch 0: the model's loss is not finite on 4 of 4 examples (the first: example 0) although its weights and inputs are: they overflow float32, so no metric is defined");
  refused('a layer tfjs does not know', () => probeFiles(fx.model('unknownlayer'), data()), /unknownlayer\/model\.json: cannot build the model \(Unknown layer: FancyLayer\./);
  refused('model.json that is not JSON', () => probeFiles(fx.model('notjson'), data()), /notjson\/model\.json: not valid JSON \(/);
  refused('model.json without a topology', () => probeFiles(fx.model('notopology'), data()), /notopology\/model\.json: not a tfjs Layers model\.json \(no modelTopology\)$/);
  refused('a JSON file that is no model', () => probeFiles(path.join(fx.dir, 'models', 'not-a-model.json'), data()), /not-a-model\.json: not a tfjs Layers model\.json \(no modelTopology\)$/);
  refused('a manifest shape that is not the model’s', () => probeFiles(fx.model('badshape'), data()), /badshape\/model\.json: weight 'dense_Dense\d+\/kernel' has shape \[5, 4\] in the manifest but \[4, 5\] in the model$/);
  refused('a manifest naming a weight the model lacks', () => probeFiles(fx.model('extraweight'), data()), /extraweight\/model\.json: the weights manifest names 'ghost\/kernel', which the model does not have$/);
  refused('a dtype gradcond cannot load', () => probeFiles(fx.model('baddtype'), data()), /baddtype\/model\.json: weight 'dense_Dense\d+\/kernel' has dtype 'float64', which gradcond cannot load$/);
  refused('no model file', () => probeFiles(path.join(fx.dir, 'models', 'nope', 'model.json'), data()), /^model file not found: .*nope\/model\.json$/);
  refused('two inputs: refused up front, naming them', () => probeFiles(fx.model('twoinputs'), data()), /twoinputs\/model\.json: gradcond trains models with one input and one output; this one has 2 inputs \('left', 'right'\) and 1 output \('[^']+'\)$/);
});

describe('corpus: data that must not be probed', () => {
  const m = () => fx.model('dense4');
  const bad = (mutate: (d: ReturnType<typeof probeData>) => void) => {
    const d = probeData();
    mutate(d);
    return d;
  };
  refused('"NaN" written in x', () => probeFiles(m(), fx.file('probe-nan-text.json')), 'batch 1 x: "NaN" is not a number');
  refused('NaN as a bare word (not JSON)', () => probeFiles(m(), fx.file('probe-nan-literal.json')), /probe-nan-literal\.json: malformed JSON \(Unexpected token 'N'/);
  refused('1e39, beyond float32', () => probeFiles(m(), fx.file('probe-1e39.json')), 'batch 0 x: 1e+39 is not a finite (float32) number');
  refused('x nested 5,000 levels deep', () => probeFiles(m(), fx.file('probe-deep-5k.json')), 'batch 0 x: nested more than 16 levels deep (an array of numbers has at most 16 dimensions)');
  refused('x nested 100,000 levels deep', () => probeFiles(m(), fx.file('probe-deep-100k.json')), 'batch 0 x: nested more than 16 levels deep (an array of numbers has at most 16 dimensions)');
  refused('a ragged x', () => probeFiles(m(), dataFile('ragged', bad((d) => d.batches[0]!.x[2]!.pop()))), 'batch 0 x: ragged array (entries of shape [4] and [3])');
  refused('4 inputs but 3 targets', () => probeFiles(m(), dataFile('count', bad((d) => d.batches[0]!.y.pop()))), 'batch 0: 4 inputs but 3 targets');
  refused('an empty x', () => probeFiles(m(), dataFile('empty', bad((d) => (d.batches[1]!.x = [])))), /data\.json|batches\.1\.x: Too small/);
  refused('one batch only', () => probeFiles(m(), dataFile('one', probeData(1))), 'confusion and diversity need at least 2 batches, data has 1');
  refused('examples of 5 features for a model of 4', () => probeFiles(m(), dataFile('shape', bad((d) => d.batches.forEach((b) => b.x.forEach((r) => r.push(0)))))), "batch 0: examples of shape [5] do not fit the model's input [4]");
  refused('targets of 4 classes for a model of 3', () => probeFiles(m(), dataFile('targets', bad((d) => d.batches.forEach((b) => b.y.forEach((r) => r.push(0)))))), "batch 0: targets of shape [4] do not fit the model's output [3]");
  refused('no loss anywhere', () => probeFiles(m(), dataFile('noloss', { batches: probeData().batches })), 'no loss given: set "loss" in data.json or pass --loss (one of categoricalCrossentropy, sparseCategoricalCrossentropy, meanSquaredError)');
  refused('class indices out of range', () => probeFiles(m(), dataFile('sparse', { loss: 'sparseCategoricalCrossentropy', batches: [0, 1].map((k) => ({ x: probeData().batches[k]!.x, y: [0, 1, 2, 5] })) })), 'batch 0: class indices must be integers in [0, 2]');
  refused('no data file', () => probeFiles(m(), path.join(fx.dir, 'nope.json')), /nope\.json: data file not found$/);
  refused('a directory for a data file', () => probeFiles(m(), path.join(fx.dir, 'models')), /models: is a directory, expected a data file$/);
  refused('batches that are not a list', () => probeFiles(m(), dataFile('notlist', { loss: 'categoricalCrossentropy', batches: 3 })), /: batches: Invalid input: expected array, received number \(expected \{"loss"\?, "batches"/);

  test('weights and inputs handed to probe() are checked too: NaN is named, not probed', async () => {
    const model = await loadModel(fx.model('dense4'));
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3));
    const clean = tf.tensor2d(probeData().batches[0]!.x);
    const dirty = tf.tensor2d(probeData().batches[0]!.x.map((r, i) => (i === 2 ? [r[0]!, Number.NaN, r[2]!, r[3]!] : r)));
    let tensors = tf.memory().numTensors;
    await assertRefused(() => probe(model, { loss: 'categoricalCrossentropy', batches: [{ x: clean, y }, { x: dirty, y }] }, OPTS), 2, 'batch 1 x: 1 non-finite values (NaN or ±Infinity), the first in example 2');
    assert.equal(tf.memory().numTensors, tensors);
    const kernel = model.layers[0]!.getWeights()[0]!;
    tf.tidy(() => model.layers[0]!.setWeights([tf.fill(kernel.shape, Number.NaN), model.layers[0]!.getWeights()[1]!]));
    tensors = tf.memory().numTensors;
    await assertRefused(() => probe(model, { loss: 'categoricalCrossentropy', batches: [{ x: clean, y }, { x: clean, y }] }, OPTS), 2, /^weight 'dense_Dense\d+\/kernel' has 20 non-finite values \(NaN or ±Infinity\): no metric is defined$/);
    assert.equal(tf.memory().numTensors, tensors);
    tf.dispose([y, clean, dirty]);
    model.dispose();
  });
});

describe('corpus: a bound on the probe’s cost', () => {
  test('batches above maxExamples are cut to their first maxExamples examples, stated in the result; metrics are those of the cut batches', async () => {
    const model = await loadModel(fx.model('dense4'));
    const big = probeData(2, 40);
    const full = big.batches.map((b) => ({ x: tf.tensor2d(b.x), y: tf.tensor2d(b.y) }));
    const cut = big.batches.map((b) => ({ x: tf.tensor2d(b.x.slice(0, 8)), y: tf.tensor2d(b.y.slice(0, 8)) }));
    const tensors = tf.memory().numTensors;
    const lines: string[] = [];
    const bounded = probe(model, { loss: 'categoricalCrossentropy', batches: full }, { ...OPTS, maxExamples: 8, onProgress: (l) => void lines.push(l) });
    const direct = probe(model, { loss: 'categoricalCrossentropy', batches: cut }, OPTS);
    assert.equal(tf.memory().numTensors, tensors, 'the cut copies are freed');
    assert.deepEqual(bounded.subsampled, [{ batch: 0, examples: 40, used: 8 }, { batch: 1, examples: 40, used: 8 }]);
    assert.deepEqual(direct.subsampled, []);
    assert.deepEqual(bounded.metrics, direct.metrics);
    assert.equal(lines[0], 'measuring 13 metrics on 2 batches of 8 examples');
    assert.match(lines[1]!, /^measured in \d+\.\d s$/);
    tf.dispose([...full, ...cut].flatMap((b) => [b.x, b.y]));
    model.dispose();
  });

  test('gradcond probe on 3 batches of 2,048 examples: the default bound of 1,024 is stated, progress is shown, the metrics come', async (t) => {
    const run = await cli(['probe', '--model', fx.model('mlp28'), '--data', 'synthetic', '--examples', '3072', '--batch-size', '2048', '--batches', '3', '--backend', 'cpu', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const lines = gradcondLines(run.stderr);
    assert.deepEqual(lines.slice(0, 3), [
      'gradcond: probe: --batch-size 2048 is more than --max-examples 1024: drawing 3 batches of 1024 examples (raise --max-examples to use more: the cost grows faster than the square of the batch size)',
      'gradcond: probe: loading synthetic and drawing 3 batches of 1024 examples',
      'gradcond: probe: measuring 13 metrics on 3 batches of 1024 examples',
    ]);
    assert.match(lines[3]!, /^gradcond: probe: measured in \d+\.\d s$/);
    const out = JSON.parse(run.stdout) as { metrics: Record<string, number | null> };
    assert.equal(Object.keys(out.metrics).length, 13);
    t.diagnostic(`3 × 2,048 examples, cut to 3 × 1,024: ${(run.ms / 1000).toFixed(1)} s wall in all, ${lines[3]}`);
  });
});

const probeCli = (model: string, data: (f: Fixtures) => string, extra: string[] = ['--backend', 'cpu']) => (f: Fixtures) => ['probe', '--model', f.model(model), '--data', data(f), ...extra];
const cliCases: CliCase[] = [
  { name: 'gradcond probe: no weights manifest', args: probeCli('nomanifest', (f) => f.file('probe.json')), code: 2, line: /nomanifest\/model\.json: no weightsManifest, so the model's weights are missing/ },
  { name: 'gradcond probe: trailing bytes', args: probeCli('trailing', (f) => f.file('probe.json')), code: 2, line: /\(8 trailing bytes\)$/ },
  { name: 'gradcond probe: a NaN weight', args: probeCli('nan', (f) => f.file('probe.json')), code: 2, line: /weight 'dense_Dense\d+\/kernel' has 1 non-finite values \(NaN or ±Infinity\) of 20$/ },
  { name: 'gradcond probe: weights that overflow', args: probeCli('huge', (f) => f.file('probe.json')), code: 2, line: /^batch 0: the model's loss is not finite on 4 of 4 examples/ },
  { name: 'gradcond probe: an unknown layer', args: probeCli('unknownlayer', (f) => f.file('probe.json')), code: 2, line: /cannot build the model \(Unknown layer: FancyLayer\./ },
  { name: 'gradcond probe: "NaN" in x', args: probeCli('dense4', (f) => f.file('probe-nan-text.json')), code: 2, line: 'batch 1 x: "NaN" is not a number' },
  { name: 'gradcond probe: x nested 100,000 levels deep', args: probeCli('dense4', (f) => f.file('probe-deep-100k.json')), code: 2, line: 'batch 0 x: nested more than 16 levels deep (an array of numbers has at most 16 dimensions)' },
  {
    name: 'gradcond probe: an Embedding on the default backend names the backend to use', args: probeCli('embedding4', (f) => f.file('probe-ints.json'), []), code: 2,
    line: "the wasm backend has no 'UnsortedSegmentSum' kernel, which this model needs: run with --backend cpu",
  },
];
cliSuite('corpus: gradcond probe on broken input', () => fx, cliCases);
