import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LifecycleEvent, MetricSample, StepEvent } from '../src/stream/types.js';
import type { TraceRecord } from '../src/trace/format.js';
import { traceView } from '../src/trace/reader.js';
import { formatSummary, median, olsSlope, summarize } from '../src/trace/summary.js';

function step(n: number, loss: number | null, over: Partial<StepEvent> = {}): TraceRecord {
  return {
    type: 'step', step: n, epoch: 1, wallTime: 10 * n, batchSize: 8, learningRate: 0.1, loss, gradNorm: 1, paramNorm: 2, updateNorm: 0.1,
    kappaWStep: null, gradDotPrevGrad: null, gradDotPrevUpdate: null, stepMs: 1, ...over,
  };
}

function sample(n: number, group: string, values: Record<string, number | null>, durationMs: number): TraceRecord {
  const reasons: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v === null) reasons[k] = `no ${k} here`;
  const s: MetricSample = { step: n, epoch: 1, wallTime: 10 * n + 1, batchSize: 8, learningRate: 0.1, group, values, reasons, durationMs };
  return { type: 'metric', ...s };
}

function event(e: Omit<LifecycleEvent, 'wallTime'> & { wallTime?: number }): TraceRecord {
  return { type: 'event', wallTime: 10 * (e.step ?? 0), ...e };
}

test('median and least-squares slope against hand values', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(olsSlope([0, 1, 2, 3], [3, 5, 7, 9]), 2);
  // x̄ = 2, ȳ = 2: Σ(x−x̄)(y−ȳ) = −9, Σ(x−x̄)² = 10.
  assert.equal(olsSlope([0, 1, 2, 3, 4], [4, 2, 3, 1, 0]), -0.9);
  assert.equal(olsSlope([5, 5, 5], [1, 2, 3]), null);
});

test('per quantity: first, median, last, nulls and the trend; per group: samples, interval, time', () => {
  const records: TraceRecord[] = [
    event({ kind: 'start', step: 0, wallTime: 0 }),
    step(0, 4),
    sample(0, 'update', { kappaWUpdate: 1, descentRatio: null }, 2),
    sample(0, 'multiBatch', { confusion: null }, 5),
    step(1, 2, { gradNorm: null }),
    step(2, 3),
    step(3, 1),
    sample(3, 'update', { kappaWUpdate: null, descentRatio: null }, 3),
    step(4, 0),
    sample(4, 'update', { kappaWUpdate: 2, descentRatio: null }, 4),
    event({ kind: 'end', step: 5, wallTime: 100 }),
  ];
  const s = summarize(records, { groups: ['update', 'multiBatch', 'inputGradient'] });
  // loss: slope −0.9 over 4 steps = −3.6, relative to the median 2: −1.8.
  assert.deepEqual(s.metrics.loss, { source: 'step', count: 5, nulls: 0, first: 4, median: 2, last: 0, trend: -1.8, direction: 'down' });
  assert.equal(s.metrics.gradNorm!.nulls, 1);
  assert.deepEqual([s.metrics.gradNorm!.trend, s.metrics.gradNorm!.direction], [0, 'flat']);
  assert.deepEqual(s.metrics.kappaWUpdate, {
    source: 'update', count: 2, nulls: 1, first: 1, median: 1.5, last: 2, trend: null, direction: null, trendReason: '2 value(s): a trend needs 3',
  });
  assert.deepEqual(s.groups, { update: { samples: 3, interval: 2, durationMs: 9 }, multiBatch: { samples: 1, interval: null, durationMs: 5 } });
  assert.equal(s.metricTimeMs, 14);
  assert.equal(s.wallTimeMs, 100);
  assert.equal(s.metricTimeFraction, 0.14);
  assert.deepEqual([s.status, s.steps, s.examples, s.epochs], ['done', 5, 40, 0]);
  assert.deepEqual(s.warnings, [
    "metric group 'inputGradient' was enabled but never sampled in 5 steps: give the metrics a larger --budget, or sample every k steps with --every k",
    "metric 'descentRatio' was null at every sample (3): no descentRatio here",
    "metric 'confusion' was null at every sample (1): no confusion here",
  ]);
});

test('final and best of the epoch ends, and of an end event carrying a partial epoch', () => {
  const epoch = (n: number, stepsDone: number, loss: number, valAccuracy: number): TraceRecord =>
    event({ kind: 'epoch', step: stepsDone, epoch: n, loss, accuracy: 0.5, valLoss: loss + 1, valAccuracy });
  const records = [event({ kind: 'start', step: 0 }), epoch(1, 3, 1, 0.5), epoch(2, 6, 0.8, 0.7), epoch(3, 9, 0.9, 0.6)];
  const s = summarize([...records, event({ kind: 'end', step: 9 })]);
  assert.deepEqual([s.loss, s.valAccuracy, s.valLoss, s.epochs], [{ final: 0.9, best: 0.8 }, { final: 0.6, best: 0.7 }, { final: 1.9, best: 1.8 }, 3]);
  const partial = summarize([...records, event({ kind: 'end', step: 10, epoch: 4, loss: 0.95, accuracy: 0.25, valLoss: 2.5, valAccuracy: 0.65 })]);
  assert.deepEqual([partial.loss, partial.accuracy, partial.valLoss, partial.epochs], [{ final: 0.95, best: 0.8 }, { final: 0.25, best: 0.5 }, { final: 2.5, best: 1.8 }, 3]);
  assert.deepEqual(summarize([]).loss, { final: null, best: null });
});

