/**
 * The model zoo: every architecture builds (image and, where it makes sense, flat inputs) with a
 * softmax output of the right shape; seeds reproduce weights; parameter counts match hand
 * counts; orthogonal kernels are orthogonal; the looks-linear network is exactly linear at
 * initialisation and stops being so after a training step; ResNet projections sit exactly where
 * shapes change; `batchNorm` adds BN layers; saved models load back identical; bad model files
 * and bad options are refused with one line. Small depths and widths; no leaks.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { useBackend } from '../src/backend/backend.js';
import { tf } from '../src/backend/tf.js';
import { UsageError } from '../src/errors.js';
import { loadModel, saveModel } from '../src/models/io.js';
import {
  buildModel, cnn, describeModels, mlp, MODEL_NAMES, MODELS, ModelOptionsSchema, orthogonalMatrix, ZOO, type ModelName, type ModelSpec,
} from '../src/models/zoo.js';
import { oneHot, seeded } from './helpers.js';

const IMAGE = [8, 8, 1];
/** Small configurations of every architecture, for fast tests. */
const SMALL: Record<ModelName, Omit<ModelSpec, 'inputShape' | 'classes'>> = {
  mlp: { depth: 2, width: 6 },
  cnn: { depth: 2, width: 3 },
  'fc-orthogonal': { depth: 3, width: 6 },
  'fc-crelu-ll': { depth: 3, width: 5 },
  'cnn-plain': { depth: 3, width: 3 },
  resnet: { depth: 3, width: 3 },
};
const FLAT_OK: ModelName[] = ['mlp', 'fc-orthogonal', 'fc-crelu-ll'];

const small = (name: ModelName, extra: Partial<ModelSpec> = {}) =>
  buildModel(name, { inputShape: IMAGE, classes: 3, seed: 5, ...SMALL[name], ...extra });

function predictRows(model: tf.LayersModel, x: tf.Tensor): number[][] {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).arraySync() as number[][]);
}

/** Float64 values of every weight (`[layer/weight name, values]`). */
function weightValues(model: tf.LayersModel): Array<[string, Float64Array]> {
  return model.weights.map((w) => [w.originalName, Float64Array.from(w.read().dataSync())]);
}

/** A row-major `rows × cols` matrix's Gram matrix of its shorter side, in float64. */
function shortSideGram(w: ArrayLike<number>, rows: number, cols: number): number[][] {
  const n = Math.min(rows, cols);
  const at = (i: number, j: number) => w[i * cols + j];
  return Array.from({ length: n }, (_, a) =>
    Array.from({ length: n }, (_, b) => {
      let s = 0;
      if (rows >= cols) for (let i = 0; i < rows; i++) s += at(i, a) * at(i, b);
      else for (let j = 0; j < cols; j++) s += at(a, j) * at(b, j);
      return s;
    }),
  );
}

function maxIdentityError(gram: number[][], scale: number): number {
  return Math.max(...gram.flatMap((row, i) => row.map((v, j) => Math.abs(v / scale - (i === j ? 1 : 0)))));
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${err}`);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err.message;
  }
  assert.fail('expected a UsageError');
}

async function asyncRefusal(fn: () => Promise<unknown>): Promise<string> {
  try {
    const m = await fn();
    (m as tf.LayersModel | undefined)?.dispose?.();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${err}`);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err.message;
  }
  assert.fail('expected a UsageError');
}

let tensorsBefore = 0;
before(async () => {
  await useBackend('wasm');
});
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked');
});

