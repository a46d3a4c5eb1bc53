/**
 * The corpus' inputs, built in a temporary directory from code (no binary files in the
 * repository): small saved models and their broken variants, data files good and bad, and
 * finished run directories with damaged copies. Everything under `dir` is an input that no case
 * may change; cases write only under `scratch`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../../src/backend/tf.js';
import { loadData } from '../../src/data/registry.js';
import { saveModel } from '../../src/models/io.js';
import { mlp } from '../../src/models/zoo.js';
import { train } from '../../src/trainer/train.js';
import { setSeededWeights } from '../helpers.js';

export interface Fixtures {
  /** Inputs: must be byte-identical after every case. */
  dir: string;
  /** Where cases write (new run directories). */
  scratch: string;
  /** `name` → model.json of a saved model (see `buildModels`). */
  model: (name: string) => string;
  /** A file under `dir`. */
  file: (name: string) => string;
  /** A run directory under `dir/runs`. */
  run: (name: string) => string;
  /** A fresh path under `scratch`. */
  out: (name: string) => string;
  cleanup: () => void;
}

/** A 4 → 5 → 3 tanh/softmax MLP with seeded weights: the probe's model. */
function dense4(): tf.LayersModel {
  const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 5, activation: 'tanh' }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
  setSeededWeights(m, 3);
  return m;
}

/** A 4 → 5 → 3 ReLU/softmax MLP: with weights of 1e30 its logits overflow float32. */
function relu4(): tf.LayersModel {
  const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 5, activation: 'relu' }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
  setSeededWeights(m, 4);
  return m;
}

/** 4 integer features 0..9 → Embedding(10, 2) → 3 classes: needs the gradient of a gather. */
function embedding4(): tf.LayersModel {
  const m = tf.sequential({
    layers: [tf.layers.embedding({ inputDim: 10, outputDim: 2, inputLength: 4, inputShape: [4] }), tf.layers.flatten(), tf.layers.dense({ units: 3, activation: 'softmax' })],
  });
  setSeededWeights(m, 5);
  return m;
}

/** Two inputs, 'left' and 'right', concatenated. */
function twoInputs(): tf.LayersModel {
  const a = tf.input({ shape: [4], name: 'left' });
  const b = tf.input({ shape: [4], name: 'right' });
  const c = tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor;
  return tf.model({ inputs: [a, b], outputs: tf.layers.dense({ units: 3, activation: 'softmax' }).apply(c) as tf.SymbolicTensor });
}

type ModelJson = { modelTopology: { config: { layers: { class_name: string }[] } }; weightsManifest?: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[] };

/** Writes a variant of the saved model in `from`: its model.json changed by `json`, its weights by `bin`. */
function variant(from: string, to: string, json: (j: ModelJson) => unknown, bin: ((b: Buffer) => Buffer | null) | null = (b) => b): void {
  fs.mkdirSync(to, { recursive: true });
  const j = JSON.parse(fs.readFileSync(path.join(from, 'model.json'), 'utf8')) as ModelJson;
  const out = json(j);
  fs.writeFileSync(path.join(to, 'model.json'), typeof out === 'string' ? out : JSON.stringify(out));
  const b = bin?.(fs.readFileSync(path.join(from, 'weights.bin')));
  if (b) fs.writeFileSync(path.join(to, 'weights.bin'), b);
}

/** The float32 weights of a weights.bin with `f` applied to each value. */
function mapFloats(b: Buffer, f: (v: number, i: number) => number): Buffer {
  const out = Buffer.from(b);
  for (let i = 0; i < out.length / 4; i++) out.writeFloatLE(f(out.readFloatLE(4 * i), i), 4 * i);
  return out;
}

async function buildModels(dir: string): Promise<void> {
  const m = (name: string) => path.join(dir, 'models', name);
  for (const [name, build] of [['dense4', dense4], ['relu4', relu4], ['embedding4', embedding4], ['twoinputs', twoInputs]] as const) {
    const model = build();
    await saveModel(model, m(name));
    model.dispose();
  }
  const mlp28 = mlp({ inputShape: [28, 28, 1], classes: 10, seed: 1, width: 8, depth: 1 });
  await saveModel(mlp28, m('mlp28'));
  mlp28.dispose();
  const base = m('dense4');
  variant(base, m('nomanifest'), (j) => ({ ...j, weightsManifest: undefined }));
  variant(base, m('trailing'), (j) => j, (b) => Buffer.concat([b, Buffer.alloc(8)]));
  variant(base, m('short'), (j) => j, (b) => b.subarray(0, b.length - 8));
  variant(base, m('noweights'), (j) => j, null);
  variant(base, m('nan'), (j) => j, (b) => mapFloats(b, (v, i) => (i === 2 ? Number.NaN : v)));
  variant(base, m('inf'), (j) => j, (b) => mapFloats(b, (v, i) => (i === 7 ? Number.POSITIVE_INFINITY : v)));
  variant(m('relu4'), m('huge'), (j) => j, (b) => mapFloats(b, () => 1e30)); // finite, but the forward pass overflows float32
  variant(m('mlp28'), m('huge28'), (j) => j, (b) => mapFloats(b, () => 1e30));
  variant(base, m('unknownlayer'), (j) => ((j.modelTopology.config.layers[1]!.class_name = 'FancyLayer'), j));
  variant(base, m('notjson'), () => '{"modelTopology": ');
  variant(base, m('notopology'), (j) => ({ weightsManifest: j.weightsManifest }));
  variant(base, m('badshape'), (j) => ((j.weightsManifest![0]!.weights[0]!.shape = [5, 4]), j));
  variant(base, m('extraweight'), (j) => (j.weightsManifest![0]!.weights.push({ name: 'ghost/kernel', shape: [1], dtype: 'float32' }), j), (b) => Buffer.concat([b, Buffer.alloc(4)]));
  variant(base, m('baddtype'), (j) => ((j.weightsManifest![0]!.weights[0]!.dtype = 'float64'), j));
  fs.writeFileSync(path.join(m('dense4'), '..', 'not-a-model.json'), '[1, 2, 3]');
}

