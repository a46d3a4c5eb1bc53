import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { ConditionedOptimizer, conditioned } from '../src/optimizer/conditioned.js';
import { NonFiniteStep, UsageError } from '../src/errors.js';
import { probe } from '../src/probe.js';
import type { EpochEvent, MetricSample, StepEvent } from '../src/stream/types.js';
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
    assert.equal(new Set(samples.map((s) => s.group)).size, 6);
    for (const s of samples) for (const [k, v] of Object.entries(s.values)) assert.ok(v === null ? s.reasons[k] : Number.isFinite(v), `${s.group}.${k}`);
    opt.dispose();
    tf.dispose([x, y]);
  });

  test('a learning rate set between steps is the one the next step applies (analytic steps)', () => {
    const model = mlp();
    const [x, y] = [X(), Y()];
    const f = () => tf.metrics.categoricalCrossentropy(y, model.apply(x) as tf.Tensor).mean() as tf.Scalar;
    const weights = () => model.trainableWeights.map((w) => Float64Array.from(w.read().dataSync()));
    const gradient = () => {
      const { grads } = tf.variableGrads(f, model.trainableWeights.map((w) => w.read() as tf.Variable));
      const out = model.trainableWeights.map((w) => Float64Array.from(grads[(w.read() as tf.Variable).name].dataSync()));
      tf.dispose(Object.values(grads));
      return out;
    };
    // SGD: Δθ = −lr · g, with the rate set after construction.
    const sgd = conditioned(tf.train.sgd(0.5), { groups: 'none' });
    sgd.learningRate = 0.03;
    const g = gradient();
    const w0 = weights();
    sgd.minimize(f);
    weights().forEach((w, i) => w.forEach((v, j) => assert.ok(Math.abs(v - (w0[i][j] - 0.03 * g[i][j])) <= 1e-6, `sgd ${i}.${j}`)));
    // Adam's first step: |Δθᵢ| = lr for every coordinate with gᵢ ≠ 0 (m̂/√v̂ = sign g).
    const adam = conditioned(tf.train.adam(0.5), { groups: 'none' });
    adam.learningRate = 0.002;
    const ga = gradient();
    const a0 = weights();
    adam.minimize(f);
    weights().forEach((w, i) =>
      w.forEach((v, j) => {
        if (Math.abs(ga[i][j]) < 1e-6) return;
        assert.ok(Math.abs(Math.abs(v - a0[i][j]) - 0.002) <= 2e-6, `adam ${i}.${j}: |Δθ| = ${Math.abs(v - a0[i][j])}`);
      }),
    );
    // Momentum and RMSProp read the same field: a changed rate changes the step by the same factor.
    for (const make of [() => tf.train.momentum(0.1, 0.9), () => tf.train.rmsprop(0.01)]) {
      const step = (scale: number) => {
        const m = mlp();
        const fm = () => tf.metrics.categoricalCrossentropy(y, m.apply(x) as tf.Tensor).mean() as tf.Scalar;
        const opt = conditioned(make(), { groups: 'none' });
        opt.learningRate *= scale;
        const start = m.trainableWeights.map((w) => Float64Array.from(w.read().dataSync()));
        opt.minimize(fm);
        return m.trainableWeights.map((w, i) => Float64Array.from(w.read().dataSync()).map((v, j) => v - start[i][j]));
      };
      const [full, half] = [step(1), step(0.5)];
      full.forEach((d, i) => d.forEach((v, j) => assert.ok(Math.abs(half[i][j] - 0.5 * v) <= 1e-6 + 1e-5 * Math.abs(v), `${i}.${j}`)));
    }
    tf.dispose([x, y]);
  });
});

