/**
 * A user's own data (CSV, data.json), data specs, splits, standardisation, and the dynamic
 * batch-size tf.data helper inside a real `model.fitDataset`. Every bad file is a tiny fixture
 * written here; expected numbers are computed here in float64 from the fixture's own values.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { z } from 'zod';
import { useBackend } from '../src/backend/backend.js';
import { tf } from '../src/backend/tf.js';
import { UsageError } from '../src/errors.js';
import type { Dataset } from '../src/data/dataset.js';
import { dynamicBatches } from '../src/data/dynamicBatches.js';
import { epochPermutation, mulberry32 } from '../src/data/random.js';
import { loadData } from '../src/data/registry.js';
import { DataSpecSchema, specFromFlags } from '../src/data/spec.js';
import type { JsonValue } from '../src/trace/format.js';

const dir = mkdtempSync(join(tmpdir(), 'gradcond-data-'));
let fileCount = 0;
/** Writes a fixture file and returns its path. */
function fixture(content: string, ext = 'csv'): string {
  const path = join(dir, `f${fileCount++}.${ext}`);
  writeFileSync(path, content);
  return path;
}

function throwsUsage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

/** Rows of a dataset as plain number arrays. */
function rows(ds: Dataset | undefined): number[][] {
  if (!ds) return [];
  const d = ds.x.length / ds.size;
  return Array.from({ length: ds.size }, (_, i) => Array.from(ds.x.subarray(i * d, (i + 1) * d)));
}

const NAMES = ['emu', 'cat', 'dog'];
/** 10 rows: id, id², a constant column, and a name label cycling emu, cat, dog. */
const animals = ['id,sq,const,label', ...Array.from({ length: 10 }, (_, i) => `${i},${i * i},5,${NAMES[i % 3]}`)].join('\n') + '\n';

test('CSV: names map to indices in sorted order; 80/10/10 seeded split covers every row once', () => {
  const path = fixture(animals);
  const d = loadData({ name: 'csv', file: path, seed: 1 });
  assert.deepEqual(d.description.classNames, ['cat', 'dog', 'emu']);
  assert.deepEqual(d.description.splits, { train: 8, validation: 1, test: 1 });
  assert.deepEqual(d.train.inputShape, [3]);
  const all = [d.train, d.validation!, d.test!];
  const ids = all.flatMap((ds) => rows(ds).map((r) => r[0]));
  assert.deepEqual([...ids].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const ds of all) {
    rows(ds).forEach((r, i) => {
      assert.equal(r[1], r[0] * r[0]);
      assert.equal(ds.labels[i], ['cat', 'dog', 'emu'].indexOf(NAMES[r[0] % 3]));
    });
  }
  const again = loadData({ name: 'csv', file: path, seed: 1 });
  assert.deepEqual(rows(again.train), rows(d.train));
  const other = loadData({ name: 'csv', file: path, seed: 2 });
  assert.notDeepEqual(rows(other.train), rows(d.train));
  assert.match(d.description.labels!, /sorted order/);
  assert.equal(d.description.files[0].bytes, Buffer.byteLength(animals));
  const manifestPart: JsonValue = d.description; // the description is plain JSON for the manifest
  assert.equal(JSON.parse(JSON.stringify(manifestPart)).name, 'csv');
});

test('CSV standardize: training split mean/std (float64 here); validation and test use the training stats', () => {
  const path = fixture(animals);
  const raw = loadData({ name: 'csv', file: path, seed: 4, fractions: { train: 0.6, validation: 0.2, test: 0.2 } });
  const std = loadData({ name: 'csv', file: path, seed: 4, fractions: { train: 0.6, validation: 0.2, test: 0.2 }, standardize: true });
  const train = rows(raw.train);
  const mean = [0, 1, 2].map((j) => train.reduce((s, r) => s + r[j], 0) / train.length);
  const sd = [0, 1, 2].map((j) => Math.sqrt(train.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / train.length));
  assert.equal(sd[2], 0);
  for (const split of ['train', 'validation', 'test'] as const) {
    const expected = rows(raw[split]).map((r) => r.map((v, j) => (sd[j] > 0 ? (v - mean[j]) / sd[j] : v - mean[j])));
    rows(std[split]).forEach((r, i) => r.forEach((v, j) => assert.ok(Math.abs(v - expected[i][j]) <= 1e-6 * Math.max(1, Math.abs(expected[i][j])), `${split}[${i}][${j}]`)));
  }
  assert.match(std.description.normalisation, /standardised .* 6 training examples \(1 constant features centred only\)/);
  assert.match(raw.description.normalisation, /none/);
});