/** Nested arrays: `b` examples of 4 deterministic features in [−1, 1]. */
const rows = (b: number, seed: number) => Array.from({ length: b }, (_, i) => Array.from({ length: 4 }, (_, j) => Math.sin(seed * 13 + i * 7 + j * 3)));
const oneHot = (b: number, k: number, seed: number) => Array.from({ length: b }, (_, i) => Array.from({ length: k }, (_, j) => (j === (i + seed) % k ? 1 : 0)));
/** A data.json for dense4: `n` batches of `b` examples. */
export const probeData = (n = 3, b = 4) => ({ loss: 'categoricalCrossentropy', batches: Array.from({ length: n }, (_, k) => ({ x: rows(b, k), y: oneHot(b, 3, k) })) });

function nestedZero(depth: number): string {
  return '['.repeat(depth) + '0' + ']'.repeat(depth);
}

function buildData(dir: string): void {
  const w = (name: string, content: unknown) => fs.writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  w('probe.json', probeData());
  const nanText = probeData();
  (nanText.batches[1]!.x[2] as unknown[])[1] = 'NaN';
  w('probe-nan-text.json', nanText);
  w('probe-nan-literal.json', JSON.stringify(probeData()).replace(/(-?\d\.\d+)/, 'NaN'));
  const f32 = probeData();
  f32.batches[0]!.x[1]![3] = 1e39;
  w('probe-1e39.json', f32);
  w('probe-deep-5k.json', `{"loss":"categoricalCrossentropy","batches":[{"x":[${nestedZero(5000)}],"y":[[1,0,0]]},{"x":[[0,0,0,0]],"y":[[1,0,0]]}]}`);
  w('probe-deep-100k.json', `{"loss":"categoricalCrossentropy","batches":[{"x":[${nestedZero(100_000)}],"y":[[1,0,0]]},{"x":[[0,0,0,0]],"y":[[1,0,0]]}]}`);
  // Integer features 0..9 for the Embedding model.
  const ints = Array.from({ length: 24 }, (_, i) => `${i % 10},${(i * 3) % 10},${(i * 7) % 10},${(i * 9) % 10},${i % 3}`);
  w('ints.csv', `a,b,c,d,label\n${ints.join('\n')}\n`);
  w('probe-ints.json', {
    loss: 'categoricalCrossentropy',
    batches: [0, 1].map((k) => ({ x: Array.from({ length: 4 }, (_, i) => [i, (i + k) % 10, 3, 4]), y: oneHot(4, 3, k) })),
  });
}

/** A finished 3-step run of the tiny CLI setup (784-8-10 MLP on 64 synthetic examples, seed 0). */
async function buildRuns(dir: string): Promise<void> {
  const run = (name: string) => path.join(dir, 'runs', name);
  const data = loadData({ name: 'synthetic', examples: 64, valExamples: 16, testExamples: 0, seed: 0 });
  const m = mlp({ inputShape: data.train.inputShape, classes: data.train.classes, seed: 0, width: 8, depth: 1 });
  await train(m, data.train, { steps: 3, batchSize: 16, learningRate: 0.1, seed: 0, metrics: { groups: 'none' }, runDir: run('finished') });
  m.dispose();
  const copy = (name: string, change: (d: string) => void) => {
    fs.cpSync(run('finished'), run(name), { recursive: true });
    change(run(name));
  };
  const state = (d: string) => path.join(d, 'checkpoint', 'state.json');
  copy('corrupt-state', (d) => fs.writeFileSync(state(d), '{"format": 1, "step":'));
  copy('bad-state', (d) => fs.writeFileSync(state(d), JSON.stringify({ ...JSON.parse(fs.readFileSync(state(d), 'utf8')), step: -4 })));
  copy('short-optimizer', (d) => fs.writeFileSync(path.join(d, 'checkpoint', 'optimizer.bin'), Buffer.alloc(0)));
  copy('short-weights', (d) => {
    const f = path.join(d, 'checkpoint', 'model', 'weights.bin');
    fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 100));
  });
  copy('no-checkpoint', (d) => fs.rmSync(path.join(d, 'checkpoint'), { recursive: true }));
  copy('other-seed', (d) => fs.writeFileSync(state(d), JSON.stringify({ ...JSON.parse(fs.readFileSync(state(d), 'utf8')), rng: { kind: 'mulberry32-per-epoch', seed: 7 } })));
  fs.mkdirSync(run('empty'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'runs', 'a-file'), 'not a directory\n');
}

/** Builds every fixture (the backend must be chosen first). */
export async function buildFixtures(prefix: string, parts: { models?: boolean; data?: boolean; runs?: boolean } = { models: true, data: true, runs: true }): Promise<Fixtures> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `gradcond-corpus-${prefix}-`));
  const dir = path.join(root, 'in');
  const scratch = path.join(root, 'out');
  for (const d of [dir, scratch, path.join(dir, 'models'), path.join(dir, 'runs')]) fs.mkdirSync(d, { recursive: true });
  if (parts.models) await buildModels(dir);
  if (parts.data) buildData(dir);
  if (parts.runs) await buildRuns(dir);
  let n = 0;
  return {
    dir,
    scratch,
    model: (name) => path.join(dir, 'models', name, 'model.json'),
    file: (name) => path.join(dir, name),
    run: (name) => path.join(dir, 'runs', name),
    out: (name) => path.join(scratch, `${name}-${n++}`),
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}
