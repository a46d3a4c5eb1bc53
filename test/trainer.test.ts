import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { batchTensors, type Dataset } from '../src/data/dataset.js';
import { syntheticClusters } from '../src/data/synthetic.js';
import { UsageError } from '../src/errors.js';
import { mlp } from '../src/models/zoo.js';
import type { StepEvent } from '../src/stream/types.js';
import { readTrace } from '../src/trace/reader.js';
import { readCheckpoint, restoreModel, restoreOptimizer, writeCheckpoint } from '../src/trainer/checkpoint.js';
import { train, TrainingDiverged, type TrainOptions } from '../src/trainer/train.js';
import { KILL_RUN, killRunSetup, READY_STEP } from './fixtures/trainChild.js';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

const data = syntheticClusters({ size: 96, inputShape: [4, 4, 1], classes: 4, seed: 1 });
const validation = syntheticClusters({ size: 40, inputShape: [4, 4, 1], classes: 4, seed: 2 });
const model = (seed = 5) => mlp({ inputShape: data.inputShape, classes: data.classes, seed }, [16]);
const BASE: TrainOptions = { batchSize: 16, learningRate: 0.1, seed: 11, metrics: { groups: 'none' } };

/** AdaBatch by steps: every `every` steps the batch doubles (up to 32) and the rate with it. */
const doubling = (every: number) => ({ name: 'adabatch', options: { every, unit: 'step', maxBatch: 32 } });

let tmp: string;
const runDir = (name: string) => path.join(tmp, name);

function weightsOf(m: tf.LayersModel): Float32Array[] {
  return m.getWeights().map((w) => w.dataSync() as Float32Array);
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  assert.equal(a.length, b.length);
  let d = 0;
  a.forEach((x, i) => x.forEach((v, j) => (d = Math.max(d, Math.abs(v - b[i][j])))));
  return d;
}

