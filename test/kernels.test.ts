/**
 * gradcond's kernel overrides (src/backend/overrides.ts) against tfjs's STOCK cpu kernels.
 * The stock cpu backend is the reference: overrides are removed there while computing it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/backend/tf.js';
import { registerWasm } from '../src/backend/backend.js';
import {
  OVERRIDES, installOverrides, installedOverrides, overridesFor, removeOverrides,
} from '../src/backend/overrides.js';
import { conv2dBackpropFilterKernel } from '../src/backend/kernels/conv2dBackpropFilter.js';
import { conv2dBackpropInputNHWC } from '../src/backend/kernels/conv2dBackpropInput.js';

type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
type Arr = Float32Array | Int32Array | Uint8Array;
interface ConvCase { x: [number, number, number, number]; f: [number, number, number, number]; s: number | [number, number]; p: Pad }

const TOL = 1e-5;
const BACKENDS = ['cpu', 'wasm'] as const;

/** max |a - b| / max |b| (with a floor of 1e-6 on the denominator). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / Math.max(m, 1e-6);
}

function seeded(shape: number[], seed: number): Float32Array {
  // Deterministic values independent of the backend.
  let s = seed * 2654435761 >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

async function use(backend: string, overrides: boolean): Promise<void> {
  await registerWasm(backend);
  assert.ok(await tf.setBackend(backend), `backend ${backend}`);
  await tf.ready();
  if (overrides) installOverrides(backend);
  else removeOverrides(backend);
}

function run(kernel: string, inputs: Record<string, tf.Tensor>, attrs: object): { shape: number[]; data: Arr } {
  return tf.tidy(() => {
    const t = tf.engine().runKernel(kernel, inputs, attrs as never) as tf.Tensor;
    return { shape: t.shape, data: t.dataSync() as Arr };
  });
}

function outShape(c: ConvCase, dilations: number | [number, number] = 1): number[] {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.f, c.s, dilations, c.p as never, undefined, false, 'channelsLast');
  return info.outShape;
}

const CASES: ConvCase[] = [];
{
  const pads: Pad[] = ['valid', 'same', 1, 2, [[0, 0], [1, 2], [0, 1], [0, 0]], [[0, 0], [2, 0], [1, 1], [0, 0]]];
  const strides: Array<number | [number, number]> = [1, 2, [1, 2], [2, 1]];
  const shapes: Array<[ConvCase['x'], ConvCase['f']]> = [
    [[1, 7, 9, 1], [3, 3, 1, 4]],
    [[3, 7, 9, 3], [3, 3, 3, 5]],
    [[3, 8, 8, 2], [2, 3, 2, 3]],
    [[1, 9, 7, 4], [5, 5, 4, 2]],
    [[3, 6, 5, 2], [1, 1, 2, 3]],
  ];
  let k = 0;
  for (const [x, f] of shapes) {
    for (const p of pads) {
      // every stride with every padding, rotated across shapes to keep the table small
      for (let j = 0; j < 2; j++) CASES.push({ x, f, p, s: strides[(k + j) % strides.length]! });
      k++;
    }
  }
  CASES.push({ x: [2, 7, 9, 3], f: [3, 3, 3, 4], s: 3, p: 'same' });
  CASES.push({ x: [2, 7, 9, 3], f: [4, 2, 3, 4], s: [3, 2], p: 'valid' });
}

interface Prepared { c: ConvCase; x: Float32Array; f: Float32Array; dy: Float32Array; dyShape: number[]; dW: Float32Array; dx: Float32Array }
let prepared: Prepared[] = [];

before(async () => {
  // References from the stock cpu kernels.
  await use('cpu', false);
  prepared = CASES.map((c, i) => {
    const dyShape = outShape(c);
    const x = seeded(c.x, 3 * i + 1);
    const f = seeded(c.f, 3 * i + 2);
    const dy = seeded(dyShape, 3 * i + 3);
    const dW = run('Conv2DBackpropFilter', { x: tf.tensor(x, c.x), dy: tf.tensor(dy, dyShape) },
      { strides: c.s, pad: c.p, dataFormat: 'NHWC', filterShape: c.f }).data as Float32Array;
    const dx = run('Conv2DBackpropInput', { dy: tf.tensor(dy, dyShape), filter: tf.tensor(f, c.f) },
      { strides: c.s, pad: c.p, dataFormat: 'NHWC', inputShape: c.x }).data as Float32Array;
    return { c, x, f, dy, dyShape, dW, dx };
  });
});

after(async () => {
  for (const b of BACKENDS) removeOverrides(b);
});

test('install/remove: idempotent, and remove restores the stock kernels exactly', async () => {
  for (const b of BACKENDS) {
    await use(b, false);
    const stock = new Map(OVERRIDES.map((o) => [o.kernelName, tf.getKernel(o.kernelName, b)]));
    const first = installOverrides(b);
    assert.deepEqual([...first].sort(), [...overridesFor(b)].sort());
    const ours = first.map((n) => tf.getKernel(n, b));
    assert.deepEqual(installOverrides(b), first, 'second install returns the same names');
    assert.deepEqual(first.map((n) => tf.getKernel(n, b)), ours, 'second install changes nothing');
    assert.deepEqual(installedOverrides(b), first);
    for (const n of first) assert.notEqual(tf.getKernel(n, b), stock.get(n));
    removeOverrides(b);
    removeOverrides(b); // idempotent too
    for (const [n, cfg] of stock) assert.equal(tf.getKernel(n, b), cfg, `${b}/${n} restored`);
    assert.deepEqual(installedOverrides(b), []);
  }
  // facts the override list relies on
  assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm'), undefined, 'stock wasm has no Conv2DBackpropFilter');
  assert.deepEqual(installOverrides('tensorflow'), []);
  assert.ok(overridesFor('wasm').includes('Conv2DBackpropFilter'));
  assert.ok(overridesFor('cpu').includes('Conv2DBackpropFilter'));
});

test('Conv2DBackpropFilter override matches stock cpu (strides, paddings, odd sizes, batch 1 and 3)', async () => {
  for (const b of BACKENDS) {
    await use(b, true);
    assert.ok(installedOverrides(b).includes('Conv2DBackpropFilter'));
    for (const p of prepared) {
      const { c } = p;
      const got = run('Conv2DBackpropFilter', { x: tf.tensor(p.x, c.x), dy: tf.tensor(p.dy, p.dyShape) },
        { strides: c.s, pad: c.p, dataFormat: 'NHWC', filterShape: c.f });
      assert.deepEqual(got.shape, c.f);
      const e = relErr(got.data, p.dW);
      assert.ok(e <= TOL, `${b} dW ${JSON.stringify(c)}: rel err ${e}`);
    }
  }
});

test('Conv2DBackpropInput override matches stock cpu (wasm where installed; the kernel itself on cpu)', async () => {
  for (const b of BACKENDS) {
    await use(b, true);
    const installed = installedOverrides(b).includes('Conv2DBackpropInput');
    for (const p of prepared) {
      const { c } = p;
      const attrs = { strides: c.s, pad: c.p, dataFormat: 'NHWC' as const, inputShape: c.x };
      const got = installed
        ? run('Conv2DBackpropInput', { dy: tf.tensor(p.dy, p.dyShape), filter: tf.tensor(p.f, c.f) }, attrs)
        : tf.tidy(() => {
          const t = conv2dBackpropInputNHWC(tf.tensor4d(p.dy, p.dyShape as never), tf.tensor4d(p.f, c.f), attrs);
          return { shape: t.shape, data: t.dataSync() as Arr };
        });
      assert.deepEqual(got.shape, c.x);
      const e = relErr(got.data, p.dx);
      assert.ok(e <= TOL, `${b} dx ${JSON.stringify(c)}: rel err ${e}`);
    }
  }
});

/** Naive dW with dilations, straight from the definition (the stock kernel has no dilations). */
function naiveDW(x: Float32Array, xs: number[], dy: Float32Array, ys: number[], fs: number[],
  s: [number, number], d: [number, number], top: number, left: number): Float32Array {
  const [n, h, w, ci] = xs as [number, number, number, number];
  const [, oh, ow, co] = ys as [number, number, number, number];
  const [fh, fw] = fs as [number, number];
  const out = new Float32Array(fh * fw * ci * co);
  for (let i = 0; i < fh; i++) for (let j = 0; j < fw; j++) for (let b = 0; b < n; b++) for (let p = 0; p < oh; p++) for (let q = 0; q < ow; q++) {
    const r = p * s[0] + i * d[0] - top;
    const cc = q * s[1] + j * d[1] - left;
    if (r < 0 || r >= h || cc < 0 || cc >= w) continue;
    for (let c = 0; c < ci; c++) {
      const xv = x[((b * h + r) * w + cc) * ci + c]!;
      for (let o = 0; o < co; o++) out[((i * fw + j) * ci + c) * co + o]! += xv * dy[((b * oh + p) * ow + q) * co + o]!;
    }
  }
  return out;
}

