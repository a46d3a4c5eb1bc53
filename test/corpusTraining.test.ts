/**
 * Corpus, training faults with real processes and real signals: divergence (a learning rate of
 * 1e20 for every optimizer on an MLP and a CNN, weights that overflow, a schedule that explodes
 * after checkpoints, NaN data, model.fit with the wrapper), a dead network, SIGINT and SIGTERM
 * during `train` (and `compare`), a second Ctrl-C, a kernel the backend lacks. A diverged run
 * exits 1 with one line and never writes a non-finite weight: the last finite checkpoint stays,
 * byte for byte.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import type { Dataset } from '../src/data/dataset.js';
import { epochPermutation } from '../src/data/random.js';
import { syntheticClusters } from '../src/data/synthetic.js';
import { NonFiniteStep } from '../src/errors.js';
import { loadModel } from '../src/models/io.js';
import { mlp } from '../src/models/zoo.js';
import { conditioned } from '../src/optimizer/conditioned.js';
import type { StepEvent } from '../src/stream/types.js';
import { SUMMARY_FILE } from '../src/trace/format.js';
import { readTrace } from '../src/trace/reader.js';
import type { RunSummary } from '../src/trace/summary.js';
import { readCheckpoint, writeCheckpoint } from '../src/trainer/checkpoint.js';
import { train, TrainingDiverged, type TrainOptions } from '../src/trainer/train.js';
import { absent, type CliCase, cliSuite, withFlags } from './corpus/cliCase.js';
import { buildFixtures, type Fixtures } from './corpus/fixtures.js';
import { assertRefused, assertUnchanged, cli, gradcondLines, reportOf, script, snapshot, TINY } from './corpus/harness.js';

let fx: Fixtures;
before(async () => {
  await useBackend('cpu');
  fx = await buildFixtures('training', { models: true, data: true, runs: false });
});
after(() => fx.cleanup());

const summaryOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, SUMMARY_FILE), 'utf8')) as RunSummary;
const finite = (m: tf.LayersModel) => m.getWeights().every((w) => (w.dataSync() as Float32Array).every(Number.isFinite));

/** The model of a run directory's checkpoint has only finite weights. */
async function checkpointFinite(dir: string): Promise<boolean> {
  const m = await loadModel(path.join(readCheckpoint(dir)!.dir, 'model', 'model.json'));
  const ok = finite(m);
  m.dispose();
  return ok;
}

/** A diverged run: its trace ends with the 'diverged' finding and the stop, its summary says so, no checkpoint. */
function assertDiverged(dir: string, opts: { checkpoint: boolean }): void {
  const t = readTrace(dir);
  assert.deepEqual(t.events.slice(-2).map((e) => [e.kind, e.finding ?? null]), [['health', 'diverged'], ['stop', null]]);
  assert.equal(summaryOf(dir).status, 'diverged');
  if (!opts.checkpoint) assert.ok(absent(path.join(dir, 'checkpoint')), 'no checkpoint of a run that diverged at its first step');
}

// --- Divergence on the command line -------------------------------------------------------

const LR_1E20 = /^training diverged: non-finite (update norm|parameter norm|gradient norm|loss) at step 0 \(epoch 1, learning rate 100000000000000000000\); try a smaller learning rate$/;

/** `--lr 1e20` for each optimizer, on the tiny MLP and on a small CNN. */
const divergenceCases: CliCase[] = (['sgd', 'momentum', 'adam', 'rmsprop'] as const).flatMap((optimizer) =>
  (['mlp', 'cnn'] as const).map((model): CliCase => {
    let dir = '';
    return {
      name: `--lr 1e20 with ${optimizer} on ${model === 'mlp' ? 'an MLP' : 'a CNN'}`,
      args: (f) => {
        dir = f.out(`lr-${optimizer}-${model}`);
        return ['train', ...withFlags(TINY, ['--model', model, '--width', model === 'cnn' ? '2' : '8']), '--optimizer', optimizer, '--lr', '1e20', '--steps', '3', '--run-dir', dir];
      },
      code: 1,
      line: LR_1E20,
      check: () => assertDiverged(dir, { checkpoint: false }),
    };
  }),
);

