import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf, useBackend } from '../src/backend/backend.js';
import { conditioned } from '../src/optimizer/conditioned.js';
import { probe } from '../src/probe.js';
import type { MetricSample, StepEvent } from '../src/stream/types.js';
import { oneHot, seededTensor, setSeededWeights } from './helpers.js';

const OPTIMIZERS: Record<string, () => tf.Optimizer> = {
  sgd: () => tf.train.sgd(0.1),
  momentum: () => tf.train.momentum(0.05, 0.9),
  adam: () => tf.train.adam(0.01),
  rmsprop: () => tf.train.rmsprop(0.01),
};

function mlp(dropout = 0): tf.Sequential {
  const layers: tf.layers.Layer[] = [tf.layers.dense({ inputShape: [6], units: 8, activation: 'tanh' })];
  if (dropout) layers.push(tf.layers.dropout({ rate: dropout, seed: 1 }));
  layers.push(tf.layers.dense({ units: 3, activation: 'softmax' }));
  const m = tf.sequential({ layers });
  setSeededWeights(m, 4);
  return m;
}

const X = () => seededTensor([40, 6], 9);
const Y = () => oneHot(40, 3, 1);

async function fitWith(optimizer: tf.Optimizer, epochs = 3, metrics: string[] = []): Promise<Float32Array[]> {
  const model = mlp();
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics });
  if ('attach' in optimizer) (optimizer as ReturnType<typeof conditioned>).attach(model);
  const [x, y] = [X(), Y()];
  await model.fit(x, y, { epochs, batchSize: 8, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

describe('conditioned optimizer', () => {
  before(async () => void (await useBackend('cpu')));

  for (const [name, make] of Object.entries(OPTIMIZERS)) {
    test(`drop-in inside model.fit: ${name} gives the same weights bit for bit`, async () => {
      const plain = await fitWith(make());
      const wrapped = await fitWith(conditioned(make(), { every: 2, weightSampling: 'gradient' }));
      plain.forEach((w, i) => assert.deepEqual(wrapped[i], w, `variable ${i}`));
    });
  }

  test('a hand-written minimize loop works and streams steps', () => {
    const model = mlp();
    const opt = conditioned(tf.train.sgd(0.1), { model, loss: 'categoricalCrossentropy', every: 1 });
    const steps: StepEvent[] = [];
    const samples: MetricSample[] = [];
    opt.steps$.subscribe((e) => steps.push(e));
    opt.metrics$.subscribe((s) => samples.push(s));
    const [x, y] = [X(), Y()];
    for (let i = 0; i < 3; i++) {
      opt.setBatch(x, y);
      opt.minimize(() => tf.metrics.categoricalCrossentropy(y, model.apply(x) as tf.Tensor).mean() as tf.Scalar);
    }
    assert.equal(steps.length, 3);
    assert.equal(steps[0].kappaWStep, null);
    assert.ok(steps[2].kappaWStep! > 0);
    // Plain SGD: ‖θ_{t+1} − θ_t‖ = lr ‖h̄_t‖.
    assert.ok(Math.abs(steps[1].updateNorm! - 0.1 * steps[1].gradNorm!) <= 1e-5 * steps[1].updateNorm!);
    assert.equal(new Set(samples.map((s) => s.group)).size, 5);
    for (const s of samples) for (const [k, v] of Object.entries(s.values)) assert.ok(v === null ? s.reasons[k] : Number.isFinite(v), `${s.group}.${k}`);
    opt.dispose();
    tf.dispose([x, y]);
  });

  test('the learning rate is settable for every optimizer kind and changes the step itself', () => {
    for (const [name, make] of Object.entries(OPTIMIZERS)) {
      const run = (lrAfter: number | null) => {
        const model = mlp();
        const opt = lrAfter === null ? make() : conditioned(make(), { groups: 'none' });
        const [x, y] = [X(), Y()];
        const f = () => tf.metrics.categoricalCrossentropy(y, model.apply(x) as tf.Tensor).mean() as tf.Scalar;
        opt.minimize(f);
        if (lrAfter !== null) (opt as ReturnType<typeof conditioned>).learningRate = lrAfter;
        else (opt as unknown as { learningRate: number }).learningRate *= 0.5, (opt as unknown as { setLearningRate?: (l: number) => void }).setLearningRate?.((opt as unknown as { learningRate: number }).learningRate);
        opt.minimize(f);
        tf.dispose([x, y]);
        return model.getWeights().map((w) => Array.from(w.dataSync()));
      };
      const lr0 = (OPTIMIZERS[name]() as unknown as { learningRate: number }).learningRate;
      assert.deepEqual(run(lr0 * 0.5), run(null), name);
    }
  });
});