test('a resumed run reads as one history, by the same rule as the reader, and its wall time skips the downtime', () => {
  const records: TraceRecord[] = [
    event({ kind: 'start', step: 0, wallTime: 0 }),
    ...[0, 1, 2, 3, 4, 5].map((n) => step(n, 10 - n)),
    event({ kind: 'epoch', step: 4, epoch: 1, loss: 8, accuracy: null, valLoss: null, valAccuracy: null }),
    sample(4, 'update', { kappaWUpdate: 9 }, 1),
    { type: 'update', step: 4, epoch: 2, wallTime: 45, policy: 'p', before: { learningRate: 1, batchSize: 8 }, after: { learningRate: 2, batchSize: 8 }, reason: 'r' },
    event({ kind: 'health', step: 5, epoch: 2, finding: 'loss-spike', message: 'spike' }),
    // killed at wallTime 50; resumed from the checkpoint of step 4 at wallTime 1000
    event({ kind: 'start', step: 4, wallTime: 1000, message: 'resumed at step 4' }),
    ...[4, 5, 6].map((n) => step(n, 1 / n, { wallTime: 1000 + n })),
    event({ kind: 'end', step: 7, wallTime: 1010 }),
  ];
  const s = summarize(records);
  const view = traceView(records);
  assert.deepEqual(view.steps.map((e) => e.step), [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(s.steps, view.steps.length);
  assert.deepEqual([s.metrics.loss!.first, s.metrics.loss!.last], [10, 1 / 6]);
  assert.equal(s.metrics.loss!.count, 7);
  assert.equal(s.policyUpdates, view.updates.length);
  assert.equal(s.policyUpdates, 0);
  assert.deepEqual(s.health, view.events.filter((e) => e.kind === 'health'));
  assert.deepEqual(s.health, []);
  assert.equal(s.epochs, 1, 'the epoch that ended at the checkpoint stays');
  assert.equal(s.groups.update, undefined, 'the replayed sample is gone (its group never sampled again)');
  assert.equal(s.metrics.kappaWUpdate, undefined);
  assert.equal(s.wallTimeMs, 50 + 10);
});

test('status: diverged, stopped, incomplete', () => {
  const start = event({ kind: 'start', step: 0 });
  const diverged = summarize([start, step(0, null), event({ kind: 'health', step: 0, finding: 'diverged', message: 'training diverged: x' }), event({ kind: 'stop', step: 0, message: 'training diverged: x' })]);
  assert.deepEqual([diverged.status, diverged.stopReason, diverged.steps, diverged.health.length], ['diverged', 'training diverged: x', 1, 1]);
  const stopped = summarize([start, step(0, 1), event({ kind: 'stop', step: 1, message: 'aborted (SIGINT)' })]);
  assert.deepEqual([stopped.status, stopped.stopReason], ['stopped', 'aborted (SIGINT)']);
  const killed = summarize([start, step(0, 1)]);
  assert.equal(killed.status, 'incomplete');
  assert.match(killed.warnings.at(-1)!, /no end or stop event: .*--resume/);
});

test('the human version: outcome, results, metric time, findings and warnings', () => {
  const s = summarize([
    event({ kind: 'start', step: 0, wallTime: 0 }),
    step(0, 2),
    sample(0, 'update', { kappaWUpdate: 1 }, 50),
    step(1, 1),
    event({ kind: 'epoch', step: 2, epoch: 1, loss: 1.5, accuracy: 0.25, valLoss: 1.25, valAccuracy: 0.5 }),
    event({ kind: 'health', step: 1, epoch: 1, finding: 'loss-spike', message: 'loss spike at step 1' }),
    event({ kind: 'stop', step: 2, wallTime: 1000, message: 'aborted (SIGINT)' }),
  ]);
  assert.deepEqual(formatSummary(s), [
    'stopped (aborted (SIGINT)): 2 steps, 1 epochs, 16 examples in 1.0 s',
    'loss 1.5000 (best 1.5000), acc 0.2500 (best 0.2500), val_loss 1.2500 (best 1.2500), val_acc 0.5000 (best 0.5000)',
    'metrics: 0.05 s (5.0% of wall time); update ×1; 0 policy update(s)',
    '  metric        group   first  median  last   trend  samples',
    '  kappaWUpdate  update  1.000  1.000   1.000  —      1',
    'health: loss spike at step 1',
  ]);
});
