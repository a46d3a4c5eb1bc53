/**
 * A run never ends silent or wrong: divergence, dead gradients, health findings, signals,
 * periodic checkpoints, the numbers a run reports at its end, and the CLI's exit codes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { signalHandlers } from '../src/cli/commands/train.js';
import type { Dataset } from '../src/data/dataset.js';
import { epochPermutation } from '../src/data/random.js';
import { syntheticClusters } from '../src/data/synthetic.js';
import { loadModel } from '../src/models/io.js';
import { mlp } from '../src/models/zoo.js';
import type { StepEvent } from '../src/stream/types.js';
import { SUMMARY_FILE } from '../src/trace/format.js';
import { readTrace } from '../src/trace/reader.js';
import type { RunSummary } from '../src/trace/summary.js';
import { readCheckpoint } from '../src/trainer/checkpoint.js';
import { HEALTH_RULES, healthRules, healthStep, initialHealth, type HealthFinding, type HealthState } from '../src/trainer/health.js';
import { train, TrainingDiverged, type TrainOptions } from '../src/trainer/train.js';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** A 4 → 8 → 3 MLP on 96 examples of 3 classes. */
const data = syntheticClusters({ size: 96, inputShape: [4], classes: 3, seed: 1 });
const validation = syntheticClusters({ size: 30, inputShape: [4], classes: 3, seed: 2 });
const model = (seed = 5) => mlp({ inputShape: data.inputShape, classes: data.classes, seed }, [8]);
const BASE: TrainOptions = { batchSize: 16, learningRate: 0.1, seed: 11, metrics: { groups: 'none' } };

let tmp: string;
const runDir = (name: string) => path.join(tmp, name);