const oneDir: { dir: string } = { dir: '' };
const moreCases: CliCase[] = [
  {
    name: 'a saved model whose finite weights overflow float32: diverged at step 0, no checkpoint',
    args: (f) => ['train', '--model', f.model('huge28'), '--backend', 'cpu', '--data', 'synthetic', '--examples', '64', '--val-examples', '16', '--batch-size', '16', '--groups', 'none', '--steps', '3', '--run-dir', (oneDir.dir = f.out('huge'))],
    code: 1,
    line: 'training diverged: non-finite loss at step 0 (epoch 1, learning rate 0.1); try a smaller learning rate',
    check: () => assertDiverged(oneDir.dir, { checkpoint: false }),
  },
];

/** A schedule that multiplies the rate by 1e30 every step, checkpointing every step: it diverges after checkpoints were written. */
let scheduleDir = '';
moreCases.push({
  name: 'a schedule that explodes after checkpoints: exit 1, the last checkpoint is that of the step before, all finite',
  args: (f) => ['train', ...TINY, '--steps', '50', '--checkpoint-every', '1', '--policy', 'step', '--policy-opt', 'factor=1e30', '--policy-opt', 'every=1', '--policy-opt', 'unit=step', '--run-dir', (scheduleDir = f.out('schedule'))],
  code: 1,
  line: /^training diverged: non-finite (update norm|parameter norm|gradient norm|loss) at step [1-9]\d* \(epoch 1, learning rate [\d.]+e\+\d+\); try a smaller learning rate$/,
  check: () => {
    assertDiverged(scheduleDir, { checkpoint: true });
    const t = readTrace(scheduleDir);
    const bad = t.steps.at(-1)!.step;
    assert.equal(readCheckpoint(scheduleDir)!.state.step, bad, 'the checkpoint after the last finite step stays');
    assert.ok(t.updates.length >= 1, 'the schedule raised the rate');
  },
});

let deadDir = '';
moreCases.push({
  name: 'a learning rate of 1e4 kills the network: --stop-on-dead-gradient stops it, exit 1, one line, a finite checkpoint',
  args: (f) => ['train', ...TINY, '--lr', '1e4', '--steps', '200', '--stop-on-dead-gradient', '--run-dir', (deadDir = f.out('dead'))],
  code: 1,
  line: /^stopped: dead gradient: ‖h̄‖ ≤ 1e-12 for 20 steps \(since step \d+\) with the loss at or above its starting value [\d.]+: the network has stopped learning$/,
  check: () => {
    const t = readTrace(deadDir);
    assert.equal(t.events.at(-1)!.kind, 'stop');
    assert.equal(readCheckpoint(deadDir)!.state.step, t.steps.length);
    assert.equal(summaryOf(deadDir).status, 'stopped');
  },
});

let embeddingDir = '';
moreCases.push({
  name: 'an Embedding on the default backend: the backend to use is named before anything is written',
  args: (f) => ['train', '--model', f.model('embedding4'), '--data', 'csv', '--data-file', f.file('ints.csv'), '--batch-size', '8', '--groups', 'none', '--steps', '2', '--run-dir', (embeddingDir = f.out('embedding'))],
  code: 2,
  line: "the wasm backend has no 'UnsortedSegmentSum' kernel, which this model needs: run with --backend cpu",
  check: () => assert.ok(absent(embeddingDir), 'no run directory'),
});
moreCases.push({
  name: 'zoo flags with a saved model: refused, not ignored',
  args: (f) => ['train', '--model', f.model('mlp28'), '--width', '8', '--backend', 'cpu', '--data', 'synthetic', '--steps', '2', '--run-dir', f.out('zoo-flags')],
  code: 2,
  line: /^--width shapes a zoo model, not a saved one \(.*mlp28\/model\.json\)$/,
});

cliSuite('corpus: runs that diverge or die, on the command line', () => fx, [...divergenceCases, ...moreCases]);

