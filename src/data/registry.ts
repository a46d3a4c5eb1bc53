/**
 * The data sets a run can name, loaded by spec: what the CLI's `--data` and a run spec refer
 * to. Every loader returns train / validation / test splits and a description for the run
 * manifest (source, files with SHA-256, sizes, how the splits were drawn, normalisation, seed).
 *
 *  - `embedded` (default): the Fashion-MNIST subset stored with gradcond (embedded.ts);
 *  - `fashion-mnist`: the full idx files in `dataDir`;
 *  - `synthetic`: seeded Gaussian class clusters (synthetic.ts);
 *  - `csv` / `json`: a user's own file (csv.ts, jsonData.ts), split by seeded fractions.
 */
import { subset, take, type Dataset } from './dataset.js';
import { EMBEDDED_PER_CLASS, readEmbeddedSplit } from './embedded.js';
import { FASHION_MNIST_CLASSES, imageDataset, readFashionSplit } from './fashionMnist.js';
import type { FileRecord } from './files.js';
import { readCsv, type TableData } from './csv.js';
import { readJsonData } from './jsonData.js';
import { atMost, balancedDraw, DEFAULT_FRACTIONS, fractionSplit, subSeed } from './split.js';
import { parseDataSpec, type DataName, type DataSpec, type DataSpecInput } from './spec.js';
import { applyStandardization, fitStandardization } from './standardize.js';
import { checkSyntheticSize, syntheticClusters } from './synthetic.js';

/** What the run manifest records about the data (plain JSON). */
export type DataDescription = {
  name: DataName;
  source: string;
  /** Files read, with size and SHA-256 (empty for generated data). */
  files: FileRecord[];
  inputShape: number[];
  classes: number;
  /** Class names by index, when the source names them. */
  classNames: string[] | null;
  /** How labels were read as class indices (user files), else null. */
  labels: string | null;
  splits: { train: number; validation: number; test: number };
  /** How the splits were drawn. */
  split: string;
  normalisation: string;
  seed: number;
};

export interface LoadedData {
  train: Dataset;
  /** Undefined when the spec asks for no validation examples. */
  validation: Dataset | undefined;
  /** Undefined when the spec asks for no test examples. */
  test: Dataset | undefined;
  description: DataDescription;
}

const DEFAULT_VAL_EXAMPLES = 1000;
const SYNTHETIC_DEFAULTS = { examples: 2048, valExamples: 512, testExamples: 512 };

const nonEmpty = (ds: Dataset): Dataset | undefined => (ds.size > 0 ? ds : undefined);

function splitSizes(train: Dataset, validation?: Dataset, test?: Dataset): DataDescription['splits'] {
  return { train: train.size, validation: validation?.size ?? 0, test: test?.size ?? 0 };
}

type ImageSpec = Extract<DataSpec, { name: 'embedded' | 'fashion-mnist' }>;

/** Fashion-MNIST, embedded or full: a class-balanced validation carve-out of the training images. */
function loadImages(spec: ImageSpec): LoadedData {
  const read = (split: 'train' | 't10k') => (spec.name === 'embedded' ? readEmbeddedSplit(split) : readFashionSplit(spec.dataDir, split));
  const trainSet = read('train');
  const testSet = read('t10k');
  const img = trainSet.images;
  const classes = FASHION_MNIST_CLASSES.length;
  const nVal = spec.valExamples ?? DEFAULT_VAL_EXAMPLES;
  const all = Int32Array.from({ length: img.count }, (_, i) => i);
  const carve = balancedDraw(img.labels, classes, all, nVal, subSeed(spec.seed, 0), `${spec.name} validation`);
  const trainIdx = spec.examples === undefined ? carve.rest : balancedDraw(img.labels, classes, carve.rest, spec.examples, subSeed(spec.seed, 1), `${spec.name} training`).picked;
  const testAll = Int32Array.from({ length: testSet.images.count }, (_, i) => i);
  const testIdx = spec.testExamples === undefined ? testAll : balancedDraw(testSet.images.labels, classes, testAll, spec.testExamples, subSeed(spec.seed, 2), `${spec.name} test`).picked;
  const train = imageDataset(img, `${spec.name}-train`, trainIdx);
  const validation = nonEmpty(imageDataset(img, `${spec.name}-validation`, carve.picked));
  const test = nonEmpty(imageDataset(testSet.images, `${spec.name}-test`, testIdx));
  const source =
    spec.name === 'embedded'
      ? `Fashion-MNIST subset embedded in gradcond (${EMBEDDED_PER_CLASS.train} training and ${EMBEDDED_PER_CLASS.t10k} test images per class, seeded class-balanced draw)`
      : `Fashion-MNIST idx files in ${spec.dataDir}`;
  const split =
    `validation: ${carve.picked.length} images drawn class-balanced from the ${img.count} training images; ` +
    `train: ${spec.examples === undefined ? 'the other' : `a class-balanced draw of ${trainIdx.length} of the other`} ${carve.rest.length}; ` +
    `test: ${spec.testExamples === undefined ? 'all' : `a class-balanced draw of ${testIdx.length} of the`} ${testSet.images.count} t10k images`;
  return {
    train,
    validation,
    test,
    description: {
      name: spec.name,
      source,
      files: [...trainSet.files, ...testSet.files],
      inputShape: train.inputShape,
      classes,
      classNames: [...FASHION_MNIST_CLASSES],
      labels: null,
      splits: splitSizes(train, validation, test),
      split,
      normalisation: 'pixels ÷ 255, in [0, 1]',
      seed: spec.seed,
    },
  };
}