describe('conditioned optimizer inside model.fit', () => {
  before(async () => void (await useBackend('cpu')));

  test('the step-consistency metrics of a sampling step equal probe on the same weights and batch', async () => {
    const model = mlp();
    const opt = conditioned(tf.train.sgd(0.1), { model, every: 1, groups: ['weightPerturbation'], weightSampling: 'gradient', eta: 1e-2 });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    const samples: MetricSample[] = [];
    opt.metrics$.subscribe((s) => samples.push(s));
    const [x, y] = [X(), Y()];
    await model.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    // After fit, the weights are those right after the last step, whose batch is the last 8 rows.
    const last = samples.at(-1)!;
    assert.equal(last.step, 4);
    const batch = { x: x.slice(32, 8), y: y.slice(32, 8) };
    const other = { x: x.slice(0, 8), y: y.slice(0, 8) };
    const ref = probe(model, { loss: 'categoricalCrossentropy', batches: [batch, other] }, { eta: 1e-2, n: 4, mask: 1, seed: 0 });
    for (const name of ['kappaW', 'cosSimW', 'diversityW', 'coherenceW']) {
      const got = last.values[name]!;
      const want = ref.metrics[name]!;
      assert.ok(Math.abs(got - want) <= 1e-6 * Math.abs(want), `${name}: ${got} vs probe ${want}`);
    }
    tf.dispose([x, y, batch.x, batch.y, other.x, other.y]);
  });

  test('sees the batch with dropout and compiled metrics, and leaks nothing over 1,000 steps', async () => {
    const model = mlp(0.3);
    const opt = conditioned(tf.train.momentum(0.05, 0.9), { model, every: 25, groups: 'full' });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const samples: MetricSample[] = [];
    opt.metrics$.subscribe((s) => samples.push(s));
    const [x, y] = [X(), Y()];
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 }); // warm-up: lazily made tensors
    const before = tf.memory().numTensors;
    const history = await model.fit(x, y, { epochs: 200, batchSize: 8, verbose: 0, callbacks: opt.callbacks() });
    assert.equal(tf.memory().numTensors, before);
    assert.equal(history.history.acc.length, 200);
    const groups = new Set(samples.map((s) => s.group));
    assert.equal(groups.size, 6);
    // Batch-dissonance metrics were computed on the captured examples, not skipped.
    const coherence = samples.filter((s) => s.group === 'perExample').map((s) => s.values.coherence);
    assert.ok(coherence.length >= 40 && coherence.every((c) => c !== null && Number.isFinite(c)));
    tf.dispose([x, y]);
  });

  test('streams live across fits: a second fit streams too, and epochs end as data; dispose completes them', async () => {
    const model = mlp();
    const opt = conditioned(tf.train.sgd(0.1), { model, groups: 'none' });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    let completed = 0;
    const steps: StepEvent[] = [];
    const epochs: EpochEvent[] = [];
    opt.steps$.subscribe({ next: (e) => steps.push(e), complete: () => completed++ });
    opt.metrics$.subscribe({ complete: () => completed++ });
    opt.epochs$.subscribe({ next: (e) => epochs.push(e), complete: () => completed++ });
    const [x, y] = [X(), Y()];
    const first = await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, callbacks: opt.callbacks() });
    const second = await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, validationSplit: 0.2, callbacks: opt.callbacks() });
    assert.equal(completed, 0);
    assert.equal(steps.length, 5 + 2 * 4, 'every step of both fits');
    assert.deepEqual(steps.map((s) => s.step), Array.from({ length: 13 }, (_, i) => i));
    assert.deepEqual(epochs.map((e) => e.epoch), [1, 1, 2], 'epochs are 1-based, per fit as tfjs counts them');
    assert.equal(epochs[0].loss, first.history.loss[0]);
    assert.equal(epochs[0].accuracy, first.history.acc[0]);
    assert.equal(epochs[0].valLoss, null);
    assert.equal(epochs[2].valLoss, second.history.val_loss[1]);
    assert.equal(epochs[2].valAccuracy, second.history.val_acc[1]);
    assert.equal(steps[0].epoch, 1);
    opt.dispose();
    assert.equal(completed, 3);
    tf.dispose([x, y]);
  });
});