test('the backend named in the message works: the Embedding trains on cpu', async () => {
  const dir = fx.out('embedding-cpu');
  const run = await cli(['train', '--model', fx.model('embedding4'), '--backend', 'cpu', '--data', 'csv', '--data-file', fx.file('ints.csv'), '--batch-size', '8', '--groups', 'none', '--steps', '2', '--run-dir', dir]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(readTrace(dir).steps.length, 2);
});

// --- Signals ---------------------------------------------------------------------------------

describe('corpus: signals during train', { concurrency: 2 }, () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    test(`${signal}: stops between steps with a checkpoint and a stop event, exit ${code}, says how to continue; the directory then refuses a new run and resumes`, async (t) => {
      const dir = fx.out(`signal-${signal}`);
      const args = ['train', ...TINY, '--steps', '100000', '--run-dir', dir];
      const run = await cli(args, { kill: { signal, when: /epoch 2: loss/ } });
      assert.equal(run.code, code, run.stderr);
      t.diagnostic(`${signal}: exited ${run.stopMs!.toFixed(0)} ms after the signal`);
      assert.ok(run.stopMs! < 10_000, `stopped ${run.stopMs} ms after the signal`);
      const trace = readTrace(dir);
      const steps = trace.steps.length;
      assert.deepEqual([trace.events.at(-1)!.kind, trace.events.at(-1)!.message], ['stop', `aborted (${signal})`]);
      assert.equal(readCheckpoint(dir)!.state.step, steps);
      assert.equal(summaryOf(dir).status, 'stopped');
      assert.deepEqual(gradcondLines(run.stderr), [
        `gradcond: ${signal}: stopping after this step (${signal === 'SIGINT' ? 'Ctrl-C' : 'signal'} again to exit at once)`,
        `gradcond: stopped by ${signal} after ${steps} steps, with a checkpoint: continue with --resume --run-dir ${dir}`,
      ]);
      // The same command again: refused, saying how to continue; the directory is untouched.
      const before = snapshot(dir);
      const again = await cli(args);
      assert.equal(again.code, 2, again.stderr);
      assert.equal(gradcondLines(again.stderr).at(-1), `gradcond: ${dir} already holds a run (stopped after step ${steps - 1}): continue it with --resume, or replace it with --overwrite`);
      assertUnchanged(dir, before);
      // --resume continues it to the end.
      const resumed = await cli(['train', ...TINY, '--steps', String(steps + 2), '--resume', '--run-dir', dir]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.deepEqual(readTrace(dir).steps.map((s) => s.step).slice(-3), [steps - 1, steps, steps + 1]);
      assert.equal(summaryOf(dir).status, 'done');
    });
  }

  test('a second Ctrl-C while the run is stopping exits at once (130), leaving the last checkpoint', async () => {
    const dir = fx.out('double');
    const run = await script('test/corpus/signalChild.ts', [dir], { kill: { signal: 'SIGINT', when: /ready/, again: 'SIGINT' } });
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /SIGINT: stopping after this step \(Ctrl-C again to exit at once\)\ngradcond: SIGINT again: exiting now\n$/);
    assert.ok(run.stopMs! < 5000, `exited ${run.stopMs} ms after the first signal: the 5 s step did not finish`);
    assert.doesNotMatch(run.stdout, /finished/);
    assert.ok(readTrace(dir).steps.length >= 4);
  });
});

describe('corpus: signals during compare', () => {
  test('SIGINT stops every run between steps with a checkpoint and a stop event, exit 130', {
    timeout: 180_000,
  }, async () => {
    const out = fx.out('compare-signal');
    const run = await cli(['compare', '--policies', 'constant', '--seeds', '1', '--steps', '100000', '--jobs', '1', '--data', 'synthetic', '--examples', '64', '--val-examples', '16', '--batch-size', '16', '--width', '8', '--depth', '1', '--groups', 'none', '--out', out], {
      env: { GRADCOND_BACKEND: 'cpu' },
      kill: { signal: 'SIGINT', when: /comparing/, delayMs: 8000 },
      timeoutMs: 120_000,
    });
    assert.equal(run.code, 130, run.stderr);
    const runDir = path.join(out, 'runs', 'constant-s0');
    assert.equal(readTrace(runDir).events.at(-1)!.kind, 'stop');
    assert.equal(readCheckpoint(runDir)!.state.step, readTrace(runDir).steps.length);
  });
});

// --- Divergence in the library ---------------------------------------------------------------

const data = syntheticClusters({ size: 96, inputShape: [4], classes: 3, seed: 1 });
const tinyModel = () => mlp({ inputShape: [4], classes: 3, seed: 5 }, [8]);
const BASE: TrainOptions = { batchSize: 16, learningRate: 0.1, seed: 11, metrics: { groups: 'none' } };
const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

