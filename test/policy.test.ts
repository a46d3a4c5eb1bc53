import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { z } from 'zod';
import { adascale } from '../policies/adascale.js';
import { constant } from '../policies/constant.js';
import { cosine } from '../policies/cosine.js';
import { describeOptions, getPolicy, parsePolicyOptions, resolvePolicy } from '../policies/index.js';
import { plateau } from '../policies/plateau.js';
import { stepConsistencyLr } from '../policies/stepConsistencyLr.js';
import { UsageError } from '../src/errors.js';
import { createLogger, setLogger, type Logger } from '../src/log.js';
import {
  composePolicies,
  definePolicy,
  guardUpdate,
  initialUpdate,
  policyProgress,
  policyStage,
  policySteps,
  progressOf,
  SIGNAL_WAIT_STEPS,
  type ComposedState,
  type Knobs,
  type Policy,
  type PolicyInput,
  type PolicyUpdate,
} from '../src/policy.js';
import type { MetricSample, StepEvent } from '../src/stream/types.js';
import { epochEvent, runPolicy, sampleEvent, stepEvent } from './policiesStreams.js';

const START: Knobs = { learningRate: 0.1, batchSize: 32 };

function step(n: number, loss: number | null = 1 / (n + 1)): StepEvent {
  return stepEvent(n, { epoch: 0, wallTime: n, batchSize: 32, loss, gradNorm: 1, paramNorm: 1, updateNorm: 0.1, gradDotPrevGrad: null, gradDotPrevUpdate: null, stepMs: 1 });
}

function sample(n: number, kappaW: number | null): MetricSample {
  return sampleEvent(n, 'weightPerturbation', { kappaW }, { epoch: 0, batchSize: 32 });
}

/** Emits whatever `hyper.emit[step]` says on step events; counts events in its state. */
const scripted: Policy<{ seen: number }, { emit: Record<number, PolicyUpdate> }> = {
  name: 'scripted',
  knobs: ['learningRate', 'batchSize'],
  init: () => ({ seen: 0 }),
  update: (e, s, h) => ['group' in e ? null : (h.emit[e.step] ?? null), { seen: s.seen + 1 }],
  validate: (h) => h as { emit: Record<number, PolicyUpdate> },
};

/** Halves the learning rate whenever kappaW exceeds the threshold. */
const lrOnKappa: Policy<null, { threshold: number }> = {
  name: 'lrOnKappa',
  knobs: ['learningRate'],
  init: () => null,
  update: (e, s, h, k) => ['group' in e && (e.values.kappaW ?? 0) > h.threshold ? { learningRate: k.learningRate / 2, reason: 'kappaW high' } : null, s],
  validate: (h) => h as { threshold: number },
};

const batchEvery: Policy<null, { every: number }> = {
  name: 'batchEvery',
  knobs: ['batchSize'],
  init: () => null,
  update: (e, s, h, k) => [!('group' in e) && e.step > 0 && e.step % h.every === 0 ? { batchSize: k.batchSize * 2, reason: 'grow' } : null, s],
  validate: (h) => h as { every: number },
};

let logged: string[] = [];
let prev: Logger | undefined;
before(() => {
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => logged.push(c.toString()));
  prev = setLogger(createLogger({ level: 'warn', stream }));
});
after(() => void setLogger(prev));

describe('constant', () => {
  test('never emits an update', async () => {
    const events: PolicyInput[] = Array.from({ length: 50 }, (_, i) => (i % 3 ? step(i) : sample(i, i)));
    const out = await lastValueFrom(from(events).pipe(policyStage(constant, constant.validate({}), START), toArray()));
    assert.deepEqual(out, []);
  });

  test('rejects options, naming them', () => {
    assert.throws(() => constant.validate({ lr: 1 }), /policy 'constant': unknown option\(s\) lr \(it takes none\)/);
    assert.throws(() => constant.validate(3), UsageError);
    assert.deepEqual(constant.validate(undefined), {});
  });
});