/** One draw of Gaussian clusters cut into consecutive train, validation and test blocks. */
function loadSynthetic(spec: Extract<DataSpec, { name: 'synthetic' }>): LoadedData {
  const n = spec.examples ?? SYNTHETIC_DEFAULTS.examples;
  const v = spec.valExamples ?? SYNTHETIC_DEFAULTS.valExamples;
  const t = spec.testExamples ?? SYNTHETIC_DEFAULTS.testExamples;
  checkSyntheticSize(n + v + t, spec.inputShape.reduce((a, b) => a * b, 1), `${n} training + ${v} validation + ${t} test examples`);
  const all = syntheticClusters({ size: n + v + t, seed: spec.seed, classes: spec.classes, noise: spec.noise, inputShape: spec.inputShape });
  const train = take(all, n);
  const validation = nonEmpty(take(all, v, n));
  const test = nonEmpty(take(all, t, n + v));
  return {
    train,
    validation,
    test,
    description: {
      name: 'synthetic',
      source: `Gaussian class clusters (${spec.classes} classes, noise ${spec.noise}), generated from the seed`,
      files: [],
      inputShape: spec.inputShape,
      classes: spec.classes,
      classNames: null,
      labels: null,
      splits: splitSizes(train, validation, test),
      split: `one draw of ${n + v + t} examples: the first ${n} train, the next ${v} validation, the last ${t} test`,
      normalisation: 'none (values as generated)',
      seed: spec.seed,
    },
  };
}

type FileSpec = Extract<DataSpec, { name: 'csv' | 'json' }>;

/** A user's file: seeded shuffle, cut by fractions, optionally standardised on the training split. */
function loadTable(spec: FileSpec): LoadedData {
  const table: TableData = spec.name === 'csv' ? readCsv(spec.file, { labelColumn: spec.labelColumn, classes: spec.classes }) : readJsonData(spec.file, { classes: spec.classes });
  const ds = table.dataset;
  const f = spec.fractions ?? DEFAULT_FRACTIONS;
  const cut = fractionSplit(ds.size, f, subSeed(spec.seed, 0), spec.file);
  let train = subset(ds, atMost(cut.train, spec.examples, `${spec.file} training split`));
  let validation = nonEmpty(subset(ds, atMost(cut.validation, spec.valExamples, `${spec.file} validation split`)));
  let test = nonEmpty(subset(ds, atMost(cut.test, spec.testExamples, `${spec.file} test split`)));
  let normalisation = 'none (features as given in the file)';
  if (spec.standardize) {
    const s = fitStandardization(train);
    [train, validation, test] = [train, validation, test].map((d) => d && applyStandardization(d, s)) as [Dataset, Dataset | undefined, Dataset | undefined];
    normalisation =
      `standardised per feature with the mean and population std of the ${train.size} training examples` +
      (s.constant > 0 ? ` (${s.constant} constant features centred only)` : '');
  }
  return {
    train,
    validation,
    test,
    description: {
      name: spec.name,
      source: `${spec.name === 'csv' ? 'CSV' : 'JSON'} file ${table.file.path}`,
      files: [table.file],
      inputShape: ds.inputShape,
      classes: ds.classes,
      classNames: table.labels.classNames ?? null,
      labels: table.labels.rule,
      splits: splitSizes(train, validation, test),
      split: `${ds.size} examples shuffled with the seed, cut ${f.train}/${f.validation}/${f.test} (train/validation/test, sizes rounded)${spec.examples !== undefined || spec.valExamples !== undefined || spec.testExamples !== undefined ? ', then the first examples of each split taken' : ''}`,
      normalisation,
      seed: spec.seed,
    },
  };
}

/**
 * Loads the data a spec names. The positional form `loadData(name, examples, seed, validation)`
 * is kept for callers written before specs: it means `{ name, examples, seed, valExamples }`.
 */
export function loadData(spec: DataSpecInput): LoadedData;
export function loadData(name: string, examples: number, seed: number, validation?: number): LoadedData;
export function loadData(specOrName: DataSpecInput | string, examples?: number, seed?: number, validation = 0): LoadedData {
  const raw = typeof specOrName === 'string' ? { name: specOrName, examples, seed, valExamples: validation } : specOrName;
  const spec = parseDataSpec(raw);
  switch (spec.name) {
    case 'embedded':
    case 'fashion-mnist':
      return loadImages(spec);
    case 'synthetic':
      return loadSynthetic(spec);
    case 'csv':
    case 'json':
      return loadTable(spec);
  }
}