describe('benchmark models build exactly as before', () => {
  test('mlp: 784-256-256-10, ReLU, Glorot-uniform seeded seed+i and seed+99', () => {
    const spec = { inputShape: [28, 28, 1], classes: 10, seed: 1 };
    const ref = tf.sequential({
      layers: [
        tf.layers.flatten({ inputShape: spec.inputShape }),
        tf.layers.dense({ units: 256, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.dense({ units: 256, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 100 }) }),
      ],
    });
    for (const model of [mlp(spec), buildModel('mlp', spec)]) {
      assert.deepEqual(model.layers.map((l) => l.getClassName()), ['Flatten', 'Dense', 'Dense', 'Dense']);
      assert.deepEqual(model.layers.slice(1).map((l) => l.getConfig().activation), ['relu', 'relu', 'softmax']);
      assert.deepEqual(weightValues(model).map(([, v]) => v), weightValues(ref).map(([, v]) => v));
      model.dispose();
    }
    ref.dispose();
  });

  test('mlp(spec, hidden) still takes explicit hidden widths', () => {
    const model = mlp({ inputShape: [4], classes: 2, seed: 7 }, [16]);
    assert.deepEqual(model.layers.map((l) => l.outputShape), [[null, 4], [null, 16], [null, 2]]);
    model.dispose();
  });

  test('cnn: conv 3×3×16 → conv 3×3×32 → flatten → dense, seeded seed+1, +2, +3', () => {
    const spec = { inputShape: [28, 28, 1], classes: 10, seed: 1 };
    const init = (s: number) => tf.initializers.glorotUniform({ seed: 1 + s });
    const ref = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: spec.inputShape, filters: 16, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }),
        tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3) }),
      ],
    });
    for (const model of [cnn(spec), buildModel('cnn', spec)]) {
      assert.deepEqual(model.layers.map((l) => l.getClassName()), ['Conv2D', 'Conv2D', 'Flatten', 'Dense']);
      assert.deepEqual(model.layers.map((l) => l.outputShape), ref.layers.map((l) => l.outputShape));
      assert.deepEqual(weightValues(model).map(([, v]) => v), weightValues(ref).map(([, v]) => v));
      model.dispose();
    }
    ref.dispose();
  });
});

describe('every architecture', () => {
  for (const name of MODEL_NAMES) {
    test(`${name}: 8×8×1 images → [b, classes] probabilities${FLAT_OK.includes(name) ? '; flat inputs too' : ''}`, () => {
      const shapes = FLAT_OK.includes(name) ? [IMAGE, [10]] : [IMAGE];
      for (const inputShape of shapes) {
        const model = small(name, { inputShape });
        const x = tf.tensor(seeded(4 * inputShape.reduce((a, b) => a * b, 1), 3), [4, ...inputShape]);
        const rows = predictRows(model, x);
        assert.equal(rows.length, 4);
        for (const row of rows) {
          assert.equal(row.length, 3);
          assert.ok(row.every((p) => p > 0 && p < 1), `probabilities in (0, 1): ${row}`);
          const total = row.reduce((a, b) => a + b, 0);
          assert.ok(Math.abs(total - 1) < 1e-5, `probabilities sum to ${total}`);
        }
        x.dispose();
        model.dispose();
      }
    });

    test(`${name}: the same seed builds the same weights, another seed other weights`, () => {
      // Seed 0 included: tfjs reads an initialiser's seed 0 as "no seed", which the zoo must not.
      const [z1, z2] = [small(name, { seed: 0 }), small(name, { seed: 0 })];
      assert.deepEqual(weightValues(z2).map(([, v]) => v), weightValues(z1).map(([, v]) => v), 'seed 0 is a seed');
      [z1, z2].forEach((m) => m.dispose());
      const [a, b, c] = [small(name), small(name), small(name, { seed: 6 })];
      const [wa, wb, wc] = [a, b, c].map(weightValues);
      assert.deepEqual(wb.map(([, v]) => v), wa.map(([, v]) => v));
      // Every kernel (rank ≥ 2) differs between seeds; biases start at zero in both.
      const kernels = wa.map(([, v], i) => [v, wc[i][1]] as const).filter((_, i) => a.weights[i].shape.length >= 2);
      assert.ok(kernels.length >= 3, `${kernels.length} kernels`);
      for (const [va, vc] of kernels) assert.notDeepEqual(vc, va);
      [a, b, c].forEach((m) => m.dispose());
    });
  }

  test('image architectures refuse flat inputs, naming the shape', () => {
    for (const name of ['cnn', 'cnn-plain', 'resnet'] as const) {
      const msg = refusal(() => buildModel(name, { inputShape: [784], classes: 10 }));
      assert.match(msg, new RegExp(`model '${name}' needs image inputs \\[height, width, channels\\], got inputShape \\[784\\]`));
    }
  });

  test('the registry describes each architecture in one line, with its defaults', () => {
    const lines = describeModels();
    assert.equal(lines.length, MODEL_NAMES.length);
    assert.deepEqual(Object.keys(MODELS), MODEL_NAMES);
    for (const [i, name] of MODEL_NAMES.entries()) {
      assert.ok(lines[i].startsWith(`${name} — `) && !lines[i].includes('\n'), lines[i]);
      assert.match(lines[i], new RegExp(`defaults depth ${ZOO[name].defaults.depth}, width ${ZOO[name].defaults.width}`));
    }
  });
});