before(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-faults-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function allFinite(m: tf.LayersModel): boolean {
  return m.getWeights().every((w) => (w.dataSync() as Float32Array).every(Number.isFinite));
}

function summaryOf(dir: string): RunSummary {
  return JSON.parse(fs.readFileSync(path.join(dir, SUMMARY_FILE), 'utf8')) as RunSummary;
}

/** A step event with the numbers the health rules read. */
function ev(step: number, loss: number, gradNorm = 1, batchSize = 16): StepEvent {
  return { step, epoch: 1, wallTime: step, batchSize, learningRate: 0.1, loss, gradNorm, paramNorm: 1, updateNorm: 0.1, kappaWStep: null, gradDotPrevGrad: null, gradDotPrevUpdate: null, stepMs: 1 };
}

/** Runs the health rules over events; the findings with the step of each. */
function findingsOf(events: StepEvent[], over: Parameters<typeof healthRules>[0] = {}): HealthFinding[] {
  const rules = healthRules(over);
  let state: HealthState = initialHealth();
  const out: HealthFinding[] = [];
  for (const e of events) {
    const r = healthStep(state, e, rules);
    state = r.state;
    out.push(...r.findings);
  }
  return out;
}

describe('health rules', () => {
  test('dead gradient: once per episode, after deadSteps steps at ‖h̄‖ = 0 with the loss at or above its start', () => {
    const events = [ev(0, 2), ...Array.from({ length: 7 }, (_, i) => ev(i + 1, 2.5, 0)), ev(8, 2.5, 1), ...Array.from({ length: 3 }, (_, i) => ev(i + 9, 3, 0))];
    const found = findingsOf(events, { deadSteps: 3 });
    assert.deepEqual(found.map((f) => [f.finding, f.step]), [['dead-gradient', 3], ['dead-gradient', 11]]);
    assert.match(found[0]!.message, /‖h̄‖ ≤ 1e-12 for 3 steps \(since step 1\) with the loss at or above its starting value 2/);
    // A converged model (loss far below its start, no gradient) is not dead.
    assert.deepEqual(findingsOf([ev(0, 2), ...Array.from({ length: 10 }, (_, i) => ev(i + 1, 1e-7, 0))], { deadSteps: 3 }), []);
  });

  test('loss spike: above spikeFactor × the running median, once per episode; short batches not judged', () => {
    const flat = Array.from({ length: 12 }, (_, i) => ev(i, 1 + 0.01 * (i % 3)));
    // median of the 12 losses before step 12: 1.01; 3.04 > 3 × 1.01 = 3.03, 3.02 is not.
    assert.deepEqual(findingsOf([...flat, ev(12, 3.02)]), []);
    const spikes = findingsOf([...flat, ev(12, 3.04), ev(13, 5), ev(14, 1), ev(15, 9, 1, 2), ev(16, 1)], { quietSteps: 2 });
    assert.deepEqual(spikes.map((f) => [f.finding, f.step]), [['loss-spike', 12]], 'step 13 is the same episode; step 15 has a 2-example batch');
    assert.equal(spikes[0]!.message, 'loss spike at step 12: 3.04 is more than 3 × the running median 1.01 of the last 12 losses');
    const again = findingsOf([...flat, ev(12, 4), ev(13, 1), ev(14, 1), ev(15, 4)], { quietSteps: 2 });
    assert.deepEqual(again.map((f) => f.step), [12, 15], 'a new episode after quietSteps calm steps');
    assert.deepEqual(findingsOf(flat.slice(0, 9).concat(ev(9, 50))), [], 'not judged before spikeMinSteps losses');
  });

  test('stalled loss: no 1% improvement of the smoothed loss in stallSteps steps, once until it improves', () => {
    // Constant loss: the smoothed loss never improves on its first value; the finding comes at step stallSteps.
    const flat = Array.from({ length: 30 }, (_, i) => ev(i, 0.7));
    const found = findingsOf(flat, { stallSteps: 10 });
    assert.deepEqual(found.map((f) => [f.finding, f.step]), [['stalled-loss', 10]]);
    assert.equal(found[0]!.message, 'stalled loss: the smoothed loss 0.7 has not improved by 1% in 10 steps (since step 0)');
    // A steadily falling loss (2% per step) never stalls; a loss below stallFloor is not "stalled".
    assert.deepEqual(findingsOf(Array.from({ length: 40 }, (_, i) => ev(i, 0.98 ** i)), { stallSteps: 10 }), []);
    assert.deepEqual(findingsOf(Array.from({ length: 40 }, (_, i) => ev(i, 1e-4)), { stallSteps: 10 }), []);
  });

  test('rule overrides are checked', () => {
    assert.equal(healthRules().deadSteps, HEALTH_RULES.deadSteps);
    assert.throws(() => healthRules({ deadSteps: 0 }), /health rule deadSteps must be a positive number, got 0/);
    assert.throws(() => healthRules({ nope: 1 } as never), /unknown health rule 'nope'/);
  });
});

describe('divergence and dead networks', () => {
  test('a NaN later in the run: TrainingDiverged, the weights and the last checkpoint stay finite, the trace says why', async () => {
    const seed = 11;
    const perm = epochPermutation(data.size, seed, 0);
    const bad = perm[50]!; // position 50: step 3 of epoch 1 (batch 16)
    const poisoned: Dataset = { ...data, x: data.x.map((v, i) => (i === bad * 4 ? Number.NaN : v)) };
    const m = model();
    const dir = runDir('nan-later');
    let err: unknown;
    const tensors = tf.memory().numTensors;
    await train(m, poisoned, { ...BASE, epochs: 1, runDir: dir, checkpointEvery: 2 }).catch((e: unknown) => (err = e));
    assert.equal(tf.memory().numTensors, tensors, 'a diverged run leaves no tensor behind');
    assert.ok(err instanceof TrainingDiverged, String(err));
    assert.deepEqual([err.step, err.epoch, err.quantities[0]], [3, 1, 'loss']);
    assert.match(err.message, /^training diverged: non-finite loss at step 3 \(epoch 1, learning rate 0\.1\); try a smaller learning rate$/);
    assert.equal(err.summary?.status, 'diverged');
    assert.ok(allFinite(m), 'the refused step was undone');
    const ckpt = readCheckpoint(dir)!;
    assert.equal(ckpt.state.step, 2, 'the checkpoint of step 2 stays; nothing was written after the divergence');
    const saved = await loadModel(path.join(ckpt.dir, 'model', 'model.json'));
    assert.ok(allFinite(saved));
    saved.dispose();
    const t = readTrace(dir);
    assert.deepEqual(t.events.slice(-2).map((e) => [e.kind, e.finding ?? null, e.step]), [['health', 'diverged', 3], ['stop', null, 3]]);
    assert.equal(t.steps.at(-1)!.loss, null);
    assert.equal(summaryOf(dir).status, 'diverged');
    m.dispose();
  });

  test('a learning rate of 1e20: stopped at the first step on the non-finite update, no checkpoint', async () => {
    const m = model();
    const dir = runDir('lr1e20');
    await assert.rejects(train(m, data, { ...BASE, learningRate: 1e20, epochs: 2, runDir: dir }), (e: unknown) => {
      assert.ok(e instanceof TrainingDiverged);
      assert.equal(e.step, 0);
      assert.ok(e.quantities.includes('update norm'), e.quantities.join());
      return true;
    });
    assert.ok(allFinite(m));
    assert.equal(readCheckpoint(dir), null);
    m.dispose();
  });

  test('a dead network at lr 1e4: one dead-gradient finding, the run goes on; stopOnDeadGradient stops it with a checkpoint', async () => {
    const m = model();
    const dir = runDir('dead');
    const res = await train(m, data, { ...BASE, learningRate: 1e4, steps: 30, runDir: dir, health: { deadSteps: 5 } });
    assert.equal(res.stopped, null);
    assert.equal(res.steps, 30);
    const dead = readTrace(dir).events.filter((e) => e.kind === 'health');
    assert.equal(dead.length, 1, JSON.stringify(dead));
    assert.equal(dead[0]!.finding, 'dead-gradient');
    const zeroFrom = readTrace(dir).steps.find((s) => s.gradNorm === 0)!.step;
    assert.equal(dead[0]!.step, zeroFrom + 4, 'the fifth consecutive dead step');
    assert.deepEqual(res.summary.health.map((h) => h.finding), ['dead-gradient']);

    const m2 = model();
    const dir2 = runDir('dead-stop');
    const tensors = tf.memory().numTensors;
    const stopped = await train(m2, data, { ...BASE, learningRate: 1e4, steps: 30, runDir: dir2, health: { deadSteps: 5 }, stopOnDeadGradient: true });
    assert.equal(tf.memory().numTensors, tensors, 'a stopped run leaves no tensor behind');
    assert.equal(stopped.stopped, 'dead-gradient');
    assert.equal(stopped.steps, zeroFrom + 5);
    assert.equal(readCheckpoint(dir2)!.state.step, stopped.steps);
    const last = readTrace(dir2).events.at(-1)!;
    assert.equal(last.kind, 'stop');
    assert.match(last.message!, /^dead gradient: /);
    assert.equal(summaryOf(dir2).status, 'stopped');
    [m, m2].forEach((x) => x.dispose());
  });
});

describe('what a run reports', () => {
  test('epoch numbers: loss and accuracy of the epoch from its own forward passes', async () => {
    const m = model();
    const fresh = model();
    const res = await train(m, data, { ...BASE, batchSize: data.size, epochs: 1 });
    // One full-batch step: the epoch's loss and accuracy are those of the initial weights, in float64.
    const probs = tf.tidy(() => fresh.predict(tf.tensor(data.x, [data.size, 4])) as tf.Tensor).arraySync() as number[][];
    let loss = 0;
    let correct = 0;
    probs.forEach((p, i) => {
      loss -= Math.log(Math.min(Math.max(p[data.labels[i]!]!, 1e-7), 1 - 1e-7));
      if (p.indexOf(Math.max(...p)) === data.labels[i]) correct++;
    });
    const e = res.history[0]!;
    assert.ok(Math.abs(e.loss! - loss / data.size) <= 1e-6 * (loss / data.size), `${e.loss} vs ${loss / data.size}`);
    assert.equal(e.accuracy, correct / data.size);
    [m, fresh].forEach((x) => x.dispose());
  });

  test('a steps run ending mid-epoch reports that epoch’s loss and validation at its end', async () => {
    const m = model();
    const dir = runDir('mid-epoch');
    const tensors = tf.memory().numTensors;
    const res = await train(m, data, { ...BASE, steps: 8, validation, runDir: dir, metrics: { groups: 'economy', every: 2 } }); // 6 steps per epoch
    assert.equal(tf.memory().numTensors, tensors);
    const t = readTrace(dir);
    const end = t.events.at(-1)!;
    assert.equal(end.kind, 'end');
    assert.equal(end.epoch, 2);
    const partial = t.steps.filter((s) => s.epoch === 2);
    assert.equal(partial.length, 2);
    const mean = partial.reduce((a, s) => a + s.loss! * s.batchSize, 0) / partial.reduce((a, s) => a + s.batchSize, 0);
    assert.ok(Math.abs(end.loss! - mean) <= 1e-12, `${end.loss} vs ${mean}`);
    // Validation at the final weights, in float64 from the predictions.
    const probs = tf.tidy(() => m.predict(tf.tensor(validation.x, [validation.size, 4])) as tf.Tensor).arraySync() as number[][];
    const valLoss = -probs.reduce((a, p, i) => a + Math.log(Math.min(Math.max(p[validation.labels[i]!]!, 1e-7), 1 - 1e-7)), 0) / validation.size;
    assert.ok(Math.abs(end.valLoss! - valLoss) <= 1e-5 * valLoss, `${end.valLoss} vs ${valLoss}`);
    assert.deepEqual([res.summary.loss.final, res.summary.valLoss.final], [end.loss, end.valLoss]);
    assert.match(end.message!, /^done after 8 steps \(partial epoch 2: loss \d\.\d{4} acc \d\.\d{4} val_loss \d\.\d{4} val_acc \d\.\d{4}\)$/);
    m.dispose();
  });

  test('epoch ends reach the policy after validation, before the next step (plateau on val_loss)', async () => {
    const m = model();
    const dir = runDir('plateau');
    // mode 'max' on val_loss: every epoch whose val_loss does not rise counts as no improvement.
    const policy = { name: 'plateau', options: { monitor: 'val_loss', mode: 'max', patience: 0, factor: 0.5 } };
    const steps: StepEvent[] = [];
    await train(m, data, { ...BASE, epochs: 4, validation, policy, runDir: dir, onStep: (e) => void steps.push(e) });
    const t = readTrace(dir);
    const ends = t.events.filter((e) => e.kind === 'epoch');
    // The expected decisions from the epoch events alone (Keras' rule with patience 0).
    let best = Number.NEGATIVE_INFINITY;
    let lr = 0.1;
    const expected: [number, number, number][] = [];
    for (const e of ends) {
      if (e.valLoss! > best + 1e-4) best = e.valLoss!;
      else {
        expected.push([e.step! - 1, e.epoch!, lr / 2]);
        lr /= 2;
      }
    }
    assert.ok(expected.some(([step]) => step + 1 < steps.length), 'the validation loss fell before the last epoch');
    assert.deepEqual(t.updates.map((u) => [u.step, u.epoch, u.after.learningRate]), expected);
    for (const u of t.updates.filter((x) => x.step + 1 < steps.length)) {
      assert.equal(steps[u.step + 1]!.learningRate, u.after.learningRate, `step ${u.step + 1} runs with the new rate`);
    }
    m.dispose();
  });

  test('time-based checkpoints between the step-count ones', async () => {
    const m = model();
    const dir = runDir('timed');
    const seen: number[] = [];
    await train(m, data, {
      ...BASE,
      steps: 10,
      runDir: dir,
      checkpointSeconds: 0.04,
      onStep: async () => {
        await new Promise((r) => setTimeout(r, 25));
        const c = readCheckpoint(dir);
        if (c) seen.push(c.state.step);
      },
    });
    assert.ok(seen.length >= 3, `checkpoints seen during the run: ${seen.join(' ')}`);
    assert.ok(seen.every((s, i) => s >= 1 && s < 10 && (i === 0 || s >= seen[i - 1]!)), seen.join(' '));
    assert.equal(readCheckpoint(dir)!.state.step, 10);
    m.dispose();
  });

  test('a run directory holding a run: refused, naming --resume and --overwrite; overwrite replaces it', async () => {
    const dir = runDir('occupied');
    const m = model();
    await train(m, data, { ...BASE, steps: 2, runDir: dir });
    await assert.rejects(train(m, data, { ...BASE, steps: 2, runDir: dir }), /already holds a run \(finished after step 1\): continue it with --resume, or replace it with --overwrite/);
    await assert.rejects(train(m, data, { ...BASE, steps: 2, runDir: dir, overwrite: true, resume: true }), /give resume or overwrite, not both/);
    const res = await train(m, data, { ...BASE, steps: 3, seed: 12, runDir: dir, overwrite: true });
    assert.equal(res.steps, 3);
    assert.equal(readTrace(dir).manifest.seed, 12);
    assert.deepEqual(readTrace(dir).steps.map((s) => s.step), [0, 1, 2]);
    m.dispose();
  });
});

/** Runs the CLI in a child process; resolves with its exit code, output, and ms from `kill` to exit. */
function cli(args: string[], kill?: { signal: NodeJS.Signals; when: RegExp }): Promise<{ code: number | null; stdout: string; stderr: string; stopMs: number | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'train', '--backend', 'cpu', '--data', 'synthetic', '--examples', '256', '--val-examples', '64', '--groups', 'none', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let killedAt: number | null = null;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (kill && killedAt === null && kill.when.test(stderr)) {
      killedAt = performance.now();
      child.kill(kill.signal);
    }
  });
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr, stopMs: killedAt === null ? null : performance.now() - killedAt })),
  );
}