describe('conditioned optimizer: refusals and round trips', () => {
  before(async () => void (await useBackend('cpu')));

  test('bad options are refused when conditioned() is called, one line naming the option', () => {
    const cases: [object, RegExp][] = [
      [{ every: 0 }, /^every must be a positive integer or \{group: positive integer\}.*got 0$/],
      [{ every: -1 }, /^every must be .*got -1$/],
      [{ every: { perExample: 2.5 } }, /^every must be .*got \{"perExample":2.5\}$/],
      [{ groups: 'toString' }, /^groups must be a preset \(none, economy, business, full\) or a list of groups .*got "toString"$/],
      [{ groups: ['perExample', 'kappa'] }, /^groups must be .*"kappa"/],
      [{ eta: -1e-3 }, /^eta must be a positive finite number, got -0.001$/],
      [{ eta: Number.NaN }, /^eta must be a positive finite number, got NaN$/],
      [{ mask: 0 }, /^mask must be a fraction in \(0, 1\], got 0$/],
      [{ mask: 'half' }, /^mask must be a fraction in \(0, 1\], got "half"$/],
      [{ budget: 1.5 }, /^budget must be a fraction in \(0, 1\), got 1.5$/],
      [{ budget: 0.1, every: 3 }, /^give budget or every, not both$/],
      [{ weightSampling: 'sideways' }, /^weightSampling \(--directions\) must be one of gradient, per-example, random, descent, got "sideways"$/],
      [{ subBatches: 1 }, /^subBatches must be an integer ≥ 2, got 1$/],
      [{ loss: 'hinge' }, /^loss must be one of .*got "hinge"$/],
      [{ seed: 1.5 }, /^seed must be an integer, got 1.5$/],
      [{ model: {} }, /^model must be a tf.LayersModel/],
      [{ evry: 3 }, /^unknown option 'evry' for conditioned\(\): known options are model, loss, groups, every/],
      [{ policy: 'no-such-policy' }, /unknown policy 'no-such-policy'/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => conditioned(tf.train.sgd(0.1), options as never), (e: unknown) => e instanceof UsageError && message.test(e.message) && !e.message.includes('\n'), JSON.stringify(options));
    }
    assert.throws(() => conditioned({} as never), UsageError);
  });

  test('a step with a non-finite update is undone and stops training, with its step event', async () => {
    const model = mlp();
    const opt = conditioned(tf.train.sgd(1e38), { model, groups: 'none' });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    const steps: StepEvent[] = [];
    opt.steps$.subscribe((e) => steps.push(e));
    const [x, y] = [X(), Y()];
    const before = model.getWeights().map((w) => w.dataSync().slice());
    await assert.rejects(model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 }), (e: unknown) => e instanceof NonFiniteStep && e.step === 0 && e.quantity === 'update' && /non-finite update at step 0/.test(e.message));
    assert.equal(steps.length, 1);
    assert.equal(steps[0].updateNorm, null);
    model.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), before[i], 'the weights are those before the refused step'));
    tf.dispose([x, y]);
  });

  test('getConfig / fromConfig round trip', () => {
    const opt = conditioned(tf.train.adam(0.004), { every: 3, groups: ['update', 'perExample'], eta: 2e-3, seed: 5 });
    const config = opt.getConfig();
    const back = ConditionedOptimizer.fromConfig(ConditionedOptimizer, config);
    assert.ok(back instanceof ConditionedOptimizer);
    assert.equal(back.learningRate, 0.004);
    assert.equal(back.inner.getClassName(), 'Adam');
    assert.deepEqual(back.options, { every: 3, groups: ['update', 'perExample'], eta: 2e-3, seed: 5 });
    assert.deepEqual(back.getConfig(), config);
    assert.deepEqual(back.sampledGroups, ['update', 'perExample']);
  });

  test('with dropout, the update group recomputes h̄ and L at θ_t in inference mode', () => {
    // The same weights with and without a dropout layer give the same update metrics: the step's own
    // (dropout) gradient is not reused.
    const run = (dropout: number) => {
      const model = mlp(dropout);
      const opt = conditioned(tf.train.sgd(0.3), { model, loss: 'categoricalCrossentropy', every: 1, groups: ['update'] });
      const samples: MetricSample[] = [];
      opt.metrics$.subscribe((s) => samples.push(s));
      const [x, y] = [X(), Y()];
      // A loss closure without dropout, so that both models take the same step.
      const plain = (t: tf.Tensor) => model.layers.filter((l) => l.getClassName() !== 'Dropout').reduce((h, l) => l.apply(h) as tf.Tensor, t);
      opt.setBatch(x, y);
      opt.minimize(() => tf.metrics.categoricalCrossentropy(y, plain(x)).mean() as tf.Scalar);
      tf.dispose([x, y]);
      opt.dispose();
      return samples[0].values;
    };
    const [withDropout, without] = [run(0.5), run(0)];
    for (const k of Object.keys(without)) assert.ok(Math.abs(withDropout[k]! - without[k]!) <= 1e-5 * Math.abs(without[k]!), `${k}: ${withDropout[k]} vs ${without[k]}`);
  });
});

describe('conditioned optimizer: per-step numbers on some steps only (stepMetrics)', () => {
  before(async () => void (await useBackend('cpu')));

  test('stepMetrics k measures the pair k−1, k of every k; the other steps carry the loss only; the weights do not change', () => {
    const run = (k: number) => {
      const model = mlp();
      const opt = conditioned(tf.train.momentum(0.05, 0.9), { model, loss: 'categoricalCrossentropy', groups: 'none', stepMetrics: k });
      const steps: StepEvent[] = [];
      opt.steps$.subscribe((e) => steps.push(e));
      const [x, y] = [X(), Y()];
      for (let i = 0; i < 9; i++) {
        opt.setBatch(x, y);
        opt.minimize(() => tf.metrics.categoricalCrossentropy(y, model.apply(x) as tf.Tensor).mean() as tf.Scalar);
      }
      tf.dispose([x, y]);
      opt.dispose();
      return { steps, weights: model.getWeights().map((w) => Array.from(w.dataSync())) };
    };
    const every = run(1);
    const some = run(4);
    assert.deepEqual(some.weights, every.weights, 'measuring changes nothing');
    assert.deepEqual(some.steps.map((e) => e.partial === true), [false, true, true, false, false, true, true, false, false]);
    some.steps.forEach((e, i) => {
      assert.equal(e.loss, every.steps[i]!.loss, `step ${i}: the loss is read every step`);
      if (e.partial) assert.deepEqual([e.gradNorm, e.paramNorm, e.updateNorm, e.kappaWStep], [null, null, null, null], `step ${i}`);
      else assert.equal(e.gradNorm, every.steps[i]!.gradNorm, `step ${i}: a measured step has the same numbers`);
    });
    // kappaWStep needs the step before: measured at 4 and 8 (after 3 and 7), not at 0 or 3 (after a partial step).
    assert.deepEqual(some.steps.map((e) => e.kappaWStep !== null), [false, false, false, false, true, false, false, false, true]);
    assert.equal(some.steps[4]!.kappaWStep, every.steps[4]!.kappaWStep);
    assert.throws(() => conditioned(tf.train.sgd(0.1), { stepMetrics: 0 }), /^UsageError: stepMetrics \(--step-metrics\) must be a positive integer, got 0$/);
  });
});