describe('parameter counts, counted by hand', () => {
  test('mlp default: 784·256+256 + 256·256+256 + 256·10+10', () => {
    const model = buildModel('mlp', { inputShape: [28, 28, 1], classes: 10 });
    assert.equal(model.countParams(), 784 * 256 + 256 + (256 * 256 + 256) + (256 * 10 + 10));
    model.dispose();
  });

  test('cnn default: 3·3·1·16+16 + 3·3·16·32+32 + (24·24·32)·10+10', () => {
    const model = buildModel('cnn', { inputShape: [28, 28, 1], classes: 10 });
    assert.equal(model.countParams(), 3 * 3 * 16 + 16 + (3 * 3 * 16 * 32 + 32) + (24 * 24 * 32 * 10 + 10));
    model.dispose();
  });

  test('fc-orthogonal, depth 2, width 8, 5 inputs, 3 classes; with batch norm', () => {
    const spec = { inputShape: [5], classes: 3, depth: 2, width: 8 };
    const plain = buildModel('fc-orthogonal', spec);
    assert.equal(plain.countParams(), 5 * 8 + 8 + (8 * 8 + 8) + (8 * 3 + 3));
    // No hidden biases; BN has γ, β, moving mean and variance per unit.
    const bn = buildModel('fc-orthogonal', { ...spec, batchNorm: true });
    assert.equal(bn.countParams(), 5 * 8 + 4 * 8 + (8 * 8 + 4 * 8) + (8 * 3 + 3));
    plain.dispose();
    bn.dispose();
  });

  test('fc-crelu-ll, depth 2, width 4: CReLU doubles each hidden layer to 8 features', () => {
    const model = buildModel('fc-crelu-ll', { inputShape: [5], classes: 3, depth: 2, width: 4 });
    assert.equal(model.countParams(), 5 * 4 + 4 + (8 * 4 + 4) + (8 * 3 + 3));
    model.dispose();
  });

  test('cnn-plain, depth 3, width 4 on 8×8×2: 4, 8, 16 filters, global average pooling', () => {
    const model = buildModel('cnn-plain', { inputShape: [8, 8, 2], classes: 3, depth: 3, width: 4 });
    assert.equal(model.countParams(), 3 * 3 * 2 * 4 + 4 + (3 * 3 * 4 * 8 + 8) + (3 * 3 * 8 * 16 + 16) + (16 * 3 + 3));
    assert.deepEqual(model.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => l.outputShape), [[null, 8, 8, 4], [null, 4, 4, 8], [null, 2, 2, 16]]);
    model.dispose();
  });

  test('resnet, depth 2, width 4 on 8×8×1: stem, identity block, strided block with projection', () => {
    const model = buildModel('resnet', { inputShape: [8, 8, 1], classes: 3, depth: 2, width: 4 });
    const stem = 3 * 3 * 1 * 4 + 4;
    const block0 = 2 * (3 * 3 * 4 * 4 + 4);
    const block1 = 3 * 3 * 4 * 8 + 8 + (3 * 3 * 8 * 8 + 8) + (1 * 1 * 4 * 8 + 8);
    assert.equal(model.countParams(), stem + block0 + block1 + (8 * 3 + 3));
    model.dispose();
  });
});