describe('the train command', () => {
  test('signals: SIGINT exits 130 and SIGTERM 143, each after a checkpoint, a stop event and a summary', async (t) => {
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      const dir = runDir(`cli-${signal}`);
      const r = await cli(['--steps', '100000', '--run-dir', dir], { signal, when: /epoch 2: loss/ });
      assert.equal(r.code, code, r.stderr);
      t.diagnostic(`${signal}: exited ${r.stopMs!.toFixed(0)} ms after the signal`);
      const trace = readTrace(dir);
      const stop = trace.events.at(-1)!;
      assert.deepEqual([stop.kind, stop.message], ['stop', `aborted (${signal})`]);
      assert.equal(readCheckpoint(dir)!.state.step, trace.steps.length);
      assert.equal(summaryOf(dir).status, 'stopped');
      assert.match(r.stdout, new RegExp(`^stopped \\(aborted \\(${signal}\\)\\): ${trace.steps.length} steps`, 'm'));
    }
  });

  test('a second signal exits at once', () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    let text = '';
    const h = signalHandlers({ target, write: (s) => void (text += s), exit: (c) => void exits.push(c) });
    target.emit('SIGTERM');
    assert.deepEqual([h.abort.aborted, h.abort.reason, h.signal(), exits], [true, 'SIGTERM', 'SIGTERM', []]);
    target.emit('SIGINT');
    assert.deepEqual(exits, [130]);
    assert.match(text, /SIGTERM: stopping after this step.*\n.*SIGINT again: exiting now\n$/);
    h.release();
    assert.equal(target.listenerCount('SIGINT') + target.listenerCount('SIGTERM'), 0);
  });

  test('exit 1 on divergence, 2 on bad input (one line each); the default rate is the optimizer’s', async () => {
    const diverged = await cli(['--lr', '1e20', '--epochs', '1', '--run-dir', runDir('cli-diverged')]);
    assert.equal(diverged.code, 1);
    assert.match(diverged.stderr, /^gradcond: training diverged: non-finite update norm at step 0 \(epoch 1, learning rate 100000000000000000000\); try a smaller learning rate$/m);
    assert.doesNotMatch(diverged.stderr, /    at /, 'no stack trace');
    const occupied = await cli(['--steps', '2', '--run-dir', runDir('cli-diverged')]);
    assert.equal(occupied.code, 2);
    assert.equal(occupied.stderr.trim().split('\n').at(-1), `gradcond: ${runDir('cli-diverged')} already holds a run (stopped after step 0): continue it with --resume, or replace it with --overwrite`);
    const adam = await cli(['--optimizer', 'adam', '--steps', '2', '--overwrite', '--run-dir', runDir('cli-diverged')]);
    assert.equal(adam.code, 0, adam.stderr);
    assert.deepEqual(readTrace(runDir('cli-diverged')).steps.map((s) => s.learningRate), [0.001, 0.001]);
    assert.match(adam.stdout, /^done: 2 steps, 0 epochs, 128 examples in /m);
  });
});
