/**
 * The metric scheduler under a fake clock: elapsed and step times are passed in, so every
 * decision is deterministic.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SampledGroup } from '../src/metrics/registry.js';
import { MetricScheduler } from '../src/optimizer/schedule.js';

/** Runs `steps` steps of `stepMs` each; a sampled group costs `cost[g]` ms. Returns the samples per group. */
function simulate(s: MetricScheduler, steps: number, stepMs: number, cost: Partial<Record<SampledGroup, number>>) {
  let elapsed = 0;
  const at: Record<string, number[]> = {};
  for (let step = 0; step < steps; step++) {
    elapsed += stepMs;
    for (const g of s.due(step, elapsed, stepMs)) {
      const ms = cost[g] ?? stepMs;
      elapsed += ms;
      s.record(g, step, ms);
      (at[g] ??= []).push(step);
    }
  }
  return { at, elapsed, spent: s.spentMs };
}

describe('metric scheduler', () => {
  test('a cadence samples each group every k steps, from step 0', () => {
    const s = new MetricScheduler(['perExample', 'update'], { kind: 'every', every: { perExample: 3, update: 5 } });
    const { at } = simulate(s, 16, 10, {});
    assert.deepEqual(at.perExample, [0, 3, 6, 9, 12, 15]);
    assert.deepEqual(at.update, [0, 5, 10, 15]);
  });

  test('under a budget every group is sampled once early, one per step from step 1', () => {
    const groups: SampledGroup[] = ['weightPerturbation', 'perExample', 'inputPerturbation'];
    const s = new MetricScheduler(groups, { kind: 'budget', fraction: 0.05 });
    const { at } = simulate(s, 4, 10, { weightPerturbation: 30, perExample: 15, inputPerturbation: 120 });
    assert.deepEqual(at, { weightPerturbation: [1], perExample: [2], inputPerturbation: [3] });
  });

  test('the budget holds over a long run, and every group gets an equal share of it', () => {
    const groups: SampledGroup[] = ['weightPerturbation', 'perExample', 'multiBatch'];
    const cost = { weightPerturbation: 30, perExample: 15, multiBatch: 10 };
    const s = new MetricScheduler(groups, { kind: 'budget', fraction: 0.05 });
    const { at, elapsed, spent } = simulate(s, 4000, 10, cost);
    const first = 30 + 15 + 10; // the first sample of each group is not charged
    assert.ok(spent - first <= 0.05 * elapsed, `spent ${spent} of ${elapsed}`);
    assert.ok(spent - first >= 0.045 * elapsed, `the budget is used: ${spent} of ${elapsed}`);
    // Equal time per group: the sample counts go as 1 / cost (1 : 2 : 3), so cheap groups stay dense.
    const time = groups.map((g) => (at[g].length - 1) * cost[g as keyof typeof cost]);
    for (const t of time) assert.ok(Math.abs(t / time[0]! - 1) < 0.05, `time per group ${JSON.stringify(time)}`);
    assert.ok(at.multiBatch.length > 2.8 * at.weightPerturbation.length, JSON.stringify(groups.map((g) => at[g].length)));
  });

  test('priority groups (those a policy reads) get their share of the budget first', () => {
    const groups: SampledGroup[] = ['update', 'perExample', 'inputPerturbation'];
    const s = new MetricScheduler(groups, { kind: 'budget', fraction: 0.1 }, { priority: ['update'] });
    const { at, elapsed } = simulate(s, 3000, 10, { update: 12, perExample: 15, inputPerturbation: 120 });
    const spentOn = (g: SampledGroup, ms: number) => at[g].length * ms;
    const priority = spentOn('update', 12);
    const rest = spentOn('perExample', 15) + spentOn('inputPerturbation', 120);
    assert.ok(Math.abs(priority / (0.1 * elapsed) - 0.75) < 0.05, `priority share ${(priority / (0.1 * elapsed)).toFixed(3)}`);
    assert.ok(Math.abs(rest / (0.1 * elapsed) - 0.25) < 0.05, `others' share ${(rest / (0.1 * elapsed)).toFixed(3)}`);
    assert.ok(at.update.length > 10 * at.inputPerturbation.length, 'the policy signal arrives far more often');
  });

  test('with only priority groups, they use the whole budget', () => {
    const s = new MetricScheduler(['update'], { kind: 'budget', fraction: 0.1 }, { priority: ['update'] });
    const { elapsed, spent } = simulate(s, 2000, 10, { update: 12 });
    assert.ok(spent >= 0.09 * elapsed && spent <= 0.1 * elapsed + 12, `${spent} of ${elapsed}`);
  });
});