describe('options', () => {
  const demo = definePolicy({
    name: 'demo',
    description: 'a policy for option tests',
    source: 'test',
    knobs: [],
    reads: [],
    options: z
      .strictObject({
        patience: z.int().min(0).default(10).describe('epochs to wait'),
        factor: z.number().gt(0).lt(1).default(0.1).describe('multiplier'),
        mode: z.enum(['min', 'max']).default('min').describe('direction'),
        total: z.number().positive().describe('required length'),
        lo: z.number().default(1).describe('low'),
        hi: z.number().default(2).describe('high'),
      })
      .refine((o) => o.lo < o.hi, { message: "options 'lo' and 'hi': lo must be below hi", path: ['lo'] }),
    init: () => null,
    update: (_e, s) => [null, s],
  });

  test('validate applies defaults and names the bad option with its value', () => {
    assert.deepEqual(demo.validate({ total: 5 }), { patience: 10, factor: 0.1, mode: 'min', total: 5, lo: 1, hi: 2 });
    const fails = (raw: unknown, re: RegExp) => assert.throws(() => demo.validate(raw), (e: Error) => e instanceof UsageError && re.test(e.message), JSON.stringify(raw));
    fails({ total: 5, patience: -1 }, /^policy 'demo': option 'patience' = -1: .*>=0/);
    fails({ total: 5, patience: 1.5 }, /option 'patience' = 1.5/);
    fails({ total: 5, factor: 1 }, /option 'factor' = 1: .*<1/);
    fails({ total: Number.POSITIVE_INFINITY }, /option 'total' = Infinity/);
    fails({ total: Number.NaN }, /option 'total' = NaN/);
    fails({ total: 5, mode: 'up' }, /option 'mode' = "up"/);
    fails({}, /option 'total' is required/);
    fails({ totl: 5 }, /unknown option\(s\) totl \(known: patience, factor, mode, total, lo, hi\)/);
    fails({ total: 5, lo: 3 }, /options 'lo' and 'hi': lo must be below hi/);
    fails('x', /options must be an object/);
  });

  test('parsePolicyOptions: name=value words, dotted names, JSON objects', () => {
    assert.deepEqual(parsePolicyOptions(['patience=3', 'factor=0.5', 'mode=max', 'scaleLr=false', 'minLr=1e-5']), { patience: 3, factor: 0.5, mode: 'max', scaleLr: false, minLr: 1e-5 });
    assert.deepEqual(parsePolicyOptions(['{"patience": 3, "lr": {"k": 1}}', 'lr.m=2']), { patience: 3, lr: { k: 1, m: 2 } });
    assert.deepEqual(parsePolicyOptions(['cosine.total=1000', 'adascale.smoothing=0.9']), { cosine: { total: 1000 }, adascale: { smoothing: 0.9 } });
    assert.deepEqual(parsePolicyOptions([]), {});
    assert.deepEqual(parsePolicyOptions(['name= 12 ', 'x=-.5', 'y=1.', 'z=0x10']), { name: 12, x: -0.5, y: 1, z: '0x10' });
    for (const bad of ['patience', '=3', 'a..b=1', '{"a":', '[1,2]']) assert.throws(() => parsePolicyOptions([bad]), UsageError, bad);
    assert.deepEqual(parsePolicyOptions(['monitor=val loss']), { monitor: 'val loss' }, 'a value may contain spaces');
    assert.throws(() => parsePolicyOptions(['a=1', 'a.b=2']), /conflicts/);
    // The parsed object goes through validate, which keeps its types honest.
    assert.deepEqual(getPolicy('plateau').validate(parsePolicyOptions(['patience=2', 'monitor=loss'])).patience, 2);
    assert.throws(() => getPolicy('plateau').validate(parsePolicyOptions(['patience=soon'])), /option 'patience' = "soon"/);
  });

  test('describeOptions reads names, types, defaults and descriptions from the schema', () => {
    const rows = describeOptions(demo.options);
    assert.deepEqual(rows.map((r) => [r.name, r.type, r.default, r.required]), [
      ['patience', 'integer', 10, false],
      ['factor', 'number', 0.1, false],
      ['mode', 'min|max', 'min', false],
      ['total', 'number', null, true],
      ['lo', 'number', 1, false],
      ['hi', 'number', 2, false],
    ]);
    assert.equal(rows[0].description, 'epochs to wait');
    const nested = describeOptions(getPolicy('conditioned').options).map((r) => r.name);
    assert.ok(nested.includes('lr.patience') && nested.includes('batch.maxBatch'));
  });
});

