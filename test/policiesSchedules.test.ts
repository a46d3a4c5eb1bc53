/**
 * The schedules and the free-signal policies against hand computations: step, cosine, Keras'
 * ReduceLROnPlateau case by case (following keras/src/callbacks/reduce_lr_on_plateau.py),
 * AdaBatch, and hypergradient descent one step at a time in both forms.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adabatch } from '../policies/adabatch.js';
import { cosine, cosineRate } from '../policies/cosine.js';
import { hypergradient } from '../policies/hypergradient.js';
import { plateau } from '../policies/plateau.js';
import { step } from '../policies/step.js';
import { UsageError } from '../src/errors.js';
import type { Knobs, PolicyInput } from '../src/policy.js';
import { epochEvent, runPolicy, sampleEvent, stepEvent, updatesOf } from './policiesStreams.js';

const START: Knobs = { learningRate: 0.1, batchSize: 64 };
const close = (a: number | undefined, b: number, rel = 1e-14) => assert.ok(a !== undefined && Math.abs(a - b) <= rel * Math.abs(b), `${a} ≈ ${b}`);

/** The learning rate after each event (the adapter's knobs). */
function rates(policy: Parameters<typeof runPolicy>[0], hyper: unknown, events: PolicyInput[], start = START): number[] {
  return runPolicy(policy, hyper, start, events).map((s) => s.knobs.learningRate);
}

describe('step', () => {
  test('epoch unit: ×factor at every `every` epoch ends, nothing between', () => {
    const h = step.validate({ factor: 0.5, every: 2 });
    const events: PolicyInput[] = [stepEvent(0), epochEvent(1, 10), stepEvent(10), epochEvent(2, 20), epochEvent(3, 30), epochEvent(4, 40)];
    assert.deepEqual(rates(step, h, events), [0.1, 0.1, 0.1, 0.05, 0.05, 0.025]);
  });

  test('step unit: steps 0…every−1 run at lr₀, then ×factor', () => {
    const h = step.validate({ factor: 0.1, every: 3, unit: 'step' });
    const lrs = rates(step, h, [0, 1, 2, 3, 4, 5].map((t) => stepEvent(t)));
    // After step event t, t+1 steps are done: the rate for step t+1.
    assert.deepEqual(lrs.map((x) => Number(x.toPrecision(12))), [0.1, 0.1, 0.01, 0.01, 0.01, 0.001]);
  });

  test('bad options name the option', () => {
    assert.throws(() => step.validate({ factor: -0.5 }), /option 'factor' = -0.5/);
    assert.throws(() => step.validate({ every: 0 }), /option 'every' = 0/);
    assert.throws(() => step.validate({ unit: 'week' }), /option 'unit' = "week"/);
  });
});

describe('cosine', () => {
  const f = (lr0: number, minLr: number, q: number) => minLr + ((lr0 - minLr) * (1 + Math.cos(Math.PI * q))) / 2;

  test('step unit with warm-up, by hand', () => {
    const h = cosine.validate({ total: 10, warmup: 2, minLr: 0.001 });
    // The first step runs at lr₀·1/2 (initialUpdate); then lr(p) for p steps done.
    const out = runPolicy(cosine, h, START, [0, 1, 2, 3, 9, 10, 11].map((t) => stepEvent(t)));
    // p = 1 < warmup: lr₀·2/2; p = 2: q = 0; p = 3: q = 1/8; p = 4: q = 2/8; p ≥ 10: minLr.
    const expected = [0.1, f(0.1, 0.001, 0), f(0.1, 0.001, 1 / 8), f(0.1, 0.001, 2 / 8), 0.001, 0.001, 0.001];
    out.forEach((s, i) => close(s.knobs.learningRate, expected[i]));
    assert.equal(out.at(-1)!.update, null, 'held at minLr');
  });

  test('epoch unit: changes at epoch ends only', () => {
    const h = cosine.validate({ total: 4, unit: 'epoch' });
    const lrs = rates(cosine, h, [stepEvent(0), epochEvent(1, 10), stepEvent(10), epochEvent(2, 20), epochEvent(4, 40)]);
    assert.deepEqual(lrs.slice(0, 3), [0.1, f(0.1, 1e-5, 0.25), f(0.1, 1e-5, 0.25)]);
    close(lrs[3], f(0.1, 1e-5, 0.5));
    close(lrs[4], 1e-5);
  });

  test('cosineRate is the formula', () => {
    const h = cosine.validate({ total: 100, warmup: 10, minLr: 0.01 });
    close(cosineRate(h, 1, { steps: 4, epochs: 0 }), 0.5);
    close(cosineRate(h, 1, { steps: 55, epochs: 0 }), f(1, 0.01, 0.5));
  });

  test('total is required; the warm-up must be shorter; minLr must be positive', () => {
    assert.throws(() => cosine.validate(undefined), (e: Error) => e instanceof UsageError && /option 'total' is required/.test(e.message));
    assert.throws(() => cosine.validate({ total: 10, warmup: 10 }), /options 'warmup' and 'total'/);
    assert.throws(() => cosine.validate({ total: 10, minLr: 0 }), /option 'minLr' = 0/);
  });
});

