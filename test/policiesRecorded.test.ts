/**
 * The policies on a recorded stream: the first 160 steps of a real run (`gradcond train
 * --groups full --every 5 --steps 300 --examples 2000 --val-examples 200`: the default MLP,
 * sgd 0.1, batch 64, on the embedded Fashion-MNIST subset), kept in
 * test/fixtures/policy-stream.jsonl with the step events, the update / perExample / multiBatch
 * samples and the epoch ends, numbers rounded to 6 significant digits. Expected decisions are
 * worked out here from the recorded numbers, independently of the policies' code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { cabs } from '../policies/cabs.js';
import { conditioned } from '../policies/conditioned.js';
import { POLICIES } from '../policies/index.js';
import { noiseScale } from '../policies/noiseScale.js';
import { plateau } from '../policies/plateau.js';
import { stepConsistencyLr } from '../policies/stepConsistencyLr.js';
import { createLogger, setLogger, type Logger } from '../src/log.js';
import type { Knobs, PolicyInput } from '../src/policy.js';
import type { MetricSample, StepEvent } from '../src/stream/types.js';
import { runPolicy, updatesOf } from './policiesStreams.js';

const START: Knobs = { learningRate: 0.1, batchSize: 64 };
const EVENTS: PolicyInput[] = readFileSync(new URL('./fixtures/policy-stream.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((line) => {
    const { type: _type, ...event } = JSON.parse(line) as { type: string } & PolicyInput;
    return event as PolicyInput;
  });
const steps = EVENTS.filter((e): e is StepEvent => !('group' in e) && !('kind' in e));
const samples = (group: string) => EVENTS.filter((e): e is MetricSample => 'group' in e && e.group === group);
const stepAt = new Map(steps.map((s) => [s.step, s]));

let logged: string[] = [];
let prev: Logger | undefined;
before(() => {
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => logged.push(c.toString()));
  prev = setLogger(createLogger({ level: 'warn', stream }));
});
after(() => void setLogger(prev));

describe('policies on a recorded stream', () => {
  test('the fixture is what it says', () => {
    assert.equal(steps.length, 161);
    assert.deepEqual([samples('update').length, samples('perExample').length, samples('multiBatch').length], [33, 33, 33]);
    assert.ok(samples('perExample').some((s) => s.values.noiseScale === null), 'it has null values (‖G‖² estimated ≤ 0)');
  });

  test('every policy replays it without a value the guard must drop', () => {
    logged = [];
    const options: Record<string, unknown> = { cosine: { total: 150 }, adascale: { baseBatch: 32 } };
    for (const [name, policy] of Object.entries(POLICIES)) runPolicy(policy, policy.validate(options[name]), START, EVENTS);
    assert.deepEqual(logged.filter((l) => /dropped/.test(l)), []);
  });

  test('plateau (patience 1, ×0.5): val_loss 1.169, 1.092, 0.754, 0.993, 0.915 reduces at epochs 4 and 5', () => {
    const out = runPolicy(plateau, plateau.validate({ patience: 1, factor: 0.5 }), START, EVENTS);
    const u = updatesOf(out, EVENTS);
    assert.deepEqual(u.map((x) => [x.step, x.update.learningRate]), [[128, 0.05], [160, 0.025]]);
  });

  test('cabs: step 0 has loss 2.26605 and tr Σ 116.903, so B = 0.1·116.903/2.26605 = 5.16', () => {
    const out = runPolicy(cabs, cabs.validate({ minBatch: 1 }), START, EVENTS);
    const first = updatesOf(out, EVENTS)[0];
    assert.equal(first.step, 0);
    assert.equal(first.update.batchSize, 5);
    const clamped = updatesOf(runPolicy(cabs, cabs.validate({}), START, EVENTS), EVENTS)[0];
    assert.equal(clamped.update.batchSize, 16, 'the default floor');
  });

  test('noise-scale: the first change, from separately averaged tr Σ and ‖G‖²', () => {
    // Independently: bias-corrected averages, decay 0.99 per step, act from the 3rd sample
    // when round(B) clamped to [16, 1024] and to ×2 of 64 is more than 25% away from 64.
    let [t, g, w, last] = [0, 0, 0, -1];
    let expected: [number, number] | null = null;
    samples('perExample').forEach((s, i) => {
      const d = 0.99 ** (last < 0 ? 1 : s.step - last);
      last = s.step;
      t = d * t + (1 - d) * (s.values.traceSigma as number);
      g = d * g + (1 - d) * (s.values.gradSqEstimate as number);
      w = d * w + (1 - d);
      if (expected || i < 2 || !(g > 0)) return;
      const target = Math.round(Math.min(128, Math.max(32, Math.min(1024, Math.max(16, t / g)))));
      if (Math.abs(target - 64) > 16) expected = [s.step, target];
    });
    assert.ok(expected !== null);
    const first = updatesOf(runPolicy(noiseScale, noiseScale.validate({}), START, EVENTS), EVENTS)[0];
    assert.deepEqual([first.step, first.update.batchSize], expected);
  });

  test('step-consistency-lr: the first decision, from the recorded update samples', () => {
    // Independently: EMAs (decay ½) of descentRatio, cosSimWUpdate and the ceiling
    // ½·lr·‖h̄‖/(L·‖Δ‖) of the same step; shrink when ρ̄ < 0.3, cos̄ < 0 or lr > ceiling, three
    // samples running; the new rate is max(lr/2, ceiling) when the ceiling alone asks.
    const ema = () => ({ b: 0, w: 0, push(x: number) { this.b = 0.5 * this.b + 0.5 * x; this.w = 0.5 * this.w + 0.5; return this.b / this.w; } });
    const [r, c, k] = [ema(), ema(), ema()];
    let run = 0;
    let expected: [number, number] | null = null;
    for (const s of samples('update')) {
      const st = stepAt.get(s.step)!;
      const ratio = r.push(s.values.descentRatio!);
      const cos = c.push(s.values.cosSimWUpdate!);
      const ceiling = k.push((0.5 * st.learningRate * st.gradNorm!) / (s.values.localSmoothness! * st.updateNorm!));
      const shrink = ratio < 0.3 || cos < 0 || 0.1 > ceiling;
      run = shrink ? run + 1 : 0;
      if (run === 3) {
        expected = [s.step, ratio >= 0.3 && cos >= 0 ? Math.max(0.05, ceiling) : 0.05];
        break;
      }
    }
    assert.ok(expected !== null);
    const first = updatesOf(runPolicy(stepConsistencyLr, stepConsistencyLr.validate({}), START, EVENTS), EVENTS)[0];
    assert.equal(first.step, expected[0]);
    assert.ok(Math.abs(first.update.learningRate! - expected[1]) < 1e-12, `${first.update.learningRate} ≈ ${expected[1]}`);
  });

  test('conditioned: without the batch-dissonance samples every rate decision stays as it was', () => {
    const h = conditioned.validate(undefined);
    const lrOnly = EVENTS.filter((e) => !('group' in e) || e.group === 'update');
    const decisions = (events: PolicyInput[]) => updatesOf(runPolicy(conditioned, h, START, events), events).flatMap((u) => (u.update.learningRate !== undefined ? [[u.step, u.update.learningRate]] : []));
    const full = decisions(EVENTS);
    assert.ok(full.length > 0);
    assert.deepEqual(decisions(lrOnly), full);
    const batches = updatesOf(runPolicy(conditioned, h, START, EVENTS), EVENTS).filter((u) => u.update.batchSize !== undefined);
    assert.ok(batches.length > 0, 'and the batch did move on the full stream');
  });
});