test('Conv2DBackpropFilter with a dilations attr (1 and 2, with strides 1 and 2) matches the definition', async () => {
  const dilCases: Array<ConvCase & { d: number | [number, number] }> = [
    { x: [2, 9, 7, 2], f: [3, 3, 2, 3], s: 1, p: 'valid', d: 2 },
    { x: [1, 9, 9, 2], f: [3, 2, 2, 3], s: 1, p: 'same', d: [2, 1] },
    { x: [3, 11, 9, 2], f: [3, 3, 2, 2], s: 2, p: 'same', d: 2 },
    { x: [2, 11, 10, 1], f: [2, 3, 1, 3], s: [2, 1], p: 1, d: [1, 2] },
    { x: [2, 10, 11, 2], f: [3, 3, 2, 2], s: 2, p: [[0, 0], [1, 2], [2, 0], [0, 0]], d: 2 },
    { x: [3, 7, 9, 2], f: [3, 3, 2, 4], s: 2, p: 'same', d: 1 },
  ];
  for (const b of BACKENDS) {
    await use(b, true);
    dilCases.forEach((c, k) => {
      const info = tf.backend_util.computeConv2DInfo(c.x, c.f, c.s, c.d, c.p as never, undefined, false, 'channelsLast');
      const x = seeded(c.x, 100 + k);
      const dy = seeded(info.outShape, 200 + k);
      const want = naiveDW(x, c.x, dy, info.outShape, c.f, [info.strideHeight, info.strideWidth],
        [info.dilationHeight, info.dilationWidth], info.padInfo.top, info.padInfo.left);
      const got = run('Conv2DBackpropFilter', { x: tf.tensor(x, c.x), dy: tf.tensor(dy, info.outShape) },
        { strides: c.s, pad: c.p, dataFormat: 'NHWC', filterShape: c.f, dilations: c.d });
      assert.deepEqual(got.shape, c.f);
      const e = relErr(got.data, want);
      assert.ok(e <= TOL, `${b} dilated dW ${JSON.stringify(c)}: rel err ${e}`);
    });
  }
});