describe("plateau (Keras' ReduceLROnPlateau, case by case)", () => {
  /** The rate after each epoch end with the monitored values `vals` (null: missing). */
  function plateauRates(opts: Record<string, unknown>, vals: (number | null)[], monitor = 'valLoss', start = START): number[] {
    const events = vals.map((v, i) => epochEvent(i + 1, (i + 1) * 10, { [monitor]: v }));
    return rates(plateau, plateau.validate(opts), events, start);
  }

  test('patience: the rate drops after `patience` epochs without improvement, and the wait restarts', () => {
    assert.deepEqual(plateauRates({ patience: 2, factor: 0.5 }, [1.0, 0.9, 0.95, 0.95, 0.95, 0.95]), [0.1, 0.1, 0.1, 0.05, 0.05, 0.025]);
  });

  test('patience 0 reduces at the first epoch without improvement', () => {
    assert.deepEqual(plateauRates({ patience: 0, factor: 0.5 }, [1.0, 1.0]), [0.1, 0.05]);
  });

  test('minDelta: an improvement must beat best − minDelta, and the best stays put otherwise', () => {
    // best 1.0; 0.95 and 0.92 are not below 0.9: waits 1, 2 → reduce; 0.85 is: new best.
    const lrs = plateauRates({ patience: 2, factor: 0.5, minDelta: 0.1 }, [1.0, 0.95, 0.92, 0.85, 0.8, 0.76]);
    assert.deepEqual(lrs, [0.1, 0.1, 0.05, 0.05, 0.05, 0.025]);
  });

  test('cooldown: counts down, holds the wait at 0, and counting resumes the epoch it ends', () => {
    assert.deepEqual(plateauRates({ patience: 1, factor: 0.5, cooldown: 2 }, [1, 1, 1, 1, 1, 1]), [0.1, 0.05, 0.05, 0.025, 0.025, 0.0125]);
  });

  test("mode 'auto' is 'max' for accuracy, and 'max' improvements must exceed best + minDelta", () => {
    const acc = plateauRates({ monitor: 'val_accuracy', patience: 2, factor: 0.5 }, [0.5, 0.6, 0.60005, 0.59], 'valAccuracy');
    assert.deepEqual(acc, [0.1, 0.1, 0.1, 0.05]);
    const maxLoss = plateauRates({ mode: 'max', patience: 1, factor: 0.5 }, [1.0, 0.9], 'valLoss');
    assert.deepEqual(maxLoss, [0.1, 0.05], "'max' on a loss: a falling loss is no improvement");
    const trainAcc = plateauRates({ monitor: 'accuracy', patience: 1, factor: 0.5 }, [0.5, 0.7], 'accuracy');
    assert.deepEqual(trainAcc, [0.1, 0.1]);
  });

  test('minLr floor: max(lr·factor, minLr); no reduction once lr ≤ minLr (compared as float32)', () => {
    assert.deepEqual(plateauRates({ patience: 1, factor: 0.1, minLr: 0.02 }, [1, 1, 1, 1]), [0.1, 0.02, 0.02, 0.02]);
    // At lr = minLr = 0.5 (exact in float32) Keras stops reducing and the wait keeps growing.
    const out = runPolicy(plateau, plateau.validate({ patience: 1, factor: 0.5, minLr: 0.5 }), { learningRate: 1, batchSize: 64 }, [1, 1, 1, 1].map((v, i) => epochEvent(i + 1, i, { valLoss: v })));
    assert.deepEqual(out.map((s) => s.knobs.learningRate), [1, 0.5, 0.5, 0.5]);
    assert.deepEqual(out.map((s) => (s.state as { wait: number }).wait), [0, 0, 1, 2]);
  });

  test('missing values are ignored (no wait, no best); the monitor must be a known name', () => {
    assert.deepEqual(plateauRates({ patience: 1, factor: 0.5 }, [1, null, null, 1]), [0.1, 0.1, 0.1, 0.05]);
    assert.throws(() => plateau.validate({ monitor: 'val_acc' }), /option 'monitor' = "val_acc"/);
    assert.throws(() => plateau.validate({ factor: 1 }), /option 'factor' = 1/);
    assert.throws(() => plateau.validate({ patience: -1 }), /option 'patience' = -1/);
  });

  test('steps and samples do not count as epochs', () => {
    const out = runPolicy(plateau, plateau.validate({ patience: 0 }), START, [stepEvent(0), sampleEvent(0, 'update', { descentRatio: 0.1 })]);
    assert.deepEqual(updatesOf(out, []), []);
  });
});