describe('orthogonal kernels', () => {
  test('orthogonalMatrix: tall → WᵀW = g²I, wide → WWᵀ = g²I, square both, to 1e-12 in float64', () => {
    for (const [rows, cols, gain] of [[9, 4, 1], [4, 9, Math.SQRT2], [7, 7, 1], [1, 5, 2]] as const) {
      const w = orthogonalMatrix(rows, cols, 3, gain);
      const err = maxIdentityError(shortSideGram(w, rows, cols), gain * gain);
      assert.ok(err < 1e-12, `${rows}×${cols}: ${err}`);
      if (rows === cols) {
        const t = Float64Array.from({ length: rows * cols }, (_, k) => w[(k % cols) * cols + Math.floor(k / cols)]);
        const errT = maxIdentityError(shortSideGram(t, cols, rows), 1);
        assert.ok(errT < 1e-12, `${rows}×${cols} transposed: ${errT}`);
      }
    }
    assert.deepEqual(orthogonalMatrix(6, 3, 11), orthogonalMatrix(6, 3, 11));
    assert.notDeepEqual(orthogonalMatrix(6, 3, 11), orthogonalMatrix(6, 3, 12));
  });

  test('fc-orthogonal: every kernel has orthonormal columns (in ≥ out) or rows (in < out), times its gain, to 1e-5', () => {
    for (const [activation, gain] of [['relu', Math.SQRT2], ['tanh', 1]] as const) {
      // 5 → 8 (wide), 8 → 8 (square), 8 → 3 (tall, the output: gain 1).
      const model = buildModel('fc-orthogonal', { inputShape: [5], classes: 3, depth: 2, width: 8, activation, seed: 2 });
      const dense = model.layers.filter((l) => l.getClassName() === 'Dense');
      dense.forEach((layer, i) => {
        const [rows, cols] = layer.weights[0].shape as [number, number];
        const g = i === dense.length - 1 ? 1 : gain;
        const err = maxIdentityError(shortSideGram(layer.weights[0].read().dataSync(), rows, cols), g * g);
        assert.ok(err < 1e-5, `${layer.name} ${rows}×${cols}: ${err}`);
        assert.ok(layer.weights[1].read().dataSync().every((b) => b === 0), `${layer.name}: zero biases`);
      });
      model.dispose();
    }
  });
});

/** Log-probability differences to class 0: the logits up to their common shift, affine if the network is. */
function logitRows(model: tf.LayersModel, x: tf.Tensor): number[][] {
  return predictRows(model, x).map((p) => p.map((v) => Math.log(v) - Math.log(p[0])));
}

/** max |g(αx + (1−α)y) − αg(x) − (1−α)g(y)| over random pairs: 0 for an affine g. */
function nonLinearity(model: tf.LayersModel, d: number): number {
  const alpha = 0.3;
  const xs = seeded(8 * d, 21, 2);
  const ys = seeded(8 * d, 22, 2);
  const mix = xs.map((v, i) => alpha * v + (1 - alpha) * ys[i]);
  const [gx, gy, gm] = [xs, ys, mix].map((v) => {
    const t = tf.tensor2d(v, [8, d]);
    const rows = logitRows(model, t);
    t.dispose();
    return rows;
  });
  return Math.max(...gm.flatMap((row, i) => row.map((v, k) => Math.abs(v - alpha * gx[i][k] - (1 - alpha) * gy[i][k]))));
}

