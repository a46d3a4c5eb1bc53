/** A run's outcome read from its directory alone: done, dead (the stated rule), diverged, failed. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DEAD_RULE, FAILURE_FILE, firstReaching, outcomeOf } from '../src/compare/outcome.js';
import type { RunManifest } from '../src/trace/format.js';
import { createRun } from '../src/trace/writer.js';

const root = mkdtempSync(join(tmpdir(), 'gradcond-outcome-'));
after(() => rmSync(root, { recursive: true, force: true }));

const manifest: RunManifest = { config: {}, seed: 0, backend: 'cpu', versions: { gradcond: 't', tfjs: 't', node: 't' }, model: [], startTime: new Date(0).toISOString() };

/** A run of `losses.length` steps of 10 examples, an epoch end every 4 steps with its mean loss and a validation accuracy. */
function run(name: string, losses: number[], opts: { end?: 'end' | 'stop' } = {}): string {
  const dir = join(root, name);
  const w = createRun(dir, manifest);
  losses.forEach((loss, step) => {
    w.step({ step, epoch: Math.floor(step / 4) + 1, wallTime: 10 * step, batchSize: 10, learningRate: 0.1, loss, gradNorm: 1, paramNorm: 1, updateNorm: 0.1, kappaWStep: null, gradDotPrevGrad: null, gradDotPrevUpdate: null, stepMs: 5 });
    if (step % 4 === 3) {
      const epochLosses = losses.slice(step - 3, step + 1);
      const mean = epochLosses.reduce((a, b) => a + b, 0) / 4;
      w.event({ kind: 'epoch', step: step + 1, epoch: (step + 1) / 4, wallTime: 10 * step + 1, loss: mean, accuracy: 0.5, valLoss: mean, valAccuracy: 0.1 * ((step + 1) / 4) });
    }
  });
  if (opts.end === 'stop') w.event({ kind: 'health', finding: 'diverged', step: losses.length, wallTime: 10 * losses.length, message: 'training diverged: non-finite loss' });
  w.event({ kind: opts.end ?? 'end', step: losses.length, wallTime: 10 * losses.length, message: opts.end === 'stop' ? 'training diverged: non-finite loss' : 'done' });
  w.close();
  return dir;
}

describe('run outcomes', () => {
  test('a run whose loss falls is done; time to a target reads its validation points', () => {
    const o = outcomeOf('down', run('down', [2.3, 2, 1.8, 1.5, 1.4, 1.2, 1, 0.9, 0.8, 0.7, 0.6, 0.5]));
    assert.equal(o.status, 'done');
    assert.equal(o.examples, 120);
    assert.equal(o.finalLoss, (0.8 + 0.7 + 0.6 + 0.5) / 4);
    assert.deepEqual(o.validation.map((v) => [v.step, v.examples, v.valAccuracy]), [[4, 40, 0.1], [8, 80, 0.2], [12, 120, 0.30000000000000004]]);
    assert.equal(firstReaching(o, 0.2)?.examples, 80);
    assert.equal(firstReaching(o, 0.9), null);
  });

  test('a run whose loss ends above where it started is dead, though its last quarter fell', () => {
    // Last quarter (steps 9–11): 0.5, 0.6, 9 — median 0.6 < 2.3; but the last epoch's mean 2.7 ≥ 2.3.
    const o = outcomeOf('late', run('late', [2.3, 2, 1.8, 1.5, 1.4, 1.2, 1, 0.9, 0.7, 0.5, 0.6, 9]));
    assert.equal(o.status, 'dead');
    assert.equal(o.reason, DEAD_RULE);
  });

  test('a run stuck at its first loss over its last quarter is dead', () => {
    assert.equal(outcomeOf('flat', run('flat', [2.3, 1, 1, 1, 1, 1, 1, 1, 1, 2.4, 2.4, 2.4, 0.1, 0.1, 0.1, 0.1].slice(0, 12))).status, 'dead');
  });

  test('diverged and failed runs say so; a run that never started reads as failed or incomplete', () => {
    const nan = outcomeOf('nan', run('nan', [2.3, 2, 1.8, 1.5], { end: 'stop' }));
    assert.deepEqual([nan.status, nan.reason], ['diverged', 'training diverged: non-finite loss']);
    const failed = join(root, 'failed');
    rmSync(failed, { recursive: true, force: true });
    run('failed', [2.3, 2, 1.8, 1.5, 1.4, 1.2, 1, 0.9]);
    writeFileSync(join(failed, FAILURE_FILE), JSON.stringify({ message: 'the model has two inputs' }));
    assert.deepEqual([outcomeOf('failed', failed).status, outcomeOf('failed', failed).reason], ['failed', 'the model has two inputs']);
    assert.equal(outcomeOf('never', join(root, 'never')).status, 'incomplete');
  });
});
