/**
 * The wasm backend on several threads (src/backend/wasmThreads.ts): the same numbers as tfjs'
 * single-threaded wasm backend (run in this process as a second backend) and as float64
 * references, gradcond's kernel overrides working on it, clean failures and fallbacks, and a
 * process that exits by itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { type ActiveBackend, useBackend } from '../src/backend/backend.js';
import { installedOverrides } from '../src/backend/overrides.js';
import { conv2dBackpropFilterKernel } from '../src/backend/kernels/conv2dBackpropFilter.js';
import { registerWasmVariant } from '../src/backend/wasmRegistry.js';
import { createThreadedWasm, locateThreadedBuild, wasmThreadsOf } from '../src/backend/wasmThreads.js';
import { perExampleLoss } from '../src/engine/losses.js';
import { trainStep } from '../src/bench/trainStep.js';
import { cnn, mlp } from '../src/models/zoo.js';
import { oneHot, refTargets, relErr, seeded, tensorRows, toRefModel } from './helpers.js';
import * as ref from './reference/metrics.js';

const THREADS = 2;
/** tfjs' own single-threaded wasm backend, registered under a second name. */
const SINGLE = 'wasm-1-thread';
/** Relative error (max |a − b| / max |b|) allowed: float32 round-off. */
const TOL = 1e-5;

let active: ActiveBackend;

before(async () => {
  active = await useBackend('wasm', { threads: THREADS });
  assert.equal(await registerWasmVariant(SINGLE, 1), 1);
  await tf.setBackend('wasm');
});

/** `f` on the threaded backend, then on the single-threaded one; 'wasm' is current again after. */
async function onBoth<T>(f: () => T): Promise<{ threaded: T; single: T }> {
  await tf.setBackend('wasm');
  const threaded = f();
  await tf.setBackend(SINGLE);
  const single = f();
  await tf.setBackend('wasm');
  return { threaded, single };
}

/** Float64 product of row-major a [m, k] and b [k, n]. */
function matMul64(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const v = a[i * k + p]!;
      for (let j = 0; j < n; j++) out[i * n + j] += v * b[p * n + j]!;
    }
  }
  return out;
}

/** Row-major transpose (exact, so float32 suffices). */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

/** Float64 NHWC conv2d with tfjs' 'valid' / 'same' padding. */
function conv2d64(x: Float32Array, xs: number[], f: Float32Array, fs_: number[], stride: number, pad: 'valid' | 'same'): Float64Array {
  const [n, h, w, cin] = xs as [number, number, number, number];
  const [fh, fw, , cout] = fs_ as [number, number, number, number];
  const oh = pad === 'same' ? Math.ceil(h / stride) : Math.floor((h - fh) / stride) + 1;
  const ow = pad === 'same' ? Math.ceil(w / stride) : Math.floor((w - fw) / stride) + 1;
  const top = pad === 'same' ? Math.floor(Math.max((oh - 1) * stride + fh - h, 0) / 2) : 0;
  const left = pad === 'same' ? Math.floor(Math.max((ow - 1) * stride + fw - w, 0) / 2) : 0;
  const out = new Float64Array(n * oh * ow * cout);
  for (let b = 0; b < n; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const o = ((b * oh + i) * ow + j) * cout;
    for (let di = 0; di < fh; di++) for (let dj = 0; dj < fw; dj++) {
      const r = i * stride + di - top;
      const c = j * stride + dj - left;
      if (r < 0 || r >= h || c < 0 || c >= w) continue;
      for (let ci = 0; ci < cin; ci++) {
        const v = x[((b * h + r) * w + c) * cin + ci]!;
        const fo = ((di * fw + dj) * cin + ci) * cout;
        for (let co = 0; co < cout; co++) out[o + co] += v * f[fo + co]!;
      }
    }
  }
  return out;
}

test('useBackend runs wasm on the requested threads, with gradcond kernels installed', () => {
  assert.equal(active.name, 'wasm');
  assert.equal(active.threads, THREADS);
  assert.equal(wasmThreadsOf(tf.backend()), THREADS);
  assert.deepEqual([...active.overrides].sort(), [...installedOverrides('wasm')].sort());
  assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc, conv2dBackpropFilterKernel);
  assert.equal(typeof (globalThis as { Worker?: unknown }).Worker, 'undefined', 'no global Worker left behind');
});