describe('looks-linear network (fc-crelu-ll)', () => {
  const spec = { inputShape: [7], classes: 4, depth: 3, width: 6, seed: 9 };

  test('kernels after a CReLU are mirrored [W; −W] with W orthogonal; the first is orthogonal', () => {
    const model = buildModel('fc-crelu-ll', spec);
    const dense = model.layers.filter((l) => l.getClassName() === 'Dense');
    assert.equal(dense.length, 4);
    dense.forEach((layer, i) => {
      const [rows, cols] = layer.weights[0].shape as [number, number];
      const k = layer.weights[0].read().dataSync();
      const half = i === 0 ? rows : rows / 2;
      if (i > 0) {
        assert.equal(rows, 2 * 6);
        for (let j = 0; j < half * cols; j++) assert.equal(k[half * cols + j], -k[j]);
      }
      const err = maxIdentityError(shortSideGram(k.slice(0, half * cols), half, cols), 1);
      assert.ok(err < 1e-5, `${layer.name}: ${err}`);
    });
    model.dispose();
  });

  test('at initialisation the network is softmax(x·A + c), A and c composed from the kernels\' top halves in float64', () => {
    const model = buildModel('fc-crelu-ll', spec);
    const dense = model.layers.filter((l) => l.getClassName() === 'Dense');
    // Biases start at zero; any biases keep the network affine, so give them values to make c non-trivial.
    dense.forEach((layer, i) => {
      const b = tf.tensor1d(seeded(layer.weights[1].shape[0] as number, 60 + i, 0.5));
      layer.weights[1].write(b);
      b.dispose();
    });
    // z ↦ z·W + b per layer, with W the first kernel or the top half of a mirrored one: A = W₁W₂W₃W₄, c = ((b₁W₂ + b₂)W₃ + b₃)W₄ + b₄.
    let a: number[][] = Array.from({ length: 7 }, (_, i) => Array.from({ length: 7 }, (_, j) => (i === j ? 1 : 0)));
    let c: number[] = Array.from({ length: 7 }, () => 0);
    for (const layer of dense) {
      const cols = layer.weights[0].shape[1] as number;
      const k = layer.weights[0].read().dataSync();
      const b = layer.weights[1].read().dataSync();
      const times = (v: number[]) => Array.from({ length: cols }, (_, j) => v.reduce((s, x, r) => s + x * k[r * cols + j], 0));
      a = a.map(times);
      c = times(c).map((v, j) => v + b[j]);
    }
    const xs = seeded(16 * 7, 5, 3);
    const x = tf.tensor2d(xs, [16, 7]);
    const got = predictRows(model, x);
    for (let n = 0; n < 16; n++) {
      const logits = c.map((cj, j) => a.reduce((s, row, r) => s + xs[n * 7 + r] * row[j], cj));
      const m = Math.max(...logits);
      const z = logits.reduce((s, v) => s + Math.exp(v - m), 0);
      logits.forEach((v, j) => assert.ok(Math.abs(Math.exp(v - m) / z - got[n][j]) < 1e-6, `example ${n} class ${j}: ${got[n][j]}`));
    }
    const deviation = nonLinearity(model, 7);
    assert.ok(deviation < 1e-5, `non-linearity ${deviation}`);
    x.dispose();
    model.dispose();
  });

  test('one SGD step breaks the mirror and the linearity', () => {
    const model = buildModel('fc-crelu-ll', spec);
    const x = tf.tensor2d(seeded(32 * 7, 8, 2), [32, 7]);
    const y = tf.tidy(() => oneHot(32, 4, 1));
    const before = nonLinearity(model, 7);
    const opt = tf.train.sgd(0.5);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    opt.minimize(() => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, false, vars);
    const afterStep = nonLinearity(model, 7);
    const k = model.layers.filter((l) => l.getClassName() === 'Dense')[1].weights[0].read().dataSync();
    const mirrorGap = Math.max(...Array.from({ length: 36 }, (_, j) => Math.abs(k[j] + k[36 + j])));
    assert.ok(before < 1e-5, `linear before: ${before}`);
    assert.ok(mirrorGap > 1e-4, `mirror broken: ${mirrorGap}`);
    assert.ok(afterStep > 100 * 1e-5, `non-linear after: ${afterStep}`);
    opt.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });

  test('with batch normalisation it is still linear in inference mode at initialisation', () => {
    const model = buildModel('fc-crelu-ll', { ...spec, batchNorm: true });
    const deviation = nonLinearity(model, 7);
    assert.ok(deviation < 1e-5, `non-linearity ${deviation}`);
    model.dispose();
  });

  test('takes only CReLU', () => {
    assert.match(refusal(() => buildModel('fc-crelu-ll', { ...spec, activation: 'relu' })), /model 'fc-crelu-ll' takes activation crelu, not 'relu'/);
  });
});

