import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { of, Subject } from 'rxjs';
import { changes, ema, every, metric, rollingMean, slidingWindow, window } from '../src/stream/operators.js';
import {
  epochEventProblem,
  isEpochEvent,
  isLifecycleEvent,
  isMetricSample,
  isPolicyDecision,
  isStepEvent,
  lifecycleEventProblem,
  metricSampleProblem,
  policyDecisionProblem,
  StepEventSchema,
  stepEventProblem,
  type EpochEvent,
  type MetricSample,
  type Point,
  type PolicyDecision,
  type StepEvent,
} from '../src/stream/types.js';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));
}

function sample(step: number, values: Record<string, number | null>): MetricSample {
  const reasons: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v === null) reasons[k] = 'not enough samples';
  return { step, epoch: 0, wallTime: step * 10, batchSize: 32, learningRate: 0.1, group: 'g', values, reasons, durationMs: 1 };
}

function stepEvent(step: number, over: Partial<StepEvent> = {}): StepEvent {
  return {
    step, epoch: 0, wallTime: step, batchSize: 32, learningRate: 0.1, loss: 1 / (step + 1),
    gradNorm: null, paramNorm: 3, updateNorm: null, kappaWStep: null, gradDotPrevGrad: null, gradDotPrevUpdate: null, stepMs: 2, ...over,
  };
}

/** Close enough for float arithmetic, in marble comparisons. */
function approx(actual: unknown, expected: unknown): void {
  const a = actual as { frame: number; notification: { kind: string; value?: number } }[];
  const e = expected as typeof a;
  assert.equal(a.length, e.length, `${JSON.stringify(a)} vs ${JSON.stringify(e)}`);
  a.forEach((x, i) => {
    assert.equal(x.frame, e[i]!.frame);
    assert.equal(x.notification.kind, e[i]!.notification.kind);
    if (x.notification.kind === 'N') {
      assert.ok(Math.abs(x.notification.value! - e[i]!.notification.value!) < 1e-12, `value ${i}`);
    }
  });
}

test('metric: picks one metric, skips nulls, missing and non-finite values', () => {
  scheduler().run(({ cold, expectObservable }) => {
    const src = cold('a-b-c-d-|', {
      a: sample(0, { kappaW: 2, cos: 0.5 }),
      b: sample(1, { kappaW: null, cos: 0.1 }),
      c: sample(2, { cos: 0.2 }),
      d: sample(3, { kappaW: Number.NaN }),
    });
    expectObservable(src.pipe(metric('kappaW'))).toBe('a-------|', { a: { step: 0, value: 2 } });
    expectObservable(src.pipe(metric('cos'))).toBe('a-b-c---|', {
      a: { step: 0, value: 0.5 }, b: { step: 1, value: 0.1 }, c: { step: 2, value: 0.2 },
    });
  });
});

test('metric: reads numeric fields of step events', () => {
  scheduler().run(({ cold, expectObservable }) => {
    const src = cold('ab|', { a: stepEvent(0, { gradNorm: 4 }), b: stepEvent(1) });
    expectObservable(src.pipe(metric('gradNorm'))).toBe('a-|', { a: { step: 0, value: 4 } });
    expectObservable(src.pipe(metric('loss'))).toBe('ab|', { a: { step: 0, value: 1 }, b: { step: 1, value: 0.5 } });
  });
});

test('metric: empty, error and unsubscription pass through', () => {
  scheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
    expectObservable(cold<MetricSample>('|').pipe(metric('x'))).toBe('|');
    expectObservable(cold<MetricSample>('a-#', { a: sample(0, { x: 1 }) }, new Error('boom')).pipe(metric('x'))).toBe(
      'a-#', { a: { step: 0, value: 1 } }, new Error('boom'),
    );
    const h = hot<MetricSample>('-a-b-c-', { a: sample(0, { x: 1 }), b: sample(1, { x: 2 }), c: sample(2, { x: 3 }) });
    expectObservable(h.pipe(metric('x')), '^--!').toBe('-a-', { a: { step: 0, value: 1 } });
    expectSubscriptions(h.subscriptions).toBe('^--!');
  });
});

test('ema: bias-corrected, first output equals first input', () => {
  // alpha = 0.5: m1 = 0.5*4 = 2 → 2/0.5 = 4; m2 = 0.5*2 + 0.5*8 = 5 → 5/0.75; m3 = 2.5 + 1 = 3.5 → 3.5/0.875
  new TestScheduler(approx).run(({ cold, expectObservable }) => {
    expectObservable(cold('abc|', { a: 4, b: 8, c: 2 }).pipe(ema(0.5))).toBe('abc|', {
      a: 4, b: 5 / 0.75, c: 3.5 / 0.875,
    });
  });
});