test('matMul: threaded = single-threaded (≤ 1e-5) = float64 (≤ 1e-5), transposes included', async () => {
  const cases: [number, number, number, boolean, boolean][] = [
    [64, 784, 256, false, false], [37, 91, 53, false, false], [64, 256, 200, true, false], [50, 60, 70, false, true],
  ];
  const n0 = tf.memory().numTensors;
  for (const [m, k, n, ta, tb] of cases) {
    const a = seeded(m * k, m + k);
    const b = seeded(k * n, k + n + 1);
    const got = await onBoth(() => tf.tidy(() => {
      const at = ta ? tf.tensor2d(transpose(a, m, k), [k, m]) : tf.tensor2d(a, [m, k]);
      const bt = tb ? tf.tensor2d(transpose(b, k, n), [n, k]) : tf.tensor2d(b, [k, n]);
      return tf.matMul(at, bt, ta, tb).dataSync() as Float32Array;
    }));
    const want = matMul64(a, b, m, k, n);
    const tag = `${m}x${k}x${n} ta=${ta} tb=${tb}`;
    assert.ok(relErr(got.threaded, got.single) <= TOL, `${tag}: threaded vs single ${relErr(got.threaded, got.single)}`);
    assert.ok(relErr(got.threaded, want) <= TOL, `${tag}: threaded vs float64 ${relErr(got.threaded, want)}`);
  }
  assert.equal(tf.memory().numTensors, n0);
});

test('conv2d: threaded = single-threaded (≤ 1e-5) = float64 (≤ 1e-5)', async () => {
  const cases: { x: number[]; f: number[]; s: number; p: 'valid' | 'same' }[] = [
    { x: [8, 28, 28, 1], f: [3, 3, 1, 16], s: 1, p: 'valid' },
    { x: [8, 26, 26, 16], f: [3, 3, 16, 32], s: 1, p: 'valid' },
    { x: [4, 15, 15, 8], f: [3, 3, 8, 12], s: 2, p: 'same' },
  ];
  const n0 = tf.memory().numTensors;
  for (const [i, c] of cases.entries()) {
    const x = seeded(c.x.reduce((p, q) => p * q, 1), 10 + i);
    const f = seeded(c.f.reduce((p, q) => p * q, 1), 20 + i);
    const got = await onBoth(() => tf.tidy(() =>
      tf.conv2d(tf.tensor4d(x, c.x as never), tf.tensor4d(f, c.f as never), c.s, c.p).dataSync() as Float32Array));
    const want = conv2d64(x, c.x, f, c.f, c.s, c.p);
    const tag = `x ${c.x} f ${c.f} s ${c.s} ${c.p}`;
    assert.ok(relErr(got.threaded, got.single) <= TOL, `${tag}: threaded vs single ${relErr(got.threaded, got.single)}`);
    assert.ok(relErr(got.threaded, want) <= TOL, `${tag}: threaded vs float64 ${relErr(got.threaded, want)}`);
  }
  assert.equal(tf.memory().numTensors, n0);
});

test('after the shared wasm memory grows, results are still read correctly', () => {
  const n0 = tf.memory().numTensors;
  // 64 MiB, beyond the 16 MiB the module starts with; 0.5 · 2^24 = 2^23 is exact in float32.
  const sum = tf.tidy(() => tf.sum(tf.fill([4096, 4096], 0.5)).dataSync()[0]);
  assert.equal(sum, 2 ** 23);
  const big = tf.tidy(() => tf.matMul(tf.ones([1024, 1024]), tf.fill([1024, 3], 2)).dataSync() as Float32Array);
  assert.ok(big.length === 3072 && big.every((v) => v === 2048));
  assert.equal(tf.memory().numTensors, n0);
});

/** The flat trainable weights (tfjs order, as the float64 reference flattens them). */
function flatWeights(model: tf.LayersModel): Float32Array {
  const parts = model.trainableWeights.map((w) => w.read().dataSync() as Float32Array);
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((off, p) => (out.set(p, off), off + p.length), 0);
  return out;
}

interface Step { loss: number; update: Float32Array }

/** One SGD step from `start` weights on the current backend: the loss and θ_new − θ. */
function sgdStep(model: tf.LayersModel, start: tf.Tensor[], x: tf.Tensor, y: tf.Tensor, lr: number): Step {
  model.setWeights(start);
  const theta = flatWeights(model);
  const opt = tf.train.sgd(lr);
  const loss = trainStep(model, opt, perExampleLoss('categoricalCrossentropy'), x, y);
  opt.dispose();
  return { loss, update: flatWeights(model).map((v, i) => v - theta[i]!) };
}

/**
 * One SGD step threaded and single-threaded from the same weights and batch: losses and updates
 * agree to float32 round-off, and both match the float64 reference (loss, −lr·gradient).
 */
async function checkStep(model: tf.LayersModel, b: number, lr: number, tag: string): Promise<void> {
  const shape = model.inputs[0]!.shape.slice(1) as number[];
  const x = tf.tensor(seeded(b * shape.reduce((p, q) => p * q, 1), 7), [b, ...shape]);
  const y = oneHot(b, model.outputs[0]!.shape[1] as number, 3);
  const start = model.getWeights().map((w) => w.clone());
  const n0 = tf.memory().numTensors;
  const got = await onBoth(() => sgdStep(model, start, x, y, lr));
  assert.equal(tf.memory().numTensors, n0, `${tag}: tensors leaked`);
  assert.ok(relErr([got.threaded.loss], [got.single.loss]) <= TOL, `${tag}: loss ${got.threaded.loss} vs ${got.single.loss}`);
  assert.ok(relErr(got.threaded.update, got.single.update) <= TOL, `${tag}: update threaded vs single ${relErr(got.threaded.update, got.single.update)}`);

  model.setWeights(start);
  const r = toRefModel(model, 'categoricalCrossentropy');
  const xs = tensorRows(x);
  const ys = refTargets(y, 'categoricalCrossentropy');
  const wantUpdate = ref.scale(ref.batchGrad(r, xs, ys), -lr);
  assert.ok(relErr([got.threaded.loss], [ref.batchLoss(r, xs, ys)]) <= TOL, `${tag}: loss vs float64`);
  assert.ok(relErr(got.threaded.update, wantUpdate) <= TOL, `${tag}: update vs float64 ${relErr(got.threaded.update, wantUpdate)}`);
  tf.dispose([x, y, ...start]);
}