describe('adabatch', () => {
  test('×factor every `every` epochs with the rate scaled by the factor applied, capped at maxBatch', () => {
    const h = adabatch.validate({ factor: 2, every: 1, maxBatch: 192 });
    const out = runPolicy(adabatch, h, START, [epochEvent(1, 10), epochEvent(2, 20), epochEvent(3, 30)]);
    assert.deepEqual(out.map((s) => s.knobs.batchSize), [128, 192, 192]);
    close(out[0].knobs.learningRate, 0.2);
    close(out[1].knobs.learningRate, 0.2 * 1.5);
    assert.equal(out[2].update, null);
  });

  test('the scaled rate stops at maxLr, and the reason says so', () => {
    const out = runPolicy(adabatch, adabatch.validate({ maxLr: 0.3 }), START, [epochEvent(1, 10), epochEvent(2, 20)]);
    assert.deepEqual(out.map((s) => s.knobs), [{ learningRate: 0.2, batchSize: 128 }, { learningRate: 0.3, batchSize: 256 }]);
    assert.match(out[1].update!.reason!, /lr 0.2 → 0.3 \(capped at maxLr 0.3\)$/);
  });

  test('scaleLr false leaves the rate; step unit counts steps', () => {
    const h = adabatch.validate({ every: 2, unit: 'step', scaleLr: false });
    const out = runPolicy(adabatch, h, START, [0, 1, 2, 3].map((t) => stepEvent(t)));
    assert.deepEqual(out.map((s) => s.knobs), [START, { learningRate: 0.1, batchSize: 128 }, { learningRate: 0.1, batchSize: 128 }, { learningRate: 0.1, batchSize: 256 }]);
  });
});

describe('hypergradient', () => {
  const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
  const norm = (a: number[]) => Math.sqrt(dot(a, a));
  // Two gradients and the previous update, float64.
  const gPrev = [0.3, -0.4, 1.2];
  const g = [0.5, 0.1, 0.9];
  const alphaPrev = 0.1;

  /** The two step events: step t−1 took the update Δ at rate α_{t−1}; step t has gradient g. */
  function events(delta: number[]): PolicyInput[] {
    return [
      stepEvent(0, { learningRate: alphaPrev, updateNorm: norm(delta), gradNorm: norm(gPrev), gradDotPrevUpdate: null }),
      stepEvent(1, { learningRate: alphaPrev, updateNorm: 0.05, gradNorm: norm(g), gradDotPrevUpdate: dot(g, delta) }),
    ];
  }

  test('additive, SGD: α + β·∇f_t·∇f_{t−1} (SGD-HD)', () => {
    const delta = gPrev.map((x) => -alphaPrev * x); // plain SGD: Δ = −α g
    const out = runPolicy(hypergradient, hypergradient.validate({}), START, events(delta));
    assert.equal(out[0].update, null, 'nothing before a previous update exists');
    close(out[1].knobs.learningRate, 0.1 + 1e-3 * dot(g, gPrev));
  });

  test('additive, Adam: α + β·∇f_t·m̂/(√v̂+ε) (Adam-HD), β = 1e-7 by default', () => {
    const u = [0.9, -1.0, 1.1]; // Adam's direction m̂/(√v̂+ε)
    const delta = u.map((x) => -alphaPrev * x);
    const out = runPolicy(hypergradient, hypergradient.validate({ optimizer: 'adam' }), START, events(delta));
    close(out[1].knobs.learningRate, 0.1 + 1e-7 * dot(g, u), 1e-12);
  });

  test('multiplicative: α·(1 + β·cos(∇f_t, u_{t−1}))', () => {
    const u = [0.9, -1.0, 1.1];
    const delta = u.map((x) => -alphaPrev * x);
    const out = runPolicy(hypergradient, hypergradient.validate({ form: 'multiplicative' }), START, events(delta));
    close(out[1].knobs.learningRate, 0.1 * (1 + 0.02 * (dot(g, u) / (norm(g) * norm(u)))));
    assert.match(out[1].update!.reason!, /cos\(∇f_t, u_t−1\) 0\.\d+: lr 0.1 → /);
  });

  test('bounds hold; null signals are skipped', () => {
    const h = hypergradient.validate({ beta: 10, maxLr: 0.3 });
    const delta = gPrev.map((x) => -alphaPrev * x);
    assert.equal(runPolicy(hypergradient, h, START, events(delta))[1].knobs.learningRate, 0.3);
    const down = runPolicy(hypergradient, hypergradient.validate({ beta: 10, minLr: 0.01 }), START, events(gPrev.map((x) => alphaPrev * x)));
    assert.equal(down[1].knobs.learningRate, 0.01);
    const blank = runPolicy(hypergradient, hypergradient.validate({}), START, [stepEvent(0), stepEvent(1, { gradDotPrevUpdate: null })]);
    assert.deepEqual(updatesOf(blank, []), []);
    assert.throws(() => hypergradient.validate({ minLr: 1, maxLr: 0.5 }), /options 'minLr' and 'maxLr'/);
    assert.throws(() => hypergradient.validate({ beta: -1 }), /option 'beta' = -1/);
  });
});
