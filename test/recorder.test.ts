import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { Subject } from 'rxjs';
import { logger, LOG_FILE } from '../src/log.js';
import type { EpochEvent, PolicyDecision, StepEvent } from '../src/stream/types.js';
import { MANIFEST_FILE, SUMMARY_FILE, TRACE_FILE, TraceError, type RunManifest, type TraceRecord } from '../src/trace/format.js';
import { describeRun, openRun } from '../src/trace/openRun.js';
import { readTrace } from '../src/trace/reader.js';
import { openRecorder } from '../src/trace/recorder.js';

const made: string[] = [];
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-recorder-'));
  made.push(d);
  return d;
}

function manifest(over: Partial<RunManifest> = {}): RunManifest {
  return {
    config: { test: 'recorder' },
    seed: 3,
    backend: 'cpu',
    versions: { gradcond: '0.1.0', tfjs: '4.22.0', node: process.version },
    model: 'none',
    startTime: new Date(Date.now() - 1000).toISOString(),
    ...over,
  };
}

function step(n: number, loss: number, batchSize = 4): TraceRecord {
  const e: StepEvent = {
    step: n, epoch: 1, wallTime: 10 + n, batchSize, learningRate: 0.1, loss, gradNorm: 1, paramNorm: 2, updateNorm: 0.1,
    kappaWStep: null, gradDotPrevGrad: null, gradDotPrevUpdate: null, stepMs: 1,
  };
  return { type: 'step', ...e };
}

function epochEnd(epoch: number, stepsDone: number, loss: number): TraceRecord {
  const e: EpochEvent = { kind: 'epoch', wallTime: 20 + stepsDone, step: stepsDone, epoch, loss, accuracy: 0.5, valLoss: loss + 0.1, valAccuracy: 0.4, message: `epoch ${epoch}: loss ${loss}` };
  return { type: 'event', ...e };
}

const decision: PolicyDecision = {
  step: 1, epoch: 1, wallTime: 12, policy: 'adabatch', before: { learningRate: 0.1, batchSize: 4 }, after: { learningRate: 0.2, batchSize: 8 }, reason: 'doubling',
};

/** The message fields of run.log. */
function logMessages(dir: string): { level: string; message: string }[] {
  return fs.readFileSync(path.join(dir, LOG_FILE), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
}

test('a new run: every record of the stream in the trace, the lines it deserves in run.log, a summary', () => {
  const dir = path.join(tmpDir(), 'run');
  const before = logger();
  const rec = openRecorder({ runDir: dir, manifest: manifest(), groups: ['update', 'perExample'] });
  assert.notEqual(logger(), before, 'the run logger is the process-wide logger while the run is open');
  assert.ok(rec.clock() >= 1000 && rec.clock() < 60_000, 'the clock counts from the manifest start');
  const records$ = new Subject<TraceRecord>();
  rec.subscribeTo(records$);
  const records: TraceRecord[] = [
    { type: 'event', kind: 'start', wallTime: 5, step: 0, epoch: 1, message: 'policy constant' },
    step(0, 2),
    { type: 'metric', step: 0, epoch: 1, wallTime: 11, batchSize: 4, learningRate: 0.1, group: 'update', values: { kappaWUpdate: 3 }, reasons: {}, durationMs: 2 },
    step(1, 1),
    { type: 'update', ...decision },
    epochEnd(1, 2, 1.5),
    { type: 'event', kind: 'health', wallTime: 30, step: 1, epoch: 1, finding: 'loss-spike', message: 'loss spike at step 1' },
    { type: 'event', kind: 'end', wallTime: 40, step: 2, epoch: 1, message: 'done after 2 steps' },
  ];
  records.forEach((r) => records$.next(r));
  rec.check();
  const summary = rec.finish();
  rec.close();
  rec.close(); // idempotent
  assert.equal(logger(), before, 'close puts the previous logger back');

  const t = readTrace(dir);
  assert.deepEqual(t.records, records);
  assert.deepEqual(t.updates, [decision]);
  assert.deepEqual(
    logMessages(dir).map((e) => [e.level, e.message]),
    [
      ['info', 'policy constant'],
      ['info', 'policy adabatch: learning rate 0.1 → 0.2, batch size 4 → 8 (doubling)'],
      ['info', 'epoch 1: loss 1.5'],
      ['warn', 'loss spike at step 1'],
      ['info', 'done after 2 steps'],
    ],
  );
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, SUMMARY_FILE), 'utf8')), JSON.parse(JSON.stringify(summary)));
  assert.equal(summary.status, 'done');
  assert.equal(summary.steps, 2);
  assert.equal(summary.policyUpdates, 1);
  assert.deepEqual(summary.loss, { final: 1.5, best: 1.5 });
  assert.deepEqual(summary.warnings, [
    "metric group 'perExample' was enabled but never sampled in 2 steps: give the metrics a larger --budget, or sample every k steps with --every k",
  ]);
  assert.deepEqual(rec.epochs.map((e) => e.epoch), [1]);
});