test('ema: constant input stays constant; alpha 1 is the identity', () => {
  scheduler().run(({ cold, expectObservable }) => {
    expectObservable(cold('aaa|', { a: 3 }).pipe(ema(0.1))).toBe('abc|', { a: 3, b: 3, c: 3 });
    expectObservable(cold('abc|', { a: 1, b: 7, c: -2 }).pipe(ema(1))).toBe('abc|', { a: 1, b: 7, c: -2 });
  });
});

test('ema: keeps points aligned, ignores non-finite values, each subscription has its own state', () => {
  scheduler().run(({ cold, expectObservable }) => {
    const smooth = ema<Point>(0.5);
    const src = cold('abc|', { a: { step: 0, value: 2 }, b: { step: 5, value: Number.NaN }, c: { step: 9, value: 2 } });
    expectObservable(src.pipe(smooth)).toBe('a-c|', { a: { step: 0, value: 2 }, c: { step: 9, value: 2 } });
    expectObservable(src.pipe(smooth)).toBe('a-c|', { a: { step: 0, value: 2 }, c: { step: 9, value: 2 } });
  });
});

test('ema: empty, error, bad alpha', () => {
  scheduler().run(({ cold, expectObservable }) => {
    expectObservable(cold<number>('---|').pipe(ema(0.3))).toBe('---|');
    expectObservable(cold<number>('a#', { a: 1 }).pipe(ema(0.3))).toBe('a#', { a: 1 });
  });
  assert.throws(() => ema(0), RangeError);
  assert.throws(() => ema(1.5), /alpha/);
});

test('window: full windows by default, partial on request, fresh arrays', () => {
  scheduler().run(({ cold, expectObservable }) => {
    const src = cold('abcd|', { a: 1, b: 2, c: 3, d: 4 });
    expectObservable(src.pipe(window(3))).toBe('--xy|', { x: [1, 2, 3], y: [2, 3, 4] });
    expectObservable(src.pipe(window(3, { partial: true }))).toBe('wxyz|', { w: [1], x: [1, 2], y: [1, 2, 3], z: [2, 3, 4] });
    expectObservable(src.pipe(slidingWindow(1))).toBe('abcd|', { a: [1], b: [2], c: [3], d: [4] });
    expectObservable(cold<number>('ab|', { a: 1, b: 2 }).pipe(window(3))).toBe('--|');
    expectObservable(cold<number>('a#', { a: 1 }).pipe(window(1))).toBe('a#', { a: [1] });
  });
  const seen: number[][] = [];
  of(1, 2, 3).pipe(window(2, { partial: true })).subscribe((w) => seen.push(w));
  assert.deepEqual(seen, [[1], [1, 2], [2, 3]]);
  assert.notEqual(seen[1], seen[2]);
  assert.throws(() => window(0), /integer >= 1/);
  assert.throws(() => window(2.5), RangeError);
});

test('rollingMean: mean of the last n, from the first value', () => {
  scheduler().run(({ cold, expectObservable }) => {
    expectObservable(cold('abcd|', { a: 2, b: 4, c: 9, d: Number.POSITIVE_INFINITY }).pipe(rollingMean(2))).toBe('abc-|', {
      a: 2, b: 3, c: 6.5,
    });
    expectObservable(
      cold('ab|', { a: { step: 3, value: 1 }, b: { step: 4, value: 3 } }).pipe(rollingMean<Point>(5)),
    ).toBe('ab|', { a: { step: 3, value: 1 }, b: { step: 4, value: 2 } });
    expectObservable(cold<number>('|').pipe(rollingMean(2))).toBe('|');
    expectObservable(cold<number>('a#', { a: 5 }).pipe(rollingMean(2))).toBe('a#', { a: 5 });
  });
  assert.throws(() => rollingMean(0), RangeError);
});

test('every: keeps steps that are multiples of k', () => {
  scheduler().run(({ cold, expectObservable }) => {
    const ev = (step: number) => ({ step });
    const src = cold('abcdef|', { a: ev(0), b: ev(1), c: ev(2), d: ev(3), e: ev(4), f: ev(6) });
    expectObservable(src.pipe(every(2))).toBe('a-c-ef|', { a: ev(0), c: ev(2), e: ev(4), f: ev(6) });
    expectObservable(src.pipe(every(1))).toBe('abcdef|', { a: ev(0), b: ev(1), c: ev(2), d: ev(3), e: ev(4), f: ev(6) });
    expectObservable(cold<{ step: number }>('-#').pipe(every(3))).toBe('-#');
  });
  assert.throws(() => every(0), RangeError);
});