test('CSV integer labels: used as given; gaps, negatives and undeclared classes refused', () => {
  const ints = (labels: number[]) => fixture(['a,label', ...labels.map((l, i) => `${i},${l}`)].join('\n'));
  const d = loadData({ name: 'csv', file: ints([0, 1, 2, 1, 0, 2, 1, 0, 2, 1]), fractions: { train: 1, validation: 0, test: 0 } });
  assert.equal(d.train.classes, 3);
  assert.equal(d.validation, undefined);
  for (const [i, r] of rows(d.train).entries()) assert.equal(d.train.labels[i], [0, 1, 2, 1, 0, 2, 1, 0, 2, 1][r[0]]);
  throwsUsage(() => loadData({ name: 'csv', file: ints([0, 2, 0, 2]) }), /labels go up to 2 but class 1 never occurs; declare classes: 3/);
  assert.equal(loadData({ name: 'csv', file: ints([0, 2, 0, 2, 0, 2, 0, 2, 0, 2]), classes: 3 }).train.classes, 3);
  throwsUsage(() => loadData({ name: 'csv', file: ints([0, 1, -1]) }), /line 4, column 'label': label -1 is out of range: class indices are integers ≥ 0/);
  throwsUsage(() => loadData({ name: 'csv', file: ints([0, 1, 3]), classes: 3 }), /line 4, column 'label': label 3 is out of range: class indices are 0\.\.2 \(classes: 3\)/);
});

