/**
 * Corpus, data: a user's CSV or data.json, Fashion-MNIST idx files and data specs that are
 * wrong in every way a new user managed — NaN, 1e39, text, ragged rows, one class, nesting
 * thousands deep, truncated or padded idx files, bad gzip — and data sets handed to train() that
 * do not fit the model. Each is refused at once in one line naming the file, line or example,
 * exit code 2, and the file is byte-identical afterwards.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import type { Dataset } from '../src/data/dataset.js';
import { encodeIdx } from '../src/data/idx.js';
import { loadData } from '../src/data/registry.js';
import { specFromFlags } from '../src/data/spec.js';
import { syntheticClusters } from '../src/data/synthetic.js';
import { train } from '../src/trainer/train.js';
import { assertRefused, assertUnchanged, snapshot } from './corpus/harness.js';

let root: string;
const at = (...p: string[]) => path.join(root, ...p);

/** A file or directory of files the cases read; written before any case runs. */
const FILES: Record<string, string | Buffer> = {};
const csv = (name: string, text: string) => ((FILES[`${name}.csv`] = text), `${name}.csv`);
const json = (name: string, value: unknown) => ((FILES[`${name}.json`] = typeof value === 'string' ? value : JSON.stringify(value)), `${name}.json`);

/** Valid idx files: 20 images of 2 × 2 pixels, labels 0..9 twice; `change` alters one file. */
function idxDir(name: string, change: Partial<Record<'train-images' | 'train-labels' | 't10k-images' | 't10k-labels', Buffer | null>> = {}, gz = false): string {
  const images = encodeIdx([20, 2, 2], Uint8Array.from({ length: 80 }, (_, i) => (i * 37) % 256));
  const labels = encodeIdx([20], Uint8Array.from({ length: 20 }, (_, i) => i % 10));
  const files = { 'train-images': images, 'train-labels': labels, 't10k-images': images, 't10k-labels': labels, ...change };
  for (const [base, buf] of Object.entries(files)) {
    if (buf === null) continue;
    const kind = base.endsWith('images') ? 'idx3' : 'idx1';
    const file = `${base}-${kind}-ubyte${gz ? '.gz' : ''}`;
    FILES[path.join(name, file)] = gz ? gzipSync(buf) : buf;
  }
  return name;
}

const rowsOf = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');
const GOOD_ROWS = rowsOf(8, (i) => `${i},${i * 2},${i % 2}`);
const batch = (x: unknown[], y: unknown[]) => ({ x, y });
const goodBatch = () => batch([[1, 2], [3, 4]], [[1, 0], [0, 1]]);

interface DataCase {
  name: string;
  /** The file (under the fixture directory) the case reads, or null. */
  file: string | null;
  load: (file: string) => unknown;
  line: RegExp | string;
}

const csvCase = (name: string, text: string, line: RegExp | string, opts: Record<string, unknown> = {}): DataCase => {
  const file = csv(name.replace(/\W+/g, '-'), text);
  return { name: `CSV: ${name}`, file, load: (p) => loadData({ name: 'csv', file: p, ...opts } as never), line };
};
const jsonCase = (name: string, value: unknown, line: RegExp | string): DataCase => {
  const file = json(name.replace(/\W+/g, '-'), value);
  return { name: `data.json: ${name}`, file, load: (p) => loadData({ name: 'json', file: p }), line };
};
const idxCase = (name: string, dir: string, line: RegExp | string): DataCase => ({ name: `idx: ${name}`, file: dir, load: (p) => loadData({ name: 'fashion-mnist', dataDir: p }), line });