test('changes: first event and each change of the key', () => {
  scheduler().run(({ cold, expectObservable }) => {
    const a = stepEvent(0);
    const b = stepEvent(1);
    const c = stepEvent(2, { learningRate: 0.05 });
    const d = stepEvent(3, { learningRate: 0.05 });
    const e = stepEvent(4, { learningRate: 0.1 });
    expectObservable(cold('abcde|', { a, b, c, d, e }).pipe(changes((x: StepEvent) => x.learningRate))).toBe('a-c-e|', { a, c, e });
    expectObservable(cold<StepEvent>('|').pipe(changes((x: StepEvent) => x.step))).toBe('|');
  });
});

test('operators compose on a live subject', () => {
  const s = new Subject<MetricSample>();
  const out: Point[] = [];
  let done = false;
  s.pipe(metric('k'), every(2), rollingMean<Point>(2)).subscribe({ next: (p) => out.push(p), complete: () => (done = true) });
  for (let i = 0; i < 6; i++) s.next(sample(i, { k: i }));
  s.complete();
  assert.deepEqual(out, [{ step: 0, value: 0 }, { step: 2, value: 1 }, { step: 4, value: 3 }]);
  assert.ok(done);
});

test('type guards', () => {
  assert.ok(isStepEvent(stepEvent(0)));
  assert.ok(isMetricSample(sample(0, { a: 1, b: null })));
  assert.ok(!isMetricSample(stepEvent(0)));
  assert.ok(!isStepEvent(sample(0, {})));
  assert.match(stepEventProblem({ ...stepEvent(0), loss: 'x' })!, /loss/);
  assert.match(metricSampleProblem({ ...sample(0, {}), values: { a: '1' } })!, /values\['a'\]/);
  assert.ok(isLifecycleEvent({ kind: 'stop', wallTime: 3, message: 'diverged' }));
  assert.ok(!isLifecycleEvent({ kind: 'pause', wallTime: 3 }));
});

test('validators: the first problem as one line, from the zod schemas', () => {
  assert.equal(stepEventProblem(5), 'must be an object');
  assert.equal(stepEventProblem({ ...stepEvent(0), loss: 'x' }), "field 'loss' must be a number or null");
  const { stepMs: _s, ...noStepMs } = stepEvent(0);
  assert.equal(stepEventProblem(noStepMs), "field 'stepMs' is missing");
  assert.equal(stepEventProblem({ ...stepEvent(0), step: 1.5 }), "field 'step' must be an integer");
  assert.equal(stepEventProblem({ ...stepEvent(0), step: -1 }), "field 'step' must be >= 0");
  assert.equal(stepEventProblem({ ...stepEvent(0), wallTime: Number.NaN }), "field 'wallTime' must be a finite number");
  // Measured quantities may be non-finite on the way in: writers store them as null.
  assert.equal(stepEventProblem({ ...stepEvent(0), loss: Number.NaN, gradNorm: Number.POSITIVE_INFINITY }), null);
  assert.equal(metricSampleProblem({ ...sample(0, {}), reasons: { a: 3 } }), "reasons['a'] must be a string");
  assert.equal(lifecycleEventProblem({ kind: 'pause', wallTime: 3 }), "field 'kind' must be one of start, epoch, end, stop, health, validation");
  assert.ok(isLifecycleEvent({ kind: 'health', wallTime: 3, step: 4, finding: 'loss-spike', message: 'spike' }));
});

test('step events without the newer fields (older traces) are valid and read as null', () => {
  const { gradDotPrevGrad: _g, gradDotPrevUpdate: _u, ...old } = stepEvent(3);
  assert.ok(isStepEvent(old));
  assert.deepEqual(StepEventSchema.parse(old), { ...old, gradDotPrevGrad: null, gradDotPrevUpdate: null });
  assert.deepEqual(StepEventSchema.parse({ ...stepEvent(3), extra: 'kept' }), { ...stepEvent(3), extra: 'kept' });
});

test('epoch events need their structured fields; policy decisions their knobs and reason', () => {
  const e: EpochEvent = { kind: 'epoch', wallTime: 5, step: 6, epoch: 1, loss: 0.5, accuracy: 0.75, valLoss: null, valAccuracy: null };
  assert.ok(isEpochEvent(e));
  const { accuracy: _a, ...partial } = e;
  assert.equal(epochEventProblem(partial), "field 'accuracy' is missing");
  assert.equal(epochEventProblem({ ...e, kind: 'end' }), "field 'kind' must be 'epoch'");
  assert.ok(isLifecycleEvent(partial), 'as a plain lifecycle event (older traces) it is fine');
  const d: PolicyDecision = { step: 4, epoch: 1, wallTime: 9, policy: 'step', before: { learningRate: 0.1, batchSize: 8 }, after: { learningRate: 0.05, batchSize: 8 }, reason: 'epoch 1 done' };
  assert.ok(isPolicyDecision(d));
  assert.equal(policyDecisionProblem({ ...d, after: { learningRate: 0.05 } }), "after['batchSize'] is missing");
  assert.equal(policyDecisionProblem({ ...d, reason: undefined }), "field 'reason' is missing");
});
