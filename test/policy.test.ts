import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { constant } from '../policies/constant.js';
import { getPolicy, POLICIES, resolvePolicy } from '../policies/index.js';
import { UsageError } from '../src/errors.js';
import { createLogger, setLogger, type Logger } from '../src/log.js';
import {
  composePolicies,
  guardUpdate,
  policyStage,
  policySteps,
  type Knobs,
  type Policy,
  type PolicyInput,
  type PolicyUpdate,
} from '../src/policy.js';
import type { MetricSample, StepEvent } from '../src/stream/types.js';

const START: Knobs = { learningRate: 0.1, batchSize: 32 };

function step(n: number, loss: number | null = 1 / (n + 1)): StepEvent {
  return { step: n, epoch: 0, wallTime: n, batchSize: 32, learningRate: 0.1, loss, gradNorm: 1, paramNorm: 1, updateNorm: 0.1, kappaWStep: null, gradDotPrevGrad: null, gradDotPrevUpdate: null, stepMs: 1 };
}

function sample(n: number, kappaW: number | null): MetricSample {
  return { step: n, epoch: 0, wallTime: n, batchSize: 32, learningRate: 0.1, group: 'weightPerturbation', values: { kappaW }, reasons: kappaW === null ? { kappaW: 'test' } : {}, durationMs: 1 };
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

describe('policy conformance (every registered policy)', () => {
  for (const [name, policy] of Object.entries(POLICIES)) {
    test(`${name}: validates, is pure, and its updates are guarded`, () => {
      assert.equal(policy.name, name);
      const hyper = policy.validate(undefined);
      const s0 = policy.init(hyper, START);
      const frozen = JSON.stringify(s0 ?? null);
      const events: PolicyInput[] = [step(0), sample(0, 1.5), step(1, null), sample(1, null), step(2, Number.NaN)];
      let s = s0;
      for (const e of events) {
        const [u, next] = policy.update(e, s, hyper, START);
        if (u !== null) for (const k of ['learningRate', 'batchSize'] as const) if (u[k] !== undefined) assert.ok(policy.knobs.includes(k));
        s = next;
      }
      assert.equal(JSON.stringify(s0 ?? null), frozen, 'update must not mutate its state');
      assert.doesNotThrow(() => JSON.stringify(s));
      assert.throws(() => policy.validate({ noSuchField: 1 }), UsageError);
    });
  }

  test('constant never emits an update', async () => {
    const events: PolicyInput[] = Array.from({ length: 50 }, (_, i) => (i % 3 ? step(i) : sample(i, i)));
    const out = await lastValueFrom(from(events).pipe(policyStage(constant, constant.validate({}), START), toArray()));
    assert.deepEqual(out, []);
  });

  test('constant rejects unknown hyperparameters, naming them', () => {
    assert.throws(() => constant.validate({ lr: 1 }), /unknown hyperparameter\(s\) lr/);
    assert.throws(() => constant.validate(3), UsageError);
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
});

describe('composition and registry', () => {
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
    assert.throws(() => both.validate({}), /array of 2/);
  });

  test('two policies writing the same knob is an error', () => {
    assert.throws(() => composePolicies([lrOnKappa, scripted]), (err: Error) => err instanceof UsageError && /'lrOnKappa' and 'scripted' both write learningRate/.test(err.message));
  });

  test('unknown names list the known ones', () => {
    assert.throws(() => getPolicy('nope'), (err: Error) => err instanceof UsageError && /unknown policy 'nope': choose one of constant/.test(err.message));
    assert.throws(() => resolvePolicy('constant+nope'), /unknown policy 'nope'/);
    assert.equal(getPolicy('constant'), constant);
    assert.throws(() => getPolicy('toString'), UsageError);
  });

  test('constant composes with itself (it writes no knob)', () => {
    assert.equal(resolvePolicy('constant+constant').name, 'constant+constant');
  });
});