/** Where the message names the file: `<path>: ...`. */
const named = (text: string) => new RegExp(`^/.*: ${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

const deep = (depth: number) => `{"batches":[{"x":[${'['.repeat(depth)}0${']'.repeat(depth)}],"y":[1]},{"x":[[1]],"y":[0]}]}`;

const CASES: DataCase[] = [
  csvCase('a NaN cell', `a,b,label\n1,nan,0\n${GOOD_ROWS}\n`, named("line 2, column 'b': 'nan' is not a finite number")),
  csvCase('an Infinity cell', `a,b,label\nInfinity,1,0\n${GOOD_ROWS}\n`, named("line 2, column 'a': 'Infinity' is not a finite number")),
  csvCase('a -inf cell', `a,b,label\n${GOOD_ROWS}\n1,-inf,1\n`, named("line 10, column 'b': '-inf' is not a finite number")),
  csvCase('1e39 (beyond float32)', `a,b,label\n1,1e39,0\n${GOOD_ROWS}\n`, named("line 2, column 'b': '1e39' is not a finite number in float32 (|x| > 3.4e38)")),
  csvCase('an empty cell', `a,b,label\n1,,0\n${GOOD_ROWS}\n`, named("line 2, column 'b': empty cell is not a number")),
  csvCase('a word for a number', `a,b,label\n1,two,0\n${GOOD_ROWS}\n`, named("line 2, column 'b': 'two' is not a number")),
  csvCase('a hexadecimal number', `a,b,label\n0x10,2,0\n${GOOD_ROWS}\n`, named("line 2, column 'a': '0x10' is not a number")),
  csvCase('an empty file', '', named('empty file (a header row and at least one data row are needed)')),
  csvCase('a header and no rows', 'a,b,label\n', named('no data rows after the header')),
  csvCase('no label column', `a,b,c\n${GOOD_ROWS}\n`, named("no label column 'label' in the header row (columns: a, b, c); a header row is required, and labelColumn names the label")),
  csvCase('a column named twice', `a,a,label\n${GOOD_ROWS}\n`, named("column 'a' appears twice in the header row")),
  csvCase('a row with a field missing', `a,b,label\n${GOOD_ROWS}\n3,1\n`, named('line 10 has 2 fields but the header has 3')),
  csvCase('a quote never closed', `a,b,label\n1,"2,0\n${GOOD_ROWS}\n`, /: malformed CSV \(Quote Not Closed/),
  csvCase('an empty label', `a,b,label\n1,2,\n${GOOD_ROWS}\n`, named("line 2, column 'label': empty label")),
  csvCase('one class only', `a,b,label\n${rowsOf(6, (i) => `${i},${i},0`)}\n`, named('only one class (label 0) in the labels; classification needs at least 2')),
  csvCase('a class that never occurs', `a,b,label\n${rowsOf(6, (i) => `${i},${i},${i % 2 === 0 ? 0 : 2}`)}\n`, named('labels go up to 2 but class 1 never occurs; declare classes: 3 if that is intended')),
  csvCase('a negative label', `a,b,label\n1,2,-1\n${GOOD_ROWS}\n`, named("line 2, column 'label': label -1 is out of range: class indices are integers ≥ 0")),
  csvCase('a label beyond the declared classes', `a,b,label\n${rowsOf(6, (i) => `${i},${i},${i % 3}`)}\n`, named("line 4, column 'label': label 2 is out of range: class indices are 0..1 (classes: 2)"), { classes: 2 }),
  csvCase('declared classes that the names contradict', `a,b,label\n${rowsOf(6, (i) => `${i},${i},${['cat', 'dog'][i % 2]}`)}\n`, named('classes: 5 declared but the labels name 2 classes (cat, dog)'), { classes: 5 }),
  csvCase('a label column that is not there', `a,b,label\n${GOOD_ROWS}\n`, named("no label column 'y' in the header row (columns: a, b, label); a header row is required, and labelColumn names the label"), { labelColumn: 'y' }),
  csvCase('no feature columns', `label\n0\n1\n`, named("no feature columns besides the label column 'label'")),
  csvCase('fractions that leave nothing to train on', `a,b,label\n1,2,0\n3,4,1\n`, named('2 examples leave none for training after 1 validation and 1 test'), { fractions: { train: 0.1, validation: 0.45, test: 0.45 } }),
  csvCase('more examples asked than the split holds', `a,b,label\n${GOOD_ROWS}\n`, /training split: 100 examples asked, the split has 6$/, { examples: 100 }),
  { name: 'CSV: no such file', file: null, load: () => loadData({ name: 'csv', file: at('nope.csv') }), line: named('CSV file not found') },
  { name: 'CSV: a directory', file: null, load: () => loadData({ name: 'csv', file: root }), line: named('is a directory, expected a CSV file') },
  jsonCase('not JSON', '{"batches": [', /: malformed JSON \(/),
  jsonCase('a list at the top', [1, 2], /: top level: Invalid input: expected object, received array \(expected \{"loss"\?, "batches"/),
  jsonCase('no batches', { batches: [] }, /: batches: Too small: expected array to have >=1 items \(expected/),
  jsonCase('2 inputs, 1 target', { batches: [batch([[1, 2], [3, 4]], [[1, 0]])] }, named('batch 0: 2 inputs but 1 targets')),
  jsonCase('a ragged example', { batches: [goodBatch(), batch([[[1, 2], [3]]], [[1, 0]])] }, named('batch 1, example 0: x: ragged array (entries of shape [2] and [1])')),
  jsonCase('examples of two shapes', { batches: [goodBatch(), batch([[1, 2, 3]], [[1, 0]])] }, named('batch 1, example 0: x has shape [3] but the first example has [2]')),
  jsonCase('a target with two ones', { batches: [batch([[1, 2], [3, 4]], [[1, 1], [0, 1]])] }, named('batch 0, example 0: y must be a class index or a one-hot row, got [1,1]')),
  jsonCase('class indices and one-hot rows mixed', { batches: [batch([[1, 2], [3, 4]], [0, [0, 1]])] }, named("batch 0, example 1: y has 2 entries but the first example's has 1 (class indices and one-hot rows cannot mix)")),
  jsonCase('"NaN" written in x', { batches: [batch([[1, 'NaN'], [3, 4]], [0, 1])] }, named('batch 0, example 0: x: "NaN" is not a number')),
  jsonCase('null in x', { batches: [batch([[1, null], [3, 4]], [0, 1])] }, named('batch 0, example 0: x: null is not a number')),
  jsonCase('1e39 in x', { batches: [batch([[1, 1e39], [3, 4]], [0, 1])] }, named('batch 0, example 0: x: 1e+39 is not a finite (float32) number')),
  jsonCase('x nested 5,000 levels deep', deep(5000), named('batch 0, example 0: x: nested more than 16 levels deep (an array of numbers has at most 16 dimensions)')),
  jsonCase('x nested 100,000 levels deep', deep(100_000), named('batch 0, example 0: x: nested more than 16 levels deep (an array of numbers has at most 16 dimensions)')),
  jsonCase('one class only', { batches: [batch([[1, 2], [3, 4]], [1, 1])] }, named('only one class (label 1) in the labels; classification needs at least 2')),
  idxCase('no such directory', 'idx-none', /^fashion-mnist not found: no directory .*idx-none \(install it with `apt-get install dataset-fashion-mnist`, or pass --data-dir DIR\)$/),
  idxCase('no label file', idxDir('idx-nolabels', { 'train-labels': null }), /^fashion-mnist: missing idx file .*idx-nolabels\/train-labels-idx1-ubyte\(\.gz\) \(install it/),
  idxCase('a bad magic number', idxDir('idx-magic', { 'train-images': Buffer.from([0, 0, 9, 3, 0, 0, 0, 1]) }), named('not an unsigned-byte idx file (magic number 0x00000903, expected 0x000008NN)')),
  idxCase('a header cut short', idxDir('idx-header', { 'train-images': Buffer.from([0, 0, 8, 3, 0, 0, 0, 20]) }), named('truncated idx file (8 bytes, the rank-3 header alone needs 16)')),
  idxCase('pixels cut short', idxDir('idx-short', { 'train-images': encodeIdx([20, 2, 2], new Uint8Array(80)).subarray(0, 60) }), named('truncated idx file (header says 20 × 2 × 2 = 80 bytes of data, the file has 44)')),
  idxCase('bytes after the pixels', idxDir('idx-long', { 'train-images': Buffer.concat([encodeIdx([20, 2, 2], new Uint8Array(80)), Buffer.alloc(3)]) }), named('3 unexpected bytes after the idx data (header says 20 × 2 × 2)')),
  idxCase('images and labels that do not pair', idxDir('idx-count', { 'train-labels': encodeIdx([19], new Uint8Array(19)) }), /idx-count\/train-images-idx3-ubyte has 20 images but .*train-labels-idx1-ubyte has 19 labels$/),
  idxCase('a label of 10', idxDir('idx-label', { 'train-labels': encodeIdx([20], Uint8Array.from({ length: 20 }, (_, i) => (i === 5 ? 10 : i % 10))) }), named('label 10 of item 5 is out of range 0..9')),
  idxCase('images of rank 2', idxDir('idx-rank', { 'train-images': encodeIdx([20, 4], new Uint8Array(80)) }), named('expected a rank-3 image file (count × rows × cols), got rank 2')),
  idxCase('a .gz that is not gzip', (() => {
    const d = idxDir('idx-notgz', {}, true);
    FILES[path.join(d, 'train-images-idx3-ubyte.gz')] = encodeIdx([20, 2, 2], new Uint8Array(80));
    return d;
  })(), named("not a gzip file (the name ends in .gz but the data does not start with gzip's magic bytes 1f 8b)")),
  idxCase('gzip cut short', (() => {
    const d = idxDir('idx-cutgz', {}, true);
    FILES[path.join(d, 'train-labels-idx1-ubyte.gz')] = gzipSync(encodeIdx([20], new Uint8Array(20))).subarray(0, 20);
    return d;
  })(), /: corrupt gzip data \(unexpected end of file\)$/),
  { name: 'embedded: 1e12 examples', file: null, load: () => loadData({ name: 'embedded', examples: 1e12 }), line: 'embedded training: 1000000000000 examples asked, only 9000 available' },
  { name: 'spec: fractions that do not sum to 1', file: null, load: () => loadData({ name: 'csv', file: 'x.csv', fractions: { train: 0.5, validation: 0.1, test: 0.1 } }), line: 'data spec fractions: train + validation + test must sum to 1' },
  { name: 'spec: an unknown key', file: null, load: () => loadData({ name: 'synthetic', exmaples: 3 } as never), line: 'data spec: Unrecognized key: "exmaples"' },
  { name: 'spec: an input shape with a 0', file: null, load: () => loadData({ name: 'synthetic', inputShape: [28, 0] } as never), line: 'inputShape must be a non-empty list of positive integers, got [28,0]' },
  { name: 'spec: one class', file: null, load: () => loadData({ name: 'synthetic', classes: 1 } as never), line: 'classes must be an integer ≥ 2, got 1' },
  { name: 'spec: negative noise', file: null, load: () => loadData({ name: 'synthetic', noise: -1 } as never), line: 'noise must be a positive finite number, got -1' },
  {
    name: 'spec: synthetic images too large to hold', file: null, load: () => loadData({ name: 'synthetic', examples: 100, valExamples: 0, testExamples: 0, inputShape: [100_000, 100_000] } as never),
    line: 'synthetic data: 100 training + 0 validation + 0 test examples of 10000000000 values each is 1.00e+12 numbers, more than the 268,435,456 (1 GiB of float32) gradcond generates',
  },
  { name: 'syntheticClusters() too large to hold', file: null, load: () => syntheticClusters({ size: 1e9 }), line: 'synthetic data: 1000000000 examples of 784 values each is 7.84e+11 numbers, more than the 268,435,456 (1 GiB of float32) gradcond generates' },
  { name: 'flags: --data csv without --data-file', file: null, load: () => specFromFlags({ data: 'csv' }), line: '--data csv needs --data-file FILE' },
  { name: 'flags: --standardize with embedded data', file: null, load: () => specFromFlags({ data: 'embedded', standardize: true }), line: '--standardize applies only to --data csv or json' },
  { name: 'flags: --label-column with data.json', file: null, load: () => specFromFlags({ data: 'json', dataFile: 'x.json', labelColumn: 'y' }), line: '--label-column applies only to --data csv' },
];

before(async () => {
  await useBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-corpus-data-'));
  for (const [name, content] of Object.entries(FILES)) {
    fs.mkdirSync(path.dirname(at(name)), { recursive: true });
    fs.writeFileSync(at(name), content);
  }
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('corpus: data files and specs, refused in one line, the file untouched', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const before = snapshot(root);
      await assertRefused(() => c.load(c.file === null ? '' : at(c.file)), 2, c.line);
      assertUnchanged(root, before);
    });
  }
});

describe('corpus: data sets handed to train() that are not data sets or do not fit the model', () => {
  const good = syntheticClusters({ size: 16, inputShape: [4], classes: 3, seed: 1 });
  const opts = { batchSize: 8, learningRate: 0.1, steps: 1, metrics: { groups: 'none' as const } };
  const model = () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] });
  const cases: [string, (m: tf.LayersModel) => Promise<unknown>, string][] = [
    ['a label beyond the classes', (m) => train(m, { ...good, labels: good.labels.map((l, i) => (i === 3 ? 7 : l)) }, opts), 'data label 7 of example 3 is not a class index in 0..2'],
    ['x shorter than size × example', (m) => train(m, { ...good, x: good.x.subarray(0, 60) }, opts), 'data x must be a Float32Array of size × 4 = 64 values, got 60'],
    ['no examples', (m) => train(m, { ...good, size: 0, x: new Float32Array(0), labels: new Int32Array(0) }, opts), 'data has 0 examples; it needs at least 1'],
    ['not a data set', (m) => train(m, [1, 2, 3] as unknown as Dataset, opts), 'data has no inputShape (a list of positive integers)'],
    ['examples of 5 features for a model of 4', (m) => train(m, syntheticClusters({ size: 16, inputShape: [5], classes: 3, seed: 1 }), opts), "the model's input [4] does not fit the data's examples [5]"],
    ['4 classes for a model of 3 outputs', (m) => train(m, syntheticClusters({ size: 16, inputShape: [4], classes: 4, seed: 1 }), opts), "the model's output [3] does not fit the data's 4 classes (one output per class)"],
    ['a validation set of another shape', (m) => train(m, good, { ...opts, validation: syntheticClusters({ size: 8, inputShape: [2, 2], classes: 3, seed: 2 }) }), "the model's input [4] does not fit the validation's examples [2, 2]"],
    ['an empty validation set', (m) => train(m, good, { ...opts, validation: { ...good, size: 0, x: new Float32Array(0), labels: new Int32Array(0) } }), 'validation has 0 examples; it needs at least 1'],
  ];
  for (const [name, run, line] of cases) {
    test(name, async () => {
      const m = model();
      const weights = m.getWeights().map((w) => Array.from(w.dataSync()));
      const tensors = tf.memory().numTensors;
      await assertRefused(() => run(m), 2, line);
      assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
      assert.deepEqual(m.getWeights().map((w) => Array.from(w.dataSync())), weights, 'the model is untouched');
      m.dispose();
    });
  }
});