test('a training step of a small MLP: threaded = single-threaded = float64', async () => {
  const model = mlp({ inputShape: [28, 28, 1], classes: 10, seed: 4 }, [64, 32]);
  await checkStep(model, 16, 0.1, 'mlp');
  model.dispose();
});

test('a training step of a small CNN (Conv2DBackpropFilter override) : threaded = single-threaded = float64', async () => {
  const model = cnn({ inputShape: [12, 12, 1], classes: 4, seed: 5 });
  await checkStep(model, 8, 0.1, 'cnn');
  model.dispose();
});

test('the CNN trains on threaded wasm: the loss falls over a few steps', async () => {
  await tf.setBackend('wasm');
  const model = cnn({ inputShape: [12, 12, 1], classes: 4, seed: 6 });
  const x = tf.tensor(seeded(8 * 144, 9), [8, 12, 12, 1]);
  const y = oneHot(8, 4, 1);
  const opt = tf.train.sgd(0.05);
  const n0 = tf.memory().numTensors;
  const losses = Array.from({ length: 6 }, () => trainStep(model, opt, perExampleLoss('categoricalCrossentropy'), x, y));
  assert.equal(tf.memory().numTensors, n0);
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(losses.at(-1)! < 0.9 * losses[0]!, `loss ${losses[0]} -> ${losses.at(-1)}`);
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
});

test('a threaded start that fails is a rejection with the reason, not a crash or a hang', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-threads-'));
  const worker = (name: string, body: string) => {
    const file = path.join(dir, `${name}.cjs`);
    fs.writeFileSync(file, `module.exports.wasmWorkerContents = ${JSON.stringify(body)};`);
    return file;
  };
  const build = locateThreadedBuild();
  const throws = { ...build, worker: worker('throws', "throw new Error('boom')") };
  const hangs = { ...build, worker: worker('hangs', "require('worker_threads').parentPort.on('message', () => {})") };
  try {
    await assert.rejects(createThreadedWasm({ threads: 2, build: throws }), /a thread worker failed to start: boom/);
    await assert.rejects(createThreadedWasm({ threads: 2, build: hangs, timeoutMs: 1000 }), /did not finish within 1000 ms/);
    await assert.rejects(createThreadedWasm({ threads: 2, build: { ...build, wasm: path.join(dir, 'none.wasm') } }), /missing .*none\.wasm/);
    assert.equal(typeof (globalThis as { Worker?: unknown }).Worker, 'undefined');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // (If the failed starts left workers running, this test file's process would not exit.)
});

/** Runs ES module code in a child Node (TypeScript through tsx) from the repository root. */
function child(code: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
}

test('without SharedArrayBuffer, wasm runs on one thread after exactly one warning line', () => {
  const r = child(`
    delete globalThis.SharedArrayBuffer;
    const { useBackend } = await import('./src/backend/backend.js');
    const { tf } = await import('./src/backend/tf.js');
    const a = await useBackend('wasm', { threads: 2 });
    console.log(JSON.stringify({ name: a.name, threads: a.threads, sum: tf.sum(tf.range(1, 5)).dataSync()[0] }));`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { name: 'wasm', threads: 1, sum: 10 });
  assert.match(r.stderr, /^\S+ warn wasm: cannot start 2 threads \(SharedArrayBuffer is not available\); running on one thread\n$/);
});

test('a process that trained on threaded wasm exits by itself', () => {
  const r = child(`
    const { useBackend } = await import('./src/backend/backend.js');
    const { tf } = await import('./src/backend/tf.js');
    const { cnn } = await import('./src/models/zoo.js');
    const { trainStep } = await import('./src/bench/trainStep.js');
    const { perExampleLoss } = await import('./src/engine/losses.js');
    const a = await useBackend('wasm', { threads: 2 });
    const model = cnn({ inputShape: [12, 12, 1], classes: 4 });
    const loss = trainStep(model, tf.train.sgd(0.1), perExampleLoss('categoricalCrossentropy'), tf.ones([8, 12, 12, 1]), tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32'), 4));
    console.log(JSON.stringify({ threads: a.threads, finite: Number.isFinite(loss) }));`);
  assert.equal(r.signal, null, 'killed by the 60 s timeout: the threads kept it alive');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { threads: 2, finite: true });
});