describe('corpus: model.fit with the wrapper refuses a non-finite update, naming the step', () => {
  const make = { sgd: () => tf.train.sgd(1e20), momentum: () => tf.train.momentum(1e20, 0.9), adam: () => tf.train.adam(1e20), rmsprop: () => tf.train.rmsprop(1e20) };
  for (const [name, inner] of Object.entries(make)) {
    test(`${name} at 1e20: NonFiniteStep at step 0, the weights as they were, the step on steps$ with nulls`, async () => {
      const xs = tf.tensor2d(data.x, [data.size, 4]);
      const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(data.labels, 'int32'), 3));
      const tensors = tf.memory().numTensors;
      const m = tinyModel();
      const initial = weightsOf(m);
      const opt = conditioned(inner(), { model: m, groups: 'none' });
      const events: StepEvent[] = [];
      opt.steps$.subscribe((e) => void events.push(e));
      m.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
      const err = await assertRefused(() => m.fit(xs, ys, { epochs: 2, batchSize: 16, verbose: 0, callbacks: opt.callbacks() }), 1, 'training diverged: non-finite update at step 0 (learning rate 100000000000000000000); the step was not applied — try a smaller learning rate');
      assert.ok(err instanceof NonFiniteStep && err.step === 0 && err.quantity === 'update');
      assert.deepEqual(weightsOf(m), initial, 'the refused step was undone, bit for bit');
      assert.equal(events.length, 1);
      assert.deepEqual([events[0]!.step, events[0]!.updateNorm], [0, null]);
      opt.dispose();
      m.dispose();
      // tfjs' fit itself leaves one tensor when any error ends it (a plain fit whose callback throws leaves two).
      assert.ok(tf.memory().numTensors - tensors <= 1, `${tf.memory().numTensors - tensors} tensors left`);
      tf.dispose([xs, ys]);
    });

    test(`${name} at 1e20 in a hand-written loop: minimize() refuses, nothing is left behind`, async () => {
      const m = tinyModel();
      const initial = weightsOf(m);
      const x = tf.tensor2d(data.x.slice(0, 64), [16, 4]);
      const y = tf.tidy(() => tf.oneHot(tf.tensor1d(data.labels.slice(0, 16), 'int32'), 3));
      const tensors = tf.memory().numTensors;
      const opt = conditioned(inner(), { model: m, groups: 'none', loss: 'categoricalCrossentropy' });
      opt.setBatch(x, y);
      await assertRefused(() => opt.minimize(() => tf.losses.softmaxCrossEntropy(y, m.apply(x) as tf.Tensor) as tf.Scalar), 1, /^training diverged: non-finite update at step 0/);
      assert.deepEqual(weightsOf(m), initial);
      opt.dispose();
      assert.equal(tf.memory().numTensors, tensors, 'the optimizer and the refused step are freed');
      tf.dispose([x, y]);
      m.dispose();
    });
  }

  test('NaN in the third batch: refused at step 2 (loss), the weights those after step 1', async () => {
    const xsClean = data.x.slice(0, 48 * 4);
    const xsBad = Float32Array.from(xsClean, (v, i) => (i === 2 * 16 * 4 + 5 ? Number.NaN : v));
    const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(data.labels.slice(0, 48), 'int32'), 3));
    // The reference: the same model trained by plain sgd on the first two batches only.
    const ref = tinyModel();
    ref.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
    const xs2 = tf.tensor2d(xsClean.slice(0, 32 * 4), [32, 4]);
    const ys2 = ys.slice(0, 32);
    await ref.fit(xs2, ys2, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    const m = tinyModel();
    const opt = conditioned(tf.train.sgd(0.1), { model: m, groups: 'none' });
    m.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    const xs = tf.tensor2d(xsBad, [48, 4]);
    await assertRefused(() => m.fit(xs, ys, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 }), 1, /^training diverged: non-finite loss at step 2 \(learning rate 0\.1\); the step was not applied/);
    assert.deepEqual(weightsOf(m), weightsOf(ref));
    tf.dispose([xs, ys, xs2, ys2]);
    for (const x of [opt, m, ref]) x.dispose();
  });
});

