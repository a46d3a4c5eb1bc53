/**
 * The CReLU layer: values and gradients against a hand computation, output shapes, its config,
 * and a model containing it saved and loaded back with identical outputs. No leaks.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { useBackend } from '../src/backend/backend.js';
import { tf } from '../src/backend/tf.js';
import { CReLU, crelu, registerCReLU } from '../src/models/crelu.js';
import { loadModel, saveModel } from '../src/models/io.js';
import { seeded, seededTensor } from './helpers.js';

const relu = (v: number) => (v > 0 ? v : 0);

describe('CReLU', () => {
  let dir = '';
  before(async () => {
    await useBackend('wasm');
    dir = mkdtempSync(join(tmpdir(), 'gradcond-crelu-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('computes [relu(x), relu(−x)] along the last axis', () => {
    const n0 = tf.memory().numTensors;
    const values = [[1.5, -2, 0], [-0.25, 3, -7]];
    const x = tf.tensor2d(values);
    const y = crelu().apply(x) as tf.Tensor;
    const expected = values.map((row) => [...row.map(relu), ...row.map((v) => relu(-v))]);
    assert.deepEqual(y.arraySync(), expected);
    tf.dispose([x, y]);
    assert.equal(tf.memory().numTensors, n0);
  });

  test('on image tensors it doubles the channels, pixel by pixel', () => {
    const n0 = tf.memory().numTensors;
    const x = seededTensor([2, 3, 3, 4], 7);
    const y = new CReLU().apply(x) as tf.Tensor;
    assert.deepEqual(y.shape, [2, 3, 3, 8]);
    const xs = Array.from(x.dataSync());
    const ys = y.dataSync();
    for (let p = 0; p < 2 * 3 * 3; p++) {
      for (let c = 0; c < 4; c++) {
        assert.equal(ys[p * 8 + c], relu(xs[p * 4 + c]));
        assert.equal(ys[p * 8 + 4 + c], relu(-xs[p * 4 + c]));
      }
    }
    tf.dispose([x, y]);
    assert.equal(tf.memory().numTensors, n0);
  });

  test('its gradient is w₁·1[x>0] − w₂·1[x<0] for a weighted sum of its outputs', () => {
    const n0 = tf.memory().numTensors;
    const xs = [0.7, -1.2, 2.5, -0.1];
    const w = [1, 2, 3, 4, -5, 6, -7, 8];
    const x = tf.tensor2d([xs]);
    const wt = tf.tensor2d([w]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(crelu().apply(v) as tf.Tensor, wt)))(x);
    const expected = xs.map((v, i) => (v > 0 ? w[i] : 0) - (v < 0 ? w[4 + i] : 0));
    assert.deepEqual(Array.from(g.dataSync()), expected.map((v) => Math.fround(v)));
    tf.dispose([x, wt, g]);
    assert.equal(tf.memory().numTensors, n0);
  });

  test('output shapes keep unknown dimensions', () => {
    const layer = new CReLU();
    assert.deepEqual(layer.computeOutputShape([null, 5]), [null, 10]);
    assert.deepEqual(layer.computeOutputShape([null, 4, 4, 3]), [null, 4, 4, 6]);
    assert.deepEqual(layer.computeOutputShape([[null, 7]]), [null, 14]);
    assert.deepEqual(layer.computeOutputShape([null, null]), [null, null]);
  });

  test('its config names it, and tfjs rebuilds it from the config by class name', () => {
    const layer = new CReLU({ name: 'my_crelu', trainable: false });
    assert.equal(layer.getClassName(), 'CReLU');
    const config = layer.getConfig();
    assert.equal(config.name, 'my_crelu');
    assert.equal(config.trainable, false);
    registerCReLU();
    registerCReLU(); // twice is harmless
    const [cls] = tf.serialization.SerializationMap.getMap().classNameMap.CReLU;
    assert.equal(cls, CReLU);
    const copy = tf.layers.Layer.fromConfig(CReLU as never, config) as unknown as CReLU;
    assert.ok(copy instanceof CReLU, 'a CReLU');
    assert.equal(copy.name, 'my_crelu');
  });

  test('a model containing it saves in the standard format and loads back with identical outputs', async () => {
    const n0 = tf.memory().numTensors;
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [6], units: 5, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), biasInitializer: 'ones' }),
        crelu(),
        tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
      ],
    });
    await saveModel(model, join(dir, 'm'));
    const json = JSON.parse(readFileSync(join(dir, 'm', 'model.json'), 'utf8'));
    const classes = json.modelTopology.config.layers.map((l: { class_name: string }) => l.class_name);
    assert.deepEqual(classes, ['Dense', 'CReLU', 'Dense']);
    const loaded = await loadModel(join(dir, 'm', 'model.json'));
    assert.equal(loaded.layers[1].getClassName(), 'CReLU');
    const x = tf.tensor2d(seeded(4 * 6, 11), [4, 6]);
    const [a, b] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    model.dispose();
    loaded.dispose();
    assert.equal(tf.memory().numTensors, n0);
  });
});