describe('the guard', () => {
  test('drops non-finite and non-positive values, keeps the valid ones, logs why', () => {
    logged = [];
    const p = { name: 'p', knobs: ['learningRate', 'batchSize'] as const };
    assert.equal(guardUpdate({ learningRate: Number.NaN }, p), null);
    assert.equal(guardUpdate({ learningRate: Number.POSITIVE_INFINITY }, p), null);
    assert.equal(guardUpdate({ learningRate: 0 }, p), null);
    assert.equal(guardUpdate({ learningRate: -1 }, p), null);
    assert.equal(guardUpdate({ batchSize: 0 }, p), null);
    assert.equal(guardUpdate({ batchSize: 12.5 }, p), null);
    assert.equal(guardUpdate({ batchSize: Number.NaN }, p), null);
    assert.deepEqual(guardUpdate({ learningRate: Number.NaN, batchSize: 64, reason: 'r' }, p), { batchSize: 64, reason: 'r' });
    assert.deepEqual(guardUpdate({ learningRate: 0.05 }, p), { learningRate: 0.05 });
    assert.equal(guardUpdate(null, p), null);
    assert.equal(logged.filter((l) => /policy update dropped/.test(l)).length, 8);
    assert.ok(logged.some((l) => /not finite/.test(l) && /policy=p/.test(l)));
  });

  test('drops knobs the policy did not declare', () => {
    assert.equal(guardUpdate({ batchSize: 64 }, { name: 'lrOnly', knobs: ['learningRate'] }), null);
  });
});

describe('policyStage (marbles)', () => {
  const scheduler = () => new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));

  test('constant: events in, nothing out, completion passes through', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('a-b-c-d|', { a: step(0), b: sample(0, 2), c: step(1), d: step(2) });
      expectObservable(src.pipe(policyStage(constant, {}, START))).toBe('-------|');
    });
  });

  test('errors pass through', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<PolicyInput>('a-#', { a: step(0) }, new Error('boom'));
      expectObservable(src.pipe(policyStage(constant, {}, START))).toBe('--#', undefined, new Error('boom'));
    });
  });

  test('updates appear at the events that cause them; bad ones are dropped', () => {
    const hyper = { emit: { 1: { learningRate: 0.05, reason: 'halve' }, 2: { learningRate: Number.NaN }, 3: { batchSize: -4, learningRate: 0.01 } } };
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('a-b-c-d-e|', { a: step(0), b: step(1), c: step(2), d: step(3), e: sample(3, 1) });
      expectObservable(src.pipe(policyStage(scripted, hyper, START))).toBe('--x---y--|', {
        x: { learningRate: 0.05, reason: 'halve' },
        y: { learningRate: 0.01 },
      });
    });
  });

  test('the knobs a policy sees follow its own applied updates; state is per subscription', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('a-b-c|', { a: sample(0, 5), b: sample(1, 5), c: sample(2, 0) });
      const stage = src.pipe(policyStage(lrOnKappa, { threshold: 2 }, START));
      expectObservable(stage).toBe('a-b--|', { a: { learningRate: 0.05, reason: 'kappaW high' }, b: { learningRate: 0.025, reason: 'kappaW high' } });
      expectObservable(stage).toBe('a-b--|', { a: { learningRate: 0.05, reason: 'kappaW high' }, b: { learningRate: 0.025, reason: 'kappaW high' } });
    });
  });

  test('policySteps exposes the state and starts from a restored one', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('a-b|', { a: step(0), b: step(1) });
      expectObservable(src.pipe(policySteps(scripted, { emit: {} }, START, { seen: 10 }))).toBe('a-b|', {
        a: { update: null, state: { seen: 11 }, knobs: START },
        b: { update: null, state: { seen: 12 }, knobs: START },
      });
    });
  });

  test("a fresh start applies the policy's opening update to the knobs; a resumed one does not", () => {
    const hyper = cosine.validate({ total: 100, warmup: 4 });
    assert.deepEqual(initialUpdate(cosine, hyper, START), { learningRate: 0.025, reason: 'cosine warm-up: first step at lr 0.025' });
    const fresh = runPolicy(cosine, hyper, START, [stepEvent(0, { learningRate: 0.025 })]);
    assert.deepEqual(fresh[0].knobs, { learningRate: 0.05, batchSize: 32 }); // after step 0: (1+1)/4 · 0.1
    const resumed = runPolicy(cosine, hyper, START, [sampleEvent(0, 'perExample', {})], cosine.init(hyper, START));
    assert.equal(resumed[0].knobs.learningRate, START.learningRate);
  });
});