describe('corpus: train() never writes a non-finite weight; the last finite checkpoint stays byte for byte', () => {
  for (const [what, value] of [['NaN', Number.NaN], ['Infinity', Number.POSITIVE_INFINITY]] as const) {
    test(`${what} in the data at step 3, checkpoints every 2 steps`, async () => {
      const bad = epochPermutation(data.size, 11, 0)[50]!; // position 50: step 3 (batch 16)
      const poisoned: Dataset = { ...data, x: data.x.map((v, i) => (i === bad * 4 ? value : v)) };
      const m = tinyModel();
      const dir = fx.out(`poisoned-${what}`);
      let saved: Map<string, string> | null = null;
      const tensors = tf.memory().numTensors;
      const err = await assertRefused(
        () => train(m, poisoned, { ...BASE, epochs: 1, runDir: dir, checkpointEvery: 2, onStep: (e) => void (e.step === 2 ? (saved = snapshot(path.join(dir, 'checkpoint'))) : null) }),
        1,
        'training diverged: non-finite loss at step 3 (epoch 1, learning rate 0.1); try a smaller learning rate',
      );
      assert.ok(err instanceof TrainingDiverged);
      assert.equal(tf.memory().numTensors, tensors);
      assert.ok(finite(m), 'the refused step was undone');
      assert.ok(saved !== null);
      assertUnchanged(path.join(dir, 'checkpoint'), saved);
      assert.equal(readCheckpoint(dir)!.state.step, 2);
      assert.ok(await checkpointFinite(dir));
      assertDiverged(dir, { checkpoint: true });
      m.dispose();
    });
  }

  test('a checkpoint of a model holding NaN is refused before anything touches the disk', async () => {
    const m = tinyModel();
    const dir = fx.out('refuse-checkpoint');
    await train(m, data, { ...BASE, steps: 2, runDir: dir });
    const before = snapshot(dir);
    tf.tidy(() => m.layers[1]!.setWeights([tf.fill(m.layers[1]!.getWeights()[0]!.shape, Number.NaN), m.layers[1]!.getWeights()[1]!]));
    const state = readCheckpoint(dir)!.state;
    const opt = tf.train.sgd(0.1);
    await assert.rejects(writeCheckpoint(dir, m, opt, state), /^Error: refusing to write a checkpoint: the model weight '.*kernel.*' holds a non-finite value$/);
    assertUnchanged(dir, before);
    opt.dispose();
    m.dispose();
  });

  test('an error inside the run is recorded: a stop event "failed: …" and a summary, then the error', async () => {
    const m = tinyModel();
    const dir = fx.out('failed');
    await assertRefused(() => train(m, data, { ...BASE, steps: 5, runDir: dir, onStep: (e) => { if (e.step === 2) throw new Error('disk on fire'); } }), 1, 'unexpected error: disk on fire');
    const t = readTrace(dir);
    assert.deepEqual([t.events.at(-1)!.kind, t.events.at(-1)!.message], ['stop', 'failed: disk on fire']);
    assert.deepEqual([summaryOf(dir).status, summaryOf(dir).stopReason], ['stopped', 'failed: disk on fire']);
    m.dispose();
  });

  test('an Embedding fed negative indices: refused before the run starts, naming the data', async () => {
    const m = await loadModel(fx.model('embedding4'));
    const negative: Dataset = { name: 'ints', inputShape: [4], classes: 3, size: 4, x: Float32Array.from({ length: 16 }, (_, i) => (i === 0 ? -1 : i % 10)), labels: Int32Array.from([0, 1, 2, 0]) };
    const dir = fx.out('negative');
    await assertRefused(() => train(m, negative, { ...BASE, batchSize: 2, steps: 1, runDir: dir }), 2, /^the model fails on the first example of the ints data \(.*-1.*\): check that the data suits the model$/);
    assert.ok(absent(dir));
    m.dispose();
  });

  test('a library run stays quiet on the console, even when it diverges', async () => {
    const m = tinyModel();
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      await train(m, data, { ...BASE, learningRate: 1e20, steps: 2 }).catch((e: unknown) => assert.equal(reportOf(e).code, 1));
    } finally {
      process.stderr.write = original;
    }
    assert.deepEqual(written, []);
    m.dispose();
  });
});