before(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-trainer-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('train', () => {
  test('runs for epochs, with a validation pass per epoch', async () => {
    const m = model();
    const steps: StepEvent[] = [];
    const res = await train(m, data, { ...BASE, epochs: 3, validation, onStep: (e) => void steps.push(e) });
    assert.equal(res.steps, 18);
    assert.equal(res.epochs, 3);
    assert.deepEqual(steps.map((e) => e.step), Array.from({ length: 18 }, (_, i) => i));
    assert.deepEqual(steps.map((e) => e.epoch), Array.from({ length: 18 }, (_, i) => Math.floor(i / 6) + 1));
    assert.equal(res.history.length, 3);
    assert.deepEqual(res.history.map((h) => h.epoch), [1, 2, 3]);
    for (const h of res.history) {
      assert.ok(Number.isFinite(h.loss) && Number.isFinite(h.valLoss) && h.valAccuracy! >= 0 && h.valAccuracy! <= 1);
    }
    assert.ok(res.history[2]!.loss! < res.history[0]!.loss!, 'the loss goes down');
    m.dispose();
  });

  test('runs for steps, across epochs, with a short last batch', async () => {
    const m = model();
    const steps: StepEvent[] = [];
    const res = await train(m, data, { ...BASE, batchSize: 40, steps: 7, onStep: (e) => void steps.push(e) });
    assert.equal(res.steps, 7);
    assert.deepEqual(steps.map((e) => e.batchSize), [40, 40, 16, 40, 40, 16, 40]);
    assert.deepEqual(steps.map((e) => e.epoch), [1, 1, 1, 2, 2, 2, 3]);
    assert.equal(res.epochs, 2);
    m.dispose();
  });

  test('budgets: the run ends, done, once maxExamples were seen or maxSeconds passed', async () => {
    const m = model();
    const byExamples = await train(m, data, { ...BASE, epochs: 5, maxExamples: 40 });
    assert.equal(byExamples.steps, 3, '16 + 16 < 40 ≤ 48');
    assert.equal(byExamples.summary.status, 'done');
    assert.equal(byExamples.summary.examples, 48);
    const byTime = await train(m, data, { ...BASE, steps: 100, maxSeconds: 0.3, onStep: () => new Promise((r) => setTimeout(r, 50)) });
    assert.ok(byTime.steps >= 1 && byTime.steps < 100, `steps ${byTime.steps}`);
    assert.equal(byTime.summary.status, 'done');
    m.dispose();
  });

  test('bad options are UsageErrors', async () => {
    const m = model();
    await assert.rejects(train(m, data, { ...BASE, epochs: 1, steps: 2 }), UsageError);
    await assert.rejects(train(m, data, { ...BASE, batchSize: 0 }), /^UsageError: batchSize \(--batch-size\) must be a positive integer, got 0$/);
    await assert.rejects(train(m, data, { ...BASE, learningRate: Number.NaN }), UsageError);
    await assert.rejects(train(m, data, { ...BASE, policy: 'nope' }), /unknown policy 'nope'/);
    await assert.rejects(train(m, data, { ...BASE, resume: true }), /resume needs a run directory/);
    await assert.rejects(train(m, data, { ...BASE, resume: true, runDir: runDir('empty') }), /no checkpoint/);
    await assert.rejects(train(m, data, { ...BASE, validatEvery: 5 } as TrainOptions), /^UsageError: unknown option 'validatEvery' for train\(\): known options are policy, /);
    await assert.rejects(train(m, data, { ...BASE, maxSeconds: 0 }), /^UsageError: maxSeconds must be a positive finite number, got 0$/);
    await assert.rejects(train(m, data, { ...BASE, policy: { name: 'adabatch', options: { every: 0 } } }), /policy 'adabatch': option 'every'/);
    m.dispose();
  });

  test("a policy's updates apply from the next step on, each one an update record and a log line", async () => {
    const m = model();
    const steps: StepEvent[] = [];
    const dir = runDir('policy');
    const res = await train(m, data, { ...BASE, steps: 10, policy: doubling(5), runDir: dir, onStep: (e) => void steps.push(e) });
    // Step 4 completes 5 steps: from step 5 on, batch 32 and rate 0.2 (step 5 ends epoch 1 with the 16 examples left).
    assert.deepEqual(steps.map((e) => e.learningRate), [0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2]);
    assert.deepEqual(steps.map((e) => e.batchSize), [16, 16, 16, 16, 16, 16, 32, 32, 32, 32]);
    assert.deepEqual(res.knobs, { learningRate: 0.2, batchSize: 32 });
    const updates = readTrace(dir).updates;
    assert.equal(updates.length, 1, 'the capped doubling at step 9 changes nothing and is not recorded');
    assert.deepEqual([updates[0]!.step, updates[0]!.epoch, updates[0]!.policy], [4, 1, 'adabatch']);
    assert.deepEqual([updates[0]!.before, updates[0]!.after], [{ learningRate: 0.1, batchSize: 16 }, { learningRate: 0.2, batchSize: 32 }]);
    assert.match(updates[0]!.reason, /batch 16 → 32/);
    assert.match(fs.readFileSync(path.join(dir, 'run.log'), 'utf8'), /"message":"policy adabatch: learning rate 0.1 → 0.2, batch size 16 → 32 \(.*batch 16 → 32.*\)","step":4/);
    // The older spelling {name, hyper} means the same.
    const m2 = model();
    const legacy = await train(m2, data, { ...BASE, steps: 10, policy: { name: 'adabatch', hyper: doubling(5).options } });
    assert.deepEqual(legacy.knobs, res.knobs);
    m.dispose();
    m2.dispose();
  });

  test('no tensor leak across steps (with metric groups sampled every step)', async () => {
    const m = model();
    const counts: number[] = [];
    await train(m, data, { ...BASE, steps: 12, validation, metrics: { groups: 'economy', every: 1 }, onStep: () => void counts.push(tf.memory().numTensors) });
    assert.ok(counts.slice(2).every((c) => c === counts[2]), `tensor counts per step: ${counts.join(' ')}`);
    const before = tf.memory().numTensors;
    const m2 = model();
    const created = tf.memory().numTensors - before;
    await train(m2, data, { ...BASE, epochs: 2, validation });
    assert.equal(tf.memory().numTensors - before, created, 'train leaves nothing behind');
    m.dispose();
    m2.dispose();
  });

  test('a non-finite loss stops the run with a clear error and a stop event', async () => {
    const bad: Dataset = { ...data, x: data.x.map((v, i) => (i === 5 ? Number.NaN : v)) };
    const m = model();
    const dir = runDir('diverged');
    await assert.rejects(train(m, bad, { ...BASE, epochs: 1, batchSize: 96, runDir: dir }), (err: Error) => {
      assert.ok(err instanceof TrainingDiverged);
      assert.match(err.message, /^training diverged: non-finite loss at step 0 \(epoch 1, learning rate 0\.1\)/);
      return true;
    });
    const trace = readTrace(dir);
    const stop = trace.events.find((e) => e.kind === 'stop');
    assert.ok(stop && /non-finite loss/.test(stop.message!));
    assert.equal(trace.events.at(-1)!.kind, 'stop');
    assert.equal(readCheckpoint(dir), null, 'no checkpoint of diverged weights');
    m.dispose();
  });

  test('writes a trace, a log and a checkpoint in the run directory', async () => {
    const m = model();
    const dir = runDir('traced');
    await train(m, data, { ...BASE, epochs: 2, validation, runDir: dir, checkpointEvery: 4, metrics: { groups: 'economy', every: 3 } });
    const trace = readTrace(dir);
    assert.equal(trace.truncated, false);
    assert.deepEqual(trace.steps.map((s) => s.step), Array.from({ length: 12 }, (_, i) => i));
    assert.deepEqual(trace.metrics.map((s) => s.step), [0, 0, 3, 3, 6, 6, 9, 9]);
    assert.deepEqual(trace.events.map((e) => e.kind), ['start', 'epoch', 'epoch', 'end']);
    assert.match(trace.events[1].message!, /^epoch 1: loss \d\.\d+ acc \d\.\d+ val_loss \d\.\d+ val_acc \d\.\d+$/);
    assert.equal(trace.manifest.backend, 'cpu');
    assert.equal(trace.manifest.seed, 11);
    assert.equal(trace.manifest.versions.gradcond, '0.1.0');
    assert.equal(trace.manifest.versions.tfjs, tf.version.tfjs);
    assert.ok(Array.isArray(trace.manifest.model) && trace.manifest.model.length === 3);
    const log = fs.readFileSync(path.join(dir, 'run.log'), 'utf8');
    assert.match(log, /"message":"epoch 2: loss/);
    const ckpt = readCheckpoint(dir)!;
    assert.equal(ckpt.state.step, 12);
    assert.equal(ckpt.state.epoch, 2);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('checkpoint')), ['checkpoint']);
    await assert.rejects(train(model(), data, { ...BASE, epochs: 1, runDir: dir }), /already holds a run/);
    m.dispose();
  });

  test('abort, then resume: same weights as an uninterrupted run (momentum, a stateful policy)', async () => {
    const opts: TrainOptions = { ...BASE, optimizer: 'momentum', steps: 20, policy: doubling(8), checkpointEvery: 3 };
    const ref = model();
    await train(ref, data, opts);
    const dir = runDir('aborted');
    const ac = new AbortController();
    const first = model();
    const r1 = await train(first, data, { ...opts, runDir: dir, signal: ac.signal, onStep: (e) => void (e.step === 12 && ac.abort()) });
    assert.equal(r1.stopped, 'aborted');
    assert.equal(r1.steps, 13);
    const resumed = model(99); // different init: the checkpoint must overwrite it
    const r2 = await train(resumed, data, { ...opts, runDir: dir, resume: true });
    assert.equal(r2.resumedFrom, 13);
    assert.equal(r2.steps, 20);
    assert.deepEqual(r2.knobs, { learningRate: 0.2, batchSize: 32 });
    assert.ok(maxDiff(weightsOf(resumed), weightsOf(ref)) <= 1e-6);
    const trace = readTrace(dir);
    assert.deepEqual(trace.steps.map((s) => s.step), Array.from({ length: 20 }, (_, i) => i));
    assert.deepEqual(trace.events.filter((e) => e.kind !== 'epoch').map((e) => [e.kind, e.message?.startsWith('resumed') ? e.message : '']), [['start', ''], ['stop', ''], ['start', 'resumed at step 13'], ['end', '']]);
    [ref, first, resumed].forEach((m) => m.dispose());
  });

  test('kill -9 mid-run: the trace stays valid and a resumed run ends with the uninterrupted weights', async () => {
    const dir = runDir('killed');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/fixtures/trainChild.ts'), dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('ready')) resolve();
      });
      child.on('exit', () => reject(new Error(`child exited before ready: ${out} ${stderr}`)));
    });
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');

    const killed = readTrace(dir);
    const n = killed.steps.length;
    assert.ok(n > READY_STEP && n < KILL_RUN.steps, `steps in the killed trace: ${n}`);
    assert.deepEqual(killed.steps.map((s) => s.step), Array.from({ length: n }, (_, i) => i));
    const ckpt = readCheckpoint(dir)!;
    assert.ok(ckpt.state.step >= 20 && ckpt.state.step <= n, `checkpoint at ${ckpt.state.step}`);

    const ref = killRunSetup();
    await train(ref.model, ref.data, KILL_RUN);
    const again = killRunSetup();
    const res = await train(again.model, again.data, { ...KILL_RUN, runDir: dir, resume: true });
    assert.equal(res.resumedFrom, ckpt.state.step);
    assert.equal(res.steps, KILL_RUN.steps);
    assert.ok(maxDiff(weightsOf(again.model), weightsOf(ref.model)) <= 1e-6);

    const trace = readTrace(dir);
    const resumedAt = trace.records.findIndex((r) => r.type === 'event' && r.message === `resumed at step ${ckpt.state.step}`);
    assert.ok(resumedAt > 0);
    const after = trace.records.slice(resumedAt).filter((r) => r.type === 'step').map((r) => r.step);
    assert.deepEqual(after, Array.from({ length: KILL_RUN.steps - ckpt.state.step }, (_, i) => ckpt.state.step + i));
    assert.equal(trace.events.at(-1)!.kind, 'end');
    // The reader's view: one history, the replay replacing the steps after the checkpoint.
    assert.deepEqual(trace.steps.map((e) => e.step), Array.from({ length: KILL_RUN.steps }, (_, i) => i));
    ref.model.dispose();
    again.model.dispose();
  });
});