test('opening: a new run refuses a directory holding one, naming --resume and --overwrite; overwrite replaces it', () => {
  const dir = tmpDir();
  const first = openRecorder({ runDir: dir, manifest: manifest() });
  first.record({ type: 'event', kind: 'start', wallTime: 0, step: 0, message: 'first' });
  first.record(step(0, 1));
  first.record({ type: 'event', kind: 'stop', wallTime: 9, step: 1, message: 'aborted' });
  first.finish();
  first.close();
  assert.equal(describeRun(dir), 'stopped after step 0');
  assert.throws(
    () => openRecorder({ runDir: dir, manifest: manifest() }),
    (e: unknown) => e instanceof TraceError && e.message === `${dir}: already holds a run (stopped after step 0): continue it with --resume, or replace it with --overwrite`,
  );
  const again = openRecorder({ runDir: dir, mode: 'overwrite', manifest: manifest({ seed: 4 }) });
  assert.deepEqual(fs.readdirSync(dir).sort(), [LOG_FILE, MANIFEST_FILE, TRACE_FILE].sort(), 'the old summary is gone, the log is new');
  assert.equal(fs.readFileSync(path.join(dir, LOG_FILE), 'utf8'), '');
  again.close();
  const t = readTrace(dir);
  assert.equal(t.manifest.seed, 4);
  assert.equal(t.records.length, 0);
});

test('opening: resume appends after repairing a cut-off last line; the summary covers the whole run', () => {
  const dir = tmpDir();
  const first = openRecorder({ runDir: dir, manifest: manifest() });
  first.record({ type: 'event', kind: 'start', wallTime: 0, step: 0 });
  for (let i = 0; i < 4; i++) first.record(step(i, 4 - i));
  first.close();
  fs.appendFileSync(path.join(dir, TRACE_FILE), '{"type":"step","step":4,"epo'); // killed mid-write
  assert.match(describeRun(dir), /^ended without an end event after step 3/);

  const rec = openRecorder({ runDir: dir, mode: 'resume', manifest: manifest({ seed: 99 }) });
  assert.equal(rec.resumed, true);
  assert.equal(rec.manifest.seed, 3, 'a resumed run keeps the manifest on disk');
  rec.record({ type: 'event', kind: 'start', wallTime: 50, step: 2, message: 'resumed at step 2' });
  rec.record(step(2, 7));
  rec.record({ type: 'event', kind: 'end', wallTime: 60, step: 3 });
  const summary = rec.finish();
  rec.close();
  const t = readTrace(dir);
  assert.equal(t.truncated, false);
  assert.deepEqual(t.steps.map((s) => [s.step, s.loss]), [[0, 4], [1, 3], [2, 7]]);
  assert.equal(summary.steps, 3);
  assert.deepEqual([summary.metrics.loss!.first, summary.metrics.loss!.last], [4, 7]);
  assert.equal(summary.wallTimeMs, 13 + 10, 'first process 0 → 13 (step 3), second 50 → 60');
});

test('opening: resume needs a run; openRun reports the directory', () => {
  const dir = tmpDir();
  assert.throws(() => openRun(dir, 'resume', manifest()), (e: unknown) => e instanceof TraceError && /no manifest: not a run directory/.test(e.message));
});

test('a record the writer refuses stops the recording, and check() rethrows it', () => {
  const dir = tmpDir();
  const rec = openRecorder({ runDir: dir, manifest: manifest() });
  const records$ = new Subject<TraceRecord>();
  rec.subscribeTo(records$);
  records$.next(step(0, 1));
  records$.next({ ...step(1, 1), step: -1 } as TraceRecord);
  records$.next(step(2, 1));
  assert.throws(() => rec.check(), (e: unknown) => e instanceof TraceError && /refusing to write a bad step record: field 'step' must be >= 0/.test(e.message));
  rec.close();
  assert.deepEqual(readTrace(dir).steps.map((s) => s.step), [0], 'nothing after the failure');
});

test('without a run directory: nothing written, the summary still computed, the logger left alone', () => {
  const before = logger();
  const rec = openRecorder({ manifest: manifest() });
  assert.equal(logger(), before);
  rec.record(step(0, 2));
  rec.record(step(1, 4));
  const s = rec.finish();
  rec.close();
  assert.equal(s.steps, 2);
  assert.equal(s.metrics.loss!.median, 3);
  assert.equal(s.status, 'incomplete');
});