describe('signals that never arrive', () => {
  test(`a policy reading a group says so once after ${SIGNAL_WAIT_STEPS} steps without it`, () => {
    const hyper = stepConsistencyLr.validate(undefined);
    const steps = (n: number) => Array.from({ length: n }, (_, i) => stepEvent(i));
    logged = [];
    runPolicy(stepConsistencyLr, hyper, START, steps(SIGNAL_WAIT_STEPS - 1));
    assert.deepEqual(logged, []);
    runPolicy(stepConsistencyLr, hyper, START, steps(3 * SIGNAL_WAIT_STEPS));
    const warnings = logged.filter((l) => /reads the metric group 'update'/.test(l));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /policy=step-consistency-lr/);
    logged = [];
    const withSamples = steps(SIGNAL_WAIT_STEPS + 10).flatMap((e) => (e.step % 50 ? [e] : [e, sampleEvent(e.step, 'update', { descentRatio: null })]));
    runPolicy(stepConsistencyLr, hyper, START, withSamples);
    assert.deepEqual(logged, [], 'a sample with null values still shows the group is on');
  });

  test('a policy waiting for an epoch value (val_loss without validation data) says so once', () => {
    logged = [];
    const events = [1, 2, 3].map((e) => epochEvent(e, e * 10, { valLoss: null }));
    runPolicy(plateau, plateau.validate(undefined), START, events);
    assert.equal(logged.length, 1);
    assert.match(logged[0], /plateau.*val_loss was missing at 1 epoch end\(s\) \(is there validation data\?\)/);
  });
});

describe('composition', () => {
  test('composed policies merge their updates', () => {
    const both = composePolicies([lrOnKappa, batchEvery]);
    assert.equal(both.name, 'lrOnKappa+batchEvery');
    assert.deepEqual([...both.knobs].sort(), ['batchSize', 'learningRate']);
    const hyper = both.validate([{ threshold: 1 }, { every: 2 }]);
    let s = both.init(hyper, START);
    let u: PolicyUpdate | null;
    [u, s] = both.update(sample(2, 3), s, hyper, START);
    assert.deepEqual(u, { learningRate: 0.05, reason: 'kappaW high' });
    [u, s] = both.update(step(2), s, hyper, START);
    assert.deepEqual(u, { batchSize: 64, reason: 'grow' });
    assert.throws(() => both.validate(5), /array of 2/);
    assert.throws(() => both.validate([{}]), /array of 2/);
  });

  test('hyperparameters may be keyed by part name', () => {
    const p = resolvePolicy('adascale+cosine');
    const h = p.validate({ cosine: { total: 50 } }) as unknown[];
    assert.equal((h[1] as { total: number }).total, 50);
    assert.equal((h[0] as { smoothing: number }).smoothing, 0.99);
    assert.throws(() => p.validate({ cosin: {} }), /no part named cosin/);
    assert.throws(() => p.validate({ cosine: { total: -1 } }), /policy 'cosine': option 'total' = -1/);
  });

  test('later parts see the knobs as earlier parts left them', () => {
    const seenBatch: number[] = [];
    const reader: Policy<null, null> = { name: 'reader', knobs: [], init: () => null, validate: () => null, update: (_e, s, _h, k) => (seenBatch.push(k.batchSize), [null, s]) };
    const both = composePolicies([batchEvery, reader]);
    const h = both.validate([{ every: 1 }, null]);
    both.update(step(1), both.init(h, START), h, START);
    assert.deepEqual(seenBatch, [64]);
  });

  test('two policies writing the same knob is an error; a scaler must come first', () => {
    assert.throws(() => composePolicies([lrOnKappa, scripted]), (err: Error) => err instanceof UsageError && /'lrOnKappa' and 'scripted' both write learningRate/.test(err.message));
    assert.throws(() => resolvePolicy('cosine+step'), /'cosine' and 'step' both write learningRate/);
    assert.throws(() => resolvePolicy('cosine+adascale'), /put 'adascale' before 'cosine'/);
    assert.throws(() => resolvePolicy('adascale+goodput'), /both keep the progress clock/);
    assert.throws(() => resolvePolicy('adascale+cosine+step'), /'cosine' and 'step' both write learningRate/);
    assert.doesNotThrow(() => resolvePolicy('noise-scale+adascale+plateau'));
  });

  test('unknown names list the known ones', () => {
    assert.throws(() => getPolicy('nope'), (err: Error) => err instanceof UsageError && /unknown policy 'nope': choose one of constant, step, cosine/.test(err.message));
    assert.throws(() => resolvePolicy('constant+nope'), /unknown policy 'nope'/);
    assert.equal(getPolicy('constant'), constant);
    assert.throws(() => getPolicy('toString'), UsageError);
  });

  test('constant composes with itself (it writes no knob)', () => {
    assert.equal(resolvePolicy('constant+constant').name, 'constant+constant');
  });
});