describe('checkpoint', () => {
  /** A model and an adam optimizer with state, after 3 steps on the data. */
  async function trained(dir: string): Promise<{ m: tf.LayersModel; opt: tf.Optimizer }> {
    const m = model();
    const opt = tf.train.adam(0.01);
    const { x, y } = batchTensors(data, Int32Array.from({ length: 32 }, (_, i) => i));
    for (let i = 0; i < 3; i++) opt.minimize(() => tf.losses.softmaxCrossEntropy(y, m.apply(x) as tf.Tensor) as tf.Scalar);
    tf.dispose([x, y]);
    await writeCheckpoint(dir, m, opt, { ...LOOP, step: 3 });
    return { m, opt };
  }

  const LOOP = {
    step: 0, epoch: 1, position: 32, knobs: { learningRate: 0.01, batchSize: 32 }, policyState: { passed: 1 }, lossSum: 3.5, examples: 32, correct: 20,
    rng: { kind: 'mulberry32-per-epoch' as const, seed: 11 }, dataSize: 96, policy: 'adabatch',
  };

  async function optimizerValues(opt: tf.Optimizer): Promise<number[][]> {
    const ws = await opt.getWeights();
    const out = ws.map((w) => Array.from(w.tensor.dataSync()));
    for (const w of ws) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
    return out;
  }

  test('round trip: state, model weights and optimizer state come back exactly', async () => {
    const dir = runDir('ckpt-roundtrip');
    const tensors = tf.memory().numTensors;
    const { m, opt } = await trained(dir);
    const ckpt = readCheckpoint(dir)!;
    const { savedAt, optimizer, format, ...state } = ckpt.state;
    assert.deepEqual(state, { ...LOOP, step: 3 });
    assert.equal(format, 1);
    assert.equal(optimizer.className, 'Adam');
    assert.ok(Date.now() - Date.parse(savedAt) < 60_000);
    const m2 = model(77);
    const opt2 = tf.train.adam(0.01);
    await restoreModel(ckpt, m2);
    await restoreOptimizer(ckpt, opt2);
    assert.equal(maxDiff(weightsOf(m2), weightsOf(m)), 0);
    assert.deepEqual(await optimizerValues(opt2), await optimizerValues(opt));
    assert.deepEqual(fs.readdirSync(dir), ['checkpoint'], 'no temporary or old directory left');
    [m, m2].forEach((x) => x.dispose());
    [opt, opt2].forEach((x) => x.dispose());
    assert.equal(tf.memory().numTensors, tensors, 'writing and restoring leave no tensor behind');
  });

  test('atomic: a kill between the renames leaves checkpoint.old, which is read; a partial temp directory is ignored', async () => {
    const dir = runDir('ckpt-atomic');
    const { m, opt } = await trained(dir);
    fs.renameSync(path.join(dir, 'checkpoint'), path.join(dir, 'checkpoint.old'));
    fs.mkdirSync(path.join(dir, 'checkpoint.tmp-99999', 'model'), { recursive: true }); // killed mid-write: no state.json
    const ckpt = readCheckpoint(dir)!;
    assert.equal(ckpt.dir, path.join(dir, 'checkpoint.old'));
    assert.equal(ckpt.state.step, 3);
    await writeCheckpoint(dir, m, opt, { ...LOOP, step: 4 });
    assert.equal(readCheckpoint(dir)!.state.step, 4);
    assert.ok(!fs.existsSync(path.join(dir, 'checkpoint.old')));
    m.dispose();
    opt.dispose();
  });

  test('a non-finite weight is never written: the previous checkpoint stays as it was', async () => {
    const dir = runDir('ckpt-nan');
    const { m, opt } = await trained(dir);
    const stateFile = path.join(dir, 'checkpoint', 'state.json');
    const bytes = fs.readFileSync(stateFile);
    const w = m.getWeights();
    m.setWeights(w.map((t, i) => (i === 0 ? t.mul(Number.NaN) : t)));
    await assert.rejects(writeCheckpoint(dir, m, opt, { ...LOOP, step: 9 }), /refusing to write a checkpoint: the model weight '.*kernel.*' holds a non-finite value/);
    assert.deepEqual(fs.readFileSync(stateFile), bytes);
    assert.deepEqual(fs.readdirSync(dir), ['checkpoint']);
    m.dispose();
    opt.dispose();
  });

  test('a corrupt state file or a short optimizer file is a UsageError naming the file', async () => {
    const dir = runDir('ckpt-corrupt');
    const { m, opt } = await trained(dir);
    const stateFile = path.join(dir, 'checkpoint', 'state.json');
    const good = fs.readFileSync(stateFile, 'utf8');
    fs.writeFileSync(stateFile, good.slice(0, 40));
    assert.throws(() => readCheckpoint(dir), (e: unknown) => e instanceof UsageError && e.message.startsWith(`${stateFile}: corrupt checkpoint state, not valid JSON`));
    fs.writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(good), position: -1 }));
    assert.throws(() => readCheckpoint(dir), (e: unknown) => e instanceof UsageError && e.message === `${stateFile}: corrupt checkpoint state: field 'position' must be >= 0`);
    fs.writeFileSync(stateFile, good);
    const optFile = path.join(dir, 'checkpoint', 'optimizer.bin');
    fs.writeFileSync(optFile, fs.readFileSync(optFile).subarray(0, 10));
    await assert.rejects(restoreOptimizer(readCheckpoint(dir)!, tf.train.adam(0.01)), new RegExp(`${optFile} holds 10 bytes`));
    m.dispose();
    opt.dispose();
  });

  test('old checkpoints (no accuracy count, no health state) resume', async () => {
    const dir = runDir('ckpt-old');
    const opts: TrainOptions = { ...BASE, steps: 9, checkpointEvery: 4 };
    const ref = model();
    await train(ref, data, opts);
    const first = model();
    await train(first, data, { ...opts, steps: 4, runDir: dir });
    const stateFile = path.join(dir, 'checkpoint', 'state.json');
    const { correct: _c, health: _h, ...old } = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    fs.writeFileSync(stateFile, JSON.stringify(old));
    const again = model(99);
    const res = await train(again, data, { ...opts, runDir: dir, resume: true });
    assert.equal(res.resumedFrom, 4);
    assert.ok(maxDiff(weightsOf(again), weightsOf(ref)) <= 1e-6);
    assert.equal(res.history[0]!.accuracy, null, 'epoch 1 was half done when the old checkpoint was written: its accuracy is unknown');
    assert.ok(res.history[0]!.loss! > 0);
    [ref, first, again].forEach((x) => x.dispose());
  });
});