test('Conv2DBackpropFilter override: NCHW matches stock cpu NCHW', async () => {
  const c: ConvCase = { x: [2, 3, 7, 9], f: [3, 2, 3, 4], s: [2, 1], p: [[0, 0], [0, 0], [1, 0], [1, 1]] };
  const info = tf.backend_util.computeConv2DInfo(c.x, c.f, c.s, 1, c.p as never, undefined, false, 'channelsFirst');
  const x = seeded(c.x, 7);
  const dy = seeded(info.outShape, 8);
  const attrs = { strides: c.s, pad: c.p, dataFormat: 'NCHW', filterShape: c.f };
  await use('cpu', false);
  const want = run('Conv2DBackpropFilter', { x: tf.tensor(x, c.x), dy: tf.tensor(dy, info.outShape) }, attrs);
  for (const b of BACKENDS) {
    await use(b, true);
    const got = tf.tidy(() => {
      const t = conv2dBackpropFilterKernel({ inputs: { x: tf.tensor(x, c.x), dy: tf.tensor(dy, info.outShape) }, attrs: attrs as never, backend: tf.backend() }) as tf.Tensor;
      return { shape: t.shape, data: t.dataSync() as Arr };
    });
    assert.deepEqual(got.shape, c.f);
    assert.ok(relErr(got.data, want.data) <= TOL, `${b} NCHW`);
    // Bare TensorInfo inputs (not Tensors), as some backends pass them: same result, no leak.
    const xt = tf.tensor(x, c.x);
    const dyt = tf.tensor(dy, info.outShape);
    const n0 = tf.memory().numTensors;
    const bare = conv2dBackpropFilterKernel({
      inputs: { x: { dataId: xt.dataId, shape: xt.shape, dtype: xt.dtype }, dy: { dataId: dyt.dataId, shape: dyt.shape, dtype: dyt.dtype } },
      attrs: attrs as never, backend: tf.backend(),
    }) as tf.Tensor;
    assert.equal(tf.memory().numTensors, n0 + 1);
    assert.ok(relErr(bare.dataSync(), want.data) <= TOL, `${b} NCHW (TensorInfo inputs)`);
    tf.dispose([bare, xt, dyt]);
    assert.equal(tf.memory().numTensors, n0 - 2);
  }
});