describe('resnet', () => {
  test('a 1×1 projection shortcut exactly where a block changes its input shape', () => {
    for (const batchNorm of [false, true]) {
      // depth 5 in 3 stages: blocks 0, 1 | 2, 3 | 4; blocks 2 and 4 halve the image and double the filters.
      const model = buildModel('resnet', { inputShape: [12, 12, 1], classes: 3, depth: 5, width: 4, batchNorm });
      const projections: number[] = [];
      for (let i = 0; i < 5; i++) {
        const blockInput = model.getLayer(`block${i}_conv1`).input as tf.SymbolicTensor;
        const add = model.getLayer(`block${i}_add`);
        const [residual, skip] = add.inboundNodes[0].inputTensors;
        const changes = blockInput.shape.some((d, k) => d !== (add.output as tf.SymbolicTensor).shape[k]);
        const projection = model.layers.find((l) => l.name === `block${i}_projection`);
        assert.equal(projection !== undefined, changes, `block ${i}`);
        assert.notEqual(residual.id, blockInput.id);
        if (!projection) {
          assert.equal(skip.id, blockInput.id, `block ${i}: identity skip`);
          continue;
        }
        projections.push(i);
        const config = projection.getConfig();
        assert.deepEqual([config.kernelSize, config.strides], [[1, 1], [2, 2]]);
        assert.equal((projection.input as tf.SymbolicTensor).id, blockInput.id);
        // The skip is the projection's output, through its batch normalisation if any.
        const skipLayer = skip.sourceLayer;
        assert.equal(skipLayer.getClassName(), batchNorm ? 'BatchNormalization' : 'Conv2D');
        assert.equal(batchNorm ? (skipLayer.input as tf.SymbolicTensor).sourceLayer : skipLayer, projection);
      }
      assert.deepEqual(projections, [2, 4]);
      model.dispose();
    }
  });

  test('refuses CReLU, which would change every block\'s shape', () => {
    assert.match(refusal(() => buildModel('resnet', { inputShape: IMAGE, classes: 3, activation: 'crelu' })), /model 'resnet' takes activation relu or tanh or elu or selu or linear, not 'crelu'/);
  });
});

describe('batchNorm option', () => {
  const expected: Record<ModelName, number> = {
    mlp: 2, cnn: 2, 'fc-orthogonal': 3, 'fc-crelu-ll': 3, 'cnn-plain': 3,
    resnet: 1 + 2 * 3 + 2, // stem, two per block, and the projections of blocks 1 and 2 (3 stages of 1 block)
  };
  for (const name of MODEL_NAMES) {
    test(`${name}: one BatchNormalization per hidden weighted layer, none without the option`, () => {
      const [plain, bn] = [small(name), small(name, { batchNorm: true })];
      const count = (m: tf.LayersModel) => m.layers.filter((l) => l.getClassName() === 'BatchNormalization').length;
      assert.equal(count(plain), 0);
      assert.equal(count(bn), expected[name]);
      // BN sits between a weighted layer (now without bias) and the activation.
      for (const layer of bn.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
        const src = (layer.input as tf.SymbolicTensor).sourceLayer;
        assert.ok(['Dense', 'Conv2D'].includes(src.getClassName()));
        assert.equal(src.getConfig().useBias, false);
      }
      plain.dispose();
      bn.dispose();
    });
  }
});

describe('save and load', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gradcond-models-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const name of MODEL_NAMES) {
    test(`${name} (with batch norm) loads back with the same layers, weights and outputs`, async () => {
      const model = small(name, { batchNorm: true });
      // Non-trivial BN statistics, so that loading them is tested too.
      model.layers.filter((l) => l.getClassName() === 'BatchNormalization').forEach((l, i) => {
        const values = l.getWeights().map((w, k) => tf.tensor(seeded(w.size, 40 + i * 4 + k, 0.5).map((v) => 1 + v), w.shape));
        l.setWeights(values);
        tf.dispose(values);
      });
      await saveModel(model, join(dir, name));
      const loaded = await loadModel(join(dir, name, 'model.json'));
      assert.deepEqual(loaded.layers.map((l) => l.getClassName()), model.layers.map((l) => l.getClassName()));
      assert.deepEqual(weightValues(loaded), weightValues(model)); // names too: tfjs loads by original name
      const x = tf.tensor(seeded(4 * 64, 9), [4, ...IMAGE]);
      assert.deepEqual(predictRows(loaded, x), predictRows(model, x));
      x.dispose();
      model.dispose();
      loaded.dispose();
    });
  }
});