test('CSV: every bad file is one clear UsageError line', () => {
  const csv = (text: string, extra: object = {}) => () => loadData({ name: 'csv', file: fixture(text), ...extra });
  throwsUsage(() => loadData({ name: 'csv', file: join(dir, 'missing.csv') }), /missing\.csv: CSV file not found/);
  throwsUsage(csv(''), /empty file \(a header row and at least one data row are needed\)/);
  throwsUsage(csv('a,label\n'), /no data rows after the header/);
  throwsUsage(csv('a,b,label\n1,2,x\n3,y\n'), /line 3 has 2 fields but the header has 3/);
  throwsUsage(csv('a,b,label\n1,abc,x\n3,4,y\n'), /line 2, column 'b': 'abc' is not a number/);
  throwsUsage(csv('a,b,label\n1,,x\n3,4,y\n'), /line 2, column 'b': empty cell is not a number/);
  throwsUsage(csv('a,label\n1,x\nInfinity,y\n'), /line 3, column 'a': 'Infinity' is not a finite number/);
  throwsUsage(csv('a,label\nNaN,x\n1,y\n'), /line 2, column 'a': 'NaN' is not a finite number/);
  throwsUsage(csv('a,label\n1e39,x\n1,y\n'), /line 2, column 'a': '1e39' is not a finite number in float32/);
  throwsUsage(csv('a,b\n1,2\n'), /no label column 'label' in the header row \(columns: a, b\); a header row is required/);
  throwsUsage(csv('1,2\n3,4\n'), /no label column 'label' in the header row \(columns: 1, 2\)/);
  throwsUsage(csv('a,b\n1,2\n', { labelColumn: 'b' }), /only one class \('2'\)|only one class \(label 2\)/);
  throwsUsage(csv('a,label\n1,x\n2,x\n'), /only one class \('x'\) in the labels; classification needs at least 2/);
  throwsUsage(csv('a,label\n1,"x\n'), /malformed CSV \(Quote Not Closed/);
  throwsUsage(csv('a,a,label\n1,2,x\n'), /column 'a' appears twice in the header row/);
  throwsUsage(csv('a,label\n1,\n2,y\n'), /line 2, column 'label': empty label/);
  throwsUsage(csv('label\nx\ny\n'), /no feature columns besides the label column 'label'/);
  throwsUsage(csv('a,label\n1,x\n2,y\n', { classes: 3 }), /classes: 3 declared but the labels name 2 classes/);
});

test('CSV splits: fractions, fewer examples, asking for more is an error', () => {
  const path = fixture(['a,label', ...Array.from({ length: 20 }, (_, i) => `${i},${i % 2}`)].join('\n'));
  const d = loadData({ name: 'csv', file: path, fractions: { train: 0.5, validation: 0.25, test: 0.25 } });
  assert.deepEqual(d.description.splits, { train: 10, validation: 5, test: 5 });
  const fewer = loadData({ name: 'csv', file: path, fractions: { train: 0.5, validation: 0.25, test: 0.25 }, examples: 3, valExamples: 2 });
  assert.deepEqual(rows(fewer.train), rows(d.train).slice(0, 3));
  assert.deepEqual(rows(fewer.validation), rows(d.validation).slice(0, 2));
  throwsUsage(() => loadData({ name: 'csv', file: path, fractions: { train: 0.5, validation: 0.25, test: 0.25 }, examples: 30 }), /training split: 30 examples asked, the split has 10/);
  const two = fixture('a,label\n1,x\n2,y\n');
  throwsUsage(() => loadData({ name: 'csv', file: two, fractions: { train: 0.1, validation: 0.45, test: 0.45 } }), /2 examples leave none for training after 1 validation and 1 test/);
});

const json = (v: unknown) => fixture(JSON.stringify(v), 'json');

test('JSON data.json: batches flattened, one-hot and class-index targets', () => {
  const batches = [
    { x: [[[0, 1], [2, 3]], [[4, 5], [6, 7]]], y: [[0, 0, 1], [1, 0, 0]] },
    { x: [[[8, 9], [10, 11]]], y: [[0, 1, 0]] },
  ];
  const all = { train: 1, validation: 0, test: 0 };
  const d = loadData({ name: 'json', file: json({ loss: 'categoricalCrossentropy', batches }), fractions: all });
  assert.deepEqual(d.train.inputShape, [2, 2]);
  assert.equal(d.train.classes, 3);
  const expected = new Map([[0, 2], [4, 0], [8, 1]]); // first pixel → class
  assert.deepEqual(rows(d.train).map((r) => r[0]).sort((a, b) => a - b), [0, 4, 8]);
  rows(d.train).forEach((r, i) => {
    assert.deepEqual(r, Array.from({ length: 4 }, (_, k) => r[0] + k));
    assert.equal(d.train.labels[i], expected.get(r[0]));
  });
  assert.match(d.description.labels!, /one-hot targets, 3 classes/);
  const idx = loadData({ name: 'json', file: json({ batches: [{ x: [[1], [2]], y: [0, [1]] }, { x: [[3]], y: [1] }] }), fractions: all });
  assert.deepEqual(idx.train.inputShape, [1]);
  rows(idx.train).forEach((r, i) => assert.equal(idx.train.labels[i], [0, 1, 1][r[0] - 1]));
});

test('JSON: every bad file is one clear UsageError line', () => {
  const load = (v: unknown, extra: object = {}) => () => loadData({ name: 'json', file: typeof v === 'string' ? fixture(v, 'json') : json(v), ...extra });
  const ok = (x: unknown[], y: unknown[]) => ({ batches: [{ x, y }] });
  throwsUsage(() => loadData({ name: 'json', file: join(dir, 'nope.json') }), /nope\.json: data file not found/);
  throwsUsage(load('{"batches": [}'), /malformed JSON \(/);
  throwsUsage(load({ batches: [] }), /batches: Too small.*\(expected \{"loss"\?, "batches"/);
  throwsUsage(load({ batches: [{ x: [[1]] }] }), /batches\.0\.y: Invalid input/);
  throwsUsage(load('{"batches": [{"x": [[1e999], [2]], "y": [0, 1]}]}'), /batch 0, example 0: x: Infinity is not a finite \(float32\) number/);
  throwsUsage(load(ok([[1], [1e39]], [0, 1])), /batch 0, example 1: x: 1e\+39 is not a finite \(float32\) number/);
  throwsUsage(load(ok([[1, null], [2, 3]], [0, 1])), /batch 0, example 0: x: null is not a number/);
  throwsUsage(load(ok([[[1, 2], [3]], [[1, 2], [3, 4]]], [0, 1])), /batch 0, example 0: x: ragged array/);
  throwsUsage(load(ok([[1, 2], [3, 4, 5]], [0, 1])), /batch 0, example 1: x has shape \[3\] but the first example has \[2\]/);
  throwsUsage(load(ok([[1], [2]], [[0.5, 0.5], [1, 0]])), /batch 0, example 0: y must be a class index or a one-hot row/);
  throwsUsage(load(ok([[1], [2]], [[0, 1], 1])), /batch 0, example 1: y has 1 entries but the first example's has 2 \(class indices and one-hot rows cannot mix\)/);
  throwsUsage(load(ok([[1], [2]], [0, -1])), /batch 0, example 1: label -1 is out of range/);
  throwsUsage(load(ok([[1], [2]], [0, 2.5])), /batch 0, example 1: label 2\.5 is out of range/);
  throwsUsage(load(ok([[1], [2]], [0, 2]), { classes: 2 }), /batch 0, example 1: label 2 is out of range: class indices are 0\.\.1 \(classes: 2\)/);
  throwsUsage(load(ok([[1], [2]], [[0, 1], [1, 0]]), { classes: 3 }), /classes: 3 declared but the one-hot rows have 2 entries/);
  throwsUsage(load(ok([[1], [2]], [0])), /batch 0: 2 inputs but 1 targets/);
  throwsUsage(load(ok([[1], [2]], [1, 1])), /only one class \(label 1\)/);
});

test('data specs: zod schema exported for run specs; each problem is one line', () => {
  const RunSpec = z.object({ data: DataSpecSchema });
  assert.equal(RunSpec.parse({ data: { name: 'csv', file: 'x.csv' } }).data.name, 'csv');
  assert.equal(RunSpec.safeParse({ data: { name: 'csv' } }).success, false);
  throwsUsage(() => loadData({ name: 'mnist' } as never), /unknown data 'mnist': choose embedded, fashion-mnist, synthetic, csv, json/);
  throwsUsage(() => loadData('mnist', 10, 0), /unknown data 'mnist'/);
  throwsUsage(() => loadData({ name: 'embedded', exmaples: 3 } as never), /data spec: Unrecognized key: "exmaples"/);
  throwsUsage(() => loadData({ name: 'csv' } as never), /file must be a non-empty string, got nothing/);
  throwsUsage(() => loadData({ name: 'csv', file: 'a.csv', fractions: { train: 0.5, validation: 0.1, test: 0.1 } }), /data spec fractions: train \+ validation \+ test must sum to 1/);
  throwsUsage(() => loadData({ name: 'embedded', examples: 0 }), /examples must be a positive integer, got 0/);
});

// ---------------------------------------------------------------------------------------------
// dynamicBatches

before(async () => void (await useBackend('wasm')));

/** n examples of 4 features whose first feature is the example's index; labels i mod 3. */
function indexed(n: number): Dataset {
  const x = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) x.set([i, 1, -1, 0.5], i * 4);
  return { name: 'indexed', inputShape: [4], classes: 3, x, labels: Int32Array.from({ length: n }, (_, i) => i % 3), size: n };
}

/**
 * The trainer's data order, written out here: epoch e shuffles 0..size−1 by Fisher–Yates (from
 * the last position down) on mulberry32 seeded with (seed·0x9e3779b1) xor ((e+1)·0x85ebca6b),
 * 32-bit products.
 */
function trainerPermutation(size: number, seed: number, epoch: number): number[] {
  const rand = mulberry32((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
  const p = Array.from({ length: size }, (_, i) => i);
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

test('epochPermutation is the trainer’s per-epoch order', () => {
  for (const [size, seed, epoch] of [[23, 0, 0], [23, 0, 1], [100, 7, 3], [5, 123456, 9]]) {
    assert.deepEqual(Array.from(epochPermutation(size, seed, epoch)), trainerPermutation(size, seed, epoch));
  }
  assert.notDeepEqual(trainerPermutation(23, 0, 0), trainerPermutation(23, 0, 1));
});

test('dynamicBatches: the getter sets each batch size inside a real model.fitDataset, no leaked tensors', async () => {
  const ds = indexed(23);
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, activation: 'softmax', inputShape: [4] })] });
  model.compile({ optimizer: tf.train.sgd(0.01), loss: 'categoricalCrossentropy' });
  const schedule = [5, 3, 7, 2, 4, 6, 1, 8, 9, 2, 3];
  let k = 0;
  const seen: number[] = [];
  const data = dynamicBatches(ds, { batchSize: () => schedule[k % schedule.length], seed: 11 });
  const before = tf.memory().numTensors;
  await model.fitDataset(data, {
    epochs: 2,
    verbose: 0,
    callbacks: {
      onBatchBegin: async (_b, logs) => void seen.push(logs!.size as number),
      onBatchEnd: async () => void k++, // a "policy" changing the batch size between steps
    },
  });
  assert.equal(tf.memory().numTensors, before);
  // Expected sizes, walked here: each epoch restarts at position 0, the last batch takes what is left.
  const expected: number[] = [];
  let j = 0;
  for (let e = 0; e < 2; e++) for (let pos = 0; pos < 23; ) {
    const b = Math.min(schedule[j++ % schedule.length], 23 - pos);
    expected.push(b);
    pos += b;
  }
  assert.deepEqual(seen, expected);
  assert.deepEqual(seen.slice(0, 5), [5, 3, 7, 2, 4]);
  model.dispose();
});

test('dynamicBatches: passes visit the trainer’s per-epoch order; unread iterators do not skip epochs', async () => {
  const ds = indexed(10);
  const data = dynamicBatches(ds, { batchSize: () => 4, seed: 3, epochs: 2 });
  const before = tf.memory().numTensors;
  await data.iterator(); // made and never read, as fitDataset does before its first epoch
  const it = await data.iterator();
  const order: number[] = [];
  const labels: number[] = [];
  const sizes: number[] = [];
  for (let r = await it.next(); !r.done; r = await it.next()) {
    const { xs, ys } = r.value;
    sizes.push(xs.shape[0]);
    order.push(...Array.from(xs.dataSync()).filter((_, i) => i % 4 === 0));
    const [argMax, rowSums] = tf.tidy(() => [ys.argMax(-1).dataSync(), ys.sum(-1).dataSync()]);
    labels.push(...Array.from(argMax));
    assert.deepEqual(Array.from(rowSums), new Array(xs.shape[0]).fill(1));
    tf.dispose([xs, ys]);
  }
  assert.deepEqual(sizes, [4, 4, 2, 4, 4, 2]);
  assert.deepEqual(order, [...trainerPermutation(10, 3, 0), ...trainerPermutation(10, 3, 1)]);
  assert.deepEqual(labels, order.map((i) => i % 3));
  assert.equal(tf.memory().numTensors, before);
});

test('dynamicBatches: a bad batch size is a UsageError from inside the loop', async () => {
  const data = dynamicBatches(indexed(5), { batchSize: () => 0, seed: 0 });
  const it = await data.iterator();
  await assert.rejects(it.next(), (err: unknown) => err instanceof UsageError && /batchSize\(\) must return a positive integer, got 0/.test(err.message));
  throwsUsage(() => dynamicBatches(indexed(5), { batchSize: () => 1, seed: 0, epochs: 0 }), /epochs must be a positive integer/);
});

test('specFromFlags: command-line flags become a spec; a flag that does not apply is refused', () => {
  assert.deepEqual(specFromFlags({ data: 'embedded', seed: 2, examples: 100 }), { name: 'embedded', seed: 2, examples: 100 });
  assert.deepEqual(specFromFlags({ data: 'csv', dataFile: 'a.csv', standardize: true, seed: 0 }), { name: 'csv', file: 'a.csv', standardize: true, labelColumn: 'label', seed: 0 });
  assert.equal((specFromFlags({ data: 'fashion-mnist' }) as { dataDir: string }).dataDir, '/usr/share/datasets/fashion-mnist');
  throwsUsage(() => specFromFlags({ data: 'csv', dataDir: '/x', dataFile: 'a.csv' }), /--data-dir applies only to --data fashion-mnist/);
  throwsUsage(() => specFromFlags({ data: 'embedded', labelColumn: 'y' }), /--label-column applies only to --data csv/);
  throwsUsage(() => specFromFlags({ data: 'json' }), /--data json needs --data-file FILE/);
  throwsUsage(() => specFromFlags({ data: 'mnist' }), /unknown data 'mnist'/);
});