test('BatchMatMul override (all four transpose combos, 2D, batched 3D, broadcast batch) matches stock cpu', async () => {
  const cases: Array<{ a: number[]; b: number[] }> = [
    { a: [5, 7], b: [7, 3] }, { a: [4, 5, 7], b: [4, 7, 3] }, { a: [1, 5, 7], b: [3, 7, 6] }, { a: [2, 3, 5, 7], b: [2, 3, 7, 4] },
    { a: [64, 33], b: [33, 17] },
  ];
  const combos: Array<[boolean, boolean]> = [[false, false], [true, false], [false, true], [true, true]];
  const shapeFor = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!] : s);
  const refs: Array<{ a: Float32Array; b: Float32Array; as: number[]; bs: number[]; ta: boolean; tb: boolean; want: Arr; shape: number[] }> = [];
  await use('cpu', false);
  cases.forEach((c, i) => combos.forEach(([ta, tb], j) => {
    const as = shapeFor(c.a, ta);
    const bs = shapeFor(c.b, tb);
    const a = seeded(as, 300 + 4 * i + j);
    const b = seeded(bs, 400 + 4 * i + j);
    const r = run('BatchMatMul', { a: tf.tensor(a, as), b: tf.tensor(b, bs) }, { transposeA: ta, transposeB: tb });
    refs.push({ a, b, as, bs, ta, tb, want: r.data, shape: r.shape });
  }));
  for (const be of BACKENDS) {
    await use(be, true);
    for (const r of refs) {
      const got = tf.tidy(() => {
        const t = tf.matMul(tf.tensor(r.a, r.as), tf.tensor(r.b, r.bs), r.ta, r.tb);
        return { shape: t.shape, data: t.dataSync() as Arr };
      });
      assert.deepEqual(got.shape, r.shape);
      const e = relErr(got.data, r.want);
      assert.ok(e <= TOL, `${be} matMul ${r.as} ${r.bs} tA=${r.ta} tB=${r.tb}: rel err ${e}`);
    }
  }
  assert.ok(installedOverrides('wasm').includes('BatchMatMul'));
});

function cnn(side: number): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [side, side, 1], filters: 16, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  m.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  return m;
}

async function trainCnn(init: Float32Array[] | null, side: number, batch: number, steps: number): Promise<{ init: Float32Array[]; final: Float32Array[] }> {
  const m = cnn(side);
  if (init) m.setWeights(m.getWeights().map((w, i) => tf.tensor(init[i]!, w.shape)));
  const start = m.getWeights().map((w) => w.dataSync() as Float32Array);
  const x = tf.randomNormal([batch, side, side, 1], 0, 1, 'float32', 42);
  const y = tf.oneHot(tf.tensor1d([3, 1, 4, 1, 5, 9, 2, 6].slice(0, batch), 'int32'), 10);
  for (let i = 0; i < steps; i++) await m.trainOnBatch(x, y);
  const final = m.getWeights().map((w) => w.dataSync() as Float32Array);
  x.dispose();
  y.dispose();
  m.dispose();
  return { init: start, final };
}

test('training the CNN 3 steps: wasm+overrides and cpu+overrides give stock cpu\'s weights', async () => {
  const side = 12;
  await use('cpu', false);
  const ref = await trainCnn(null, side, 8, 3);
  for (const b of BACKENDS) {
    await use(b, true);
    const got = await trainCnn(ref.init, side, 8, 3);
    assert.equal(got.final.length, ref.final.length);
    got.final.forEach((w, i) => {
      assert.ok(relErr(w, ref.init[i]!) > 1e-4 || i % 2 === 1, `weights ${i} moved`);
      const e = relErr(w, ref.final[i]!);
      assert.ok(e <= 1e-4, `${b} weight ${i}: rel err ${e}`);
    });
  }
});

test('no tensor leak across 100 training steps with overrides (and under tf.grad)', async () => {
  for (const b of BACKENDS) {
    await use(b, true);
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }));
    m.add(tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
    m.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
    const x = tf.randomNormal([4, 8, 8, 1], 0, 1, 'float32', 1);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10);
    await m.trainOnBatch(x, y); // warm-up (optimizer/lazy state)
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) await m.trainOnBatch(x, y);
    assert.equal(tf.memory().numTensors, before, `${b}: tensors leaked over 100 steps`);

    // The kernels directly under tf.grad (second conv's input gradient included).
    const f = tf.randomNormal([3, 3, 1, 3], 0, 1, 'float32', 2);
    const w = tf.randomNormal([3, 3, 3, 2], 0, 1, 'float32', 3);
    const before2 = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      const [gx, gf, gw] = tf.grads((xx: tf.Tensor, ff: tf.Tensor, ww: tf.Tensor) =>
        tf.sum(tf.matMul(tf.reshape(tf.conv2d(tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, 1, 'same'), ww as tf.Tensor4D, 2, 'valid'), [4, -1]),
          tf.ones([4, 4]), true, false)))([x, f, w]);
      tf.dispose([gx!, gf!, gw!]);
    }
    assert.equal(tf.memory().numTensors, before2, `${b}: tensors leaked under tf.grads`);
    tf.dispose([x, y, f, w]);
    m.dispose();
  }
});