describe('bad model files are refused with one line', () => {
  let dir = '';
  let good = '';
  let manifest: { paths: string[]; weights: Array<{ name: string; shape: number[] }> };
  let json: Record<string, unknown>;
  let bytes: Buffer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gradcond-bad-'));
    const model = buildModel('mlp', { inputShape: [3], classes: 2, depth: 1, width: 2, seed: 1 });
    await saveModel(model, join(dir, 'good'));
    model.dispose();
    good = join(dir, 'good', 'model.json');
    json = JSON.parse(readFileSync(good, 'utf8'));
    manifest = (json.weightsManifest as (typeof manifest)[])[0];
    bytes = readFileSync(join(dir, 'good', 'weights.bin'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes a variant of the good model, `j` as its model.json and `bin` as its weights.bin; returns the model.json path. */
  function write(name: string, j: unknown, bin: Buffer = bytes): string {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'model.json'), JSON.stringify(j));
    writeFileSync(join(d, 'weights.bin'), bin);
    return join(d, 'model.json');
  }

  test('the good model loads', async () => {
    const m = await loadModel(good);
    assert.equal(m.countParams(), 3 * 2 + 2 + (2 * 2 + 2));
    m.dispose();
  });

  test('no weights manifest (tfjs would initialise at random)', async () => {
    const { weightsManifest: _, ...noManifest } = json;
    const msg = await asyncRefusal(() => loadModel(write('no-manifest', noManifest)));
    assert.match(msg, /no weightsManifest, so the model's weights are missing/);
  });

  test('an empty manifest, or one that lacks a weight', async () => {
    assert.match(await asyncRefusal(() => loadModel(write('empty-manifest', { ...json, weightsManifest: [] }, Buffer.alloc(0)))), /the weights manifest lacks 4 of the model's 4 weights/);
    // Drop the last weight (the output bias, 2 float32) and its bytes.
    const lacking = { ...json, weightsManifest: [{ ...manifest, weights: manifest.weights.slice(0, -1) }] };
    const msg = await asyncRefusal(() => loadModel(write('lacking', lacking, bytes.subarray(0, bytes.length - 8))));
    assert.match(msg, /the weights manifest lacks 1 of the model's 4 weights \(.*bias.*\)/);
  });

  test('a manifest naming a weight the model lacks, or giving a weight another shape', async () => {
    const renamed = { ...json, weightsManifest: [{ ...manifest, weights: [...manifest.weights.slice(0, -1), { ...manifest.weights[3], name: 'stray/bias' }] }] };
    const msg = await asyncRefusal(() => loadModel(write('renamed', renamed)));
    assert.match(msg, /the weights manifest lacks 1 of the model's 4 weights/);
    const extra = { ...json, weightsManifest: [{ ...manifest, weights: [...manifest.weights, { ...manifest.weights[3], name: 'stray/bias' }] }] };
    assert.match(
      await asyncRefusal(() => loadModel(write('extra', extra, Buffer.concat([bytes, bytes.subarray(-8)])))),
      /the weights manifest names 'stray\/bias', which the model does not have/,
    );
    // The hidden kernel is 3×2: call it 2×3 (same bytes).
    const reshaped = { ...json, weightsManifest: [{ ...manifest, weights: [{ ...manifest.weights[0], shape: [2, 3] }, ...manifest.weights.slice(1)] }] };
    assert.match(await asyncRefusal(() => loadModel(write('reshaped', reshaped))), /weight '.*kernel' has shape \[2, 3\] in the manifest but \[3, 2\] in the model/);
  });

  test('weight files with trailing or missing bytes', async () => {
    const trailing = await asyncRefusal(() => loadModel(write('trailing', json, Buffer.concat([bytes, Buffer.alloc(4)]))));
    assert.match(trailing, new RegExp(`weight file weights.bin holds ${bytes.length + 4} bytes, the manifest describes ${bytes.length} \\(4 trailing bytes\\)`));
    const missing = await asyncRefusal(() => loadModel(write('missing', json, bytes.subarray(0, bytes.length - 8))));
    assert.match(missing, new RegExp(`holds ${bytes.length - 8} bytes, the manifest describes ${bytes.length} \\(8 bytes missing\\)`));
    assert.equal(bytes.length, 4 * (3 * 2 + 2 + 2 * 2 + 2));
  });

  test('a missing weight file, a malformed manifest', async () => {
    const path = write('nofile', json);
    rmSync(join(dir, 'nofile', 'weights.bin'));
    assert.match(await asyncRefusal(() => loadModel(path)), /weight file not found: .*nofile\/weights\.bin/);
    const malformed = { ...json, weightsManifest: [{ paths: 'weights.bin', weights: manifest.weights }] };
    assert.match(await asyncRefusal(() => loadModel(write('malformed', malformed))), /malformed weightsManifest/);
  });

  test('non-finite weights, naming the variable', async () => {
    // The third weight is the output kernel (after the hidden kernel 3×2 and bias 2): poison its second entry.
    const poisoned = Buffer.from(bytes);
    poisoned.writeFloatLE(Number.NaN, 4 * (6 + 2 + 1));
    const name = manifest.weights[2].name;
    const msg = await asyncRefusal(() => loadModel(write('nan', json, poisoned)));
    assert.equal(msg, `${join(dir, 'nan', 'model.json')}: weight '${name}' has 1 non-finite values (NaN or ±Infinity) of 4`);
  });

  test('more than one input or output', async () => {
    const input = tf.input({ shape: [3] });
    const a = tf.layers.dense({ units: 2, activation: 'softmax' }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.dense({ units: 2, activation: 'softmax' }).apply(input) as tf.SymbolicTensor;
    const two = tf.model({ inputs: input, outputs: [a, b] });
    await saveModel(two, join(dir, 'two'));
    two.dispose();
    const msg = await asyncRefusal(() => loadModel(join(dir, 'two', 'model.json')));
    assert.match(msg, /gradcond trains models with one input and one output; this one has 1 input \('[^']+'\) and 2 outputs \('[^']+', '[^']+'\)$/);
  });

});

describe('options', () => {
  test('unknown names and bad options are one UsageError line', () => {
    assert.match(refusal(() => buildModel('vgg', { inputShape: IMAGE, classes: 3 })), /^unknown model 'vgg': choose one of mlp, cnn, fc-orthogonal, fc-crelu-ll, cnn-plain, resnet$/);
    assert.match(refusal(() => buildModel('mlp', { inputShape: IMAGE, classes: 3, depth: 0 })), /depth must be a positive integer, got 0/);
    assert.match(refusal(() => buildModel('mlp', { inputShape: IMAGE, classes: 3, width: 2.5 })), /width must be a positive integer, got 2\.5/);
    assert.match(refusal(() => buildModel('mlp', { inputShape: IMAGE, classes: 3, depth: 5000 })), /depth must be at most 1000/);
    assert.match(refusal(() => buildModel('mlp', { inputShape: IMAGE, classes: 1 })), /classes must be at least 2/);
    assert.match(refusal(() => buildModel('mlp', { inputShape: IMAGE, classes: 3, activation: 'gelu' as never })), /activation must be one of relu, crelu, tanh, elu, selu, linear, got "gelu"/);
    assert.match(refusal(() => buildModel('mlp', { inputShape: IMAGE, classes: 3, dropout: 0.5 } as never)), /unknown option 'dropout'/);
    assert.match(refusal(() => buildModel('cnn', { inputShape: [4, 4, 1], classes: 3 })), /2 valid 3×3 convolutions need inputs of at least 5×5, got 4×4/);
  });

  test('ModelOptionsSchema accepts a run spec\'s model options and fills nothing in', () => {
    const spec = { inputShape: [28, 28, 1], classes: 10, depth: 3, width: 32, seed: 4, batchNorm: true, activation: 'crelu' };
    assert.deepEqual(ModelOptionsSchema.parse(spec), spec);
    assert.equal(ModelOptionsSchema.safeParse({ ...spec, inputShape: [] }).success, false);
  });
});