describe('the progress clock: adascale+cosine', () => {
  test('the default clock counts steps and epochs done', () => {
    assert.deepEqual(progressOf(stepEvent(9, { epoch: 3 })), { steps: 10, epochs: 2 });
    assert.deepEqual(progressOf(epochEvent(2, 80)), { steps: 80, epochs: 2 });
    assert.deepEqual(progressOf(stepEvent(9), { progress: { steps: 4.5, epochs: 0.5 } }), { steps: 4.5, epochs: 0.5 });
  });

  test('the cosine runs on τ and its rate is scaled by the gain, as computed by hand', () => {
    // b₀ = 32, batch 128 (S = 4), lr₀ 0.1, cosine over 10 steps to 1e-5.
    const policy = resolvePolicy('adascale+cosine');
    const hyper = policy.validate({ adascale: { baseBatch: 32 }, cosine: { total: 10, minLr: 1e-5 } });
    const start: Knobs = { learningRate: 0.1, batchSize: 128 };
    const f = (p: number) => 1e-5 + ((0.1 - 1e-5) * (1 + Math.cos((Math.PI * p) / 10))) / 2;
    // σ² = tr Σ / b₀ = 3.2/32 = 0.1, μ² = 0.3: r = (0.1 + 0.3)/(0.1/4 + 0.3) = 16/13.
    const r = 16 / 13;
    const events: PolicyInput[] = [
      stepEvent(0, { batchSize: 128 }), // τ: 0 → 1 at gain 1; no noise estimate yet
      sampleEvent(0, 'perExample', { traceSigma: 3.2, gradSqEstimate: 0.3 }, { batchSize: 128 }),
      stepEvent(1, { batchSize: 128 }), // τ: 1 → 2 at gain 1; the gain becomes r
      stepEvent(2, { batchSize: 128 }), // τ: 2 → 2 + r
    ];
    const out = runPolicy(policy, hyper, start, events);
    const close = (a: number | undefined, b: number) => assert.ok(a !== undefined && Math.abs(a - b) <= 1e-15 * b, `${a} ≈ ${b}`);
    close(out[0].update?.learningRate, f(1));
    assert.equal(out[1].update, null);
    close(out[2].update?.learningRate, r * f(2));
    close(out[3].update?.learningRate, r * f(2 + r));
    const state = out[3].state as ComposedState;
    close(state.baseLearningRate, f(2 + r));
    close(policyProgress(policy, state)?.steps, 2 + r);
    assert.match(out[2].update!.reason!, /AdaScale gain 1 → 1.231/);
    assert.match(out[2].update!.reason!, /cosine at 2 of 10 steps/);
  });

  test('adascale+step advances epochs in scale-invariant units', () => {
    const policy = resolvePolicy('adascale+step');
    const hyper = policy.validate({ adascale: { baseBatch: 32 }, step: { factor: 0.5, every: 1 } });
    const start: Knobs = { learningRate: 0.1, batchSize: 128 };
    const events: PolicyInput[] = [
      sampleEvent(0, 'perExample', { traceSigma: 3.2, gradSqEstimate: 0.3 }, { batchSize: 128 }),
      stepEvent(0, { batchSize: 128 }), // τ += 1 (gain 1), gain → 16/13
      stepEvent(1, { batchSize: 128 }), // τ += 16/13
      epochEvent(1, 2), // one real epoch of 256 examples at scaled worth (32 + 32·16/13)/256 per example
    ];
    const out = runPolicy(policy, hyper, start, events);
    const siEpochs = (1 * (32 + (32 * 16) / 13)) / 256;
    assert.ok(siEpochs < 1);
    const p = policyProgress(policy, out[3].state as ComposedState)!;
    assert.ok(Math.abs(p.epochs - siEpochs) < 1e-15);
    assert.equal(out[3].update, null, 'less than one scale-invariant epoch: the step schedule holds');
  });

  test('adascale under model.fit (no batch size at the start) takes b₀ from the first event', () => {
    const out = runPolicy(adascale, adascale.validate({}), { learningRate: 0.1, batchSize: 0 }, [sampleEvent(0, 'perExample', { traceSigma: 3.2, gradSqEstimate: 0.3 }, { batchSize: 128 }), stepEvent(0, { batchSize: 128 })]);
    assert.equal((out[1].state as { baseBatch: number }).baseBatch, 128);
    assert.equal(out[1].update, null, 'at b₀ the gain is 1');
  });

  test('adascale alone rescales its starting rate', () => {
    const hyper = adascale.validate({ baseBatch: 32 });
    const out = runPolicy(adascale, hyper, { learningRate: 0.1, batchSize: 128 }, [sampleEvent(0, 'perExample', { traceSigma: 3.2, gradSqEstimate: 0.3 }, { batchSize: 128 }), stepEvent(0, { batchSize: 128 })]);
    assert.ok(Math.abs(out[1].update!.learningRate! - 0.1 * (16 / 13)) < 1e-16);
    assert.deepEqual(policyProgress(adascale, out[1].state as never), { steps: 1, epochs: 0 });
  });
});
