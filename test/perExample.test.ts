import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { perExampleLoss } from '../src/engine/losses.js';
import { createMask } from '../src/engine/mask.js';
import { diffNormsSq, disposePass, gram, materialize, meanGradient, perExamplePass } from '../src/engine/perExample.js';
import { relErr, oneHot, seededTensor, setSeededWeights } from './helpers.js';

type Act = 'relu' | 'tanh' | 'sigmoid' | 'linear' | 'softmax';
const ACTS: Act[] = ['relu', 'tanh', 'sigmoid', 'linear'];

function denseModel(act: Act, useBias: boolean): tf.LayersModel {
  return tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [5], units: 4, activation: act, useBias }),
    tf.layers.dense({ units: 3, activation: 'softmax', useBias }),
  ] });
}

function convModel(act: Act, useBias: boolean): tf.LayersModel {
  return tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [9, 8, 2], filters: 3, kernelSize: 3, activation: act, useBias }),
    tf.layers.conv2d({ filters: 2, kernelSize: [2, 3], strides: 2, padding: 'same', activation: act, useBias }),
    tf.layers.conv2d({ filters: 2, kernelSize: [1, 2], strides: [1, 2], activation: act, useBias }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 3, activation: 'softmax', useBias }),
  ] });
}

const loss = perExampleLoss('categoricalCrossentropy');

function compare(model: tf.LayersModel, inputShape: number[], b = 5): void {
  setSeededWeights(model, 3);
  const x = seededTensor([b, ...inputShape], 11);
  const y = oneHot(b, 3);
  const fast = perExamplePass(model, loss, x, y);
  const slow = perExamplePass(model, loss, x, y, { forceLoop: true });
  assert.equal(fast.path, 'batched');
  assert.equal(slow.path, 'loop');
  const [hf, hs, gf, gs] = [materialize(fast), materialize(slow), gram(fast), gram(slow)];
  const [mf, ms] = [meanGradient(fast), meanGradient(slow)];
  assert.ok(relErr(hf.dataSync(), hs.dataSync()) <= 1e-5, `per-example grads ${relErr(hf.dataSync(), hs.dataSync())}`);
  assert.ok(relErr(gf.dataSync(), gs.dataSync()) <= 1e-5, 'gram');
  assert.ok(relErr(mf.dataSync(), ms.dataSync()) <= 1e-5, 'mean gradient');
  assert.ok(relErr(fast.inputGrads!.dataSync(), slow.inputGrads!.dataSync()) <= 1e-5, 'input grads');
  assert.ok(relErr(fast.losses.dataSync(), slow.losses.dataSync()) <= 1e-5, 'losses');
  // The batch gradient from tfjs' own autodiff of the mean loss.
  const { grads } = tf.variableGrads(() => loss(y, model.apply(x) as tf.Tensor).mean() as tf.Scalar);
  const auto = tf.concat(model.trainableWeights.map((w) => grads[(w.read() as tf.Variable).name].reshape([-1])));
  assert.ok(relErr(mf.dataSync(), auto.dataSync()) <= 1e-5, 'mean gradient vs autodiff');
  tf.dispose([hf, hs, gf, gs, mf, ms, auto, x, y, ...Object.values(grads)]);
  disposePass(fast);
  disposePass(slow);
}

for (const backend of ['cpu', 'wasm']) {
  describe(`per-example engine on ${backend}`, () => {
    test('setup', async () => {
      await useBackend(backend);
    });
    for (const act of ACTS) {
      for (const useBias of [true, false]) {
        test(`dense ${act} bias=${useBias}`, () => compare(denseModel(act, useBias), [5]));
        test(`conv2d ${act} bias=${useBias}`, () => compare(convModel(act, useBias), [9, 8, 2]));
      }
    }
    test('masked gram and differences agree with materialised vectors', () => {
      const model = denseModel('tanh', true);
      setSeededWeights(model, 5);
      const sizes = model.trainableWeights.map((w) => w.read().size);
      const mask = createMask(sizes, 0.3, 7)!;
      const x = seededTensor([4, 5], 2);
      const x2 = x.add(0.01);
      const y = oneHot(4, 3);
      const p0 = perExamplePass(model, loss, x, y);
      const p1 = perExamplePass(model, loss, x2, y);
      const h0 = materialize(p0, mask);
      const h1 = materialize(p1, mask);
      assert.equal(h0.shape[1], mask.indices.length);
      const g = gram(p0, mask);
      const ref = tf.matMul(h0, h0, false, true);
      assert.ok(relErr(g.dataSync(), ref.dataSync()) <= 1e-6);
      const d = diffNormsSq(p0, p1);
      const dref = materialize(p1).sub(materialize(p0)).square().sum(1);
      assert.ok(relErr(d.dataSync(), dref.dataSync()) <= 1e-3, `diff ${relErr(d.dataSync(), dref.dataSync())}`);
      tf.dispose([x, x2, y, h0, h1, g, ref, d, dref]);
      disposePass(p0);
      disposePass(p1);
    });
    test('no tensor leak', () => {
      const model = convModel('relu', true);
      const x = seededTensor([3, 9, 8, 2], 1);
      const y = oneHot(3, 3);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) {
        const p = perExamplePass(model, loss, x, y);
        tf.dispose([gram(p), meanGradient(p), materialize(p)]);
        disposePass(p);
      }
      assert.equal(tf.memory().numTensors, before);
      tf.dispose([x, y]);
    });
  });
}
after(() => tf.disposeVariables());
