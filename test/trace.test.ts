import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createRun, writeJsonAtomic } from '../src/trace/writer.js';
import { parseTrace, readManifest, readTrace, traceView } from '../src/trace/reader.js';
import { MANIFEST_FILE, TRACE_FILE, TraceError, type RunManifest } from '../src/trace/format.js';
import {
  LifecycleEventSchema,
  MetricSampleSchema,
  PolicyDecisionSchema,
  StepEventSchema,
  type MetricSample,
  type PolicyDecision,
  type StepEvent,
} from '../src/stream/types.js';
import { SAMPLE_GROUPS } from '../src/metrics/registry.js';
import type { TraceRecord } from '../src/trace/format.js';
import { createLogger, LOG_FILE, logger, parseLogLevel, setLogger } from '../src/log.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-trace-'));
  made.push(d);
  return d;
}

function manifest(over: Partial<RunManifest> = {}): RunManifest {
  return {
    config: { task: 'xor', policy: ['constant'], lr: 0.1, nested: { a: [1, 2, null] } },
    seed: 7,
    backend: 'cpu',
    versions: { gradcond: '0.1.0', tfjs: '4.22.0', node: process.version },
    model: [{ name: 'dense_1', className: 'Dense', params: 12, outputShape: [null, 4] }],
    startTime: new Date().toISOString(),
    ...over,
  };
}

function stepEvent(step: number, over: Partial<StepEvent> = {}): StepEvent {
  return {
    step, epoch: 0, wallTime: step * 3, batchSize: 16, learningRate: 0.1, loss: 0.5,
    gradNorm: 1.5, paramNorm: 4, updateNorm: 0.15, kappaWStep: null, gradDotPrevGrad: null, gradDotPrevUpdate: null, stepMs: 2, ...over,
  };
}

function sample(step: number): MetricSample {
  return {
    step, epoch: 0, wallTime: step * 3, batchSize: 16, learningRate: 0.1, group: 'weightPerturbation',
    values: { kappaW: 2.5, cosSimW: null }, reasons: { cosSimW: 'needs two perturbations' }, durationMs: 4,
  };
}

test('round trip: manifest, steps, metrics, events in order', () => {
  const dir = path.join(tmpDir(), 'deep', 'run');
  const m = manifest();
  const w = createRun(dir, m);
  w.event({ kind: 'start', step: 0 });
  w.step(stepEvent(0));
  w.metric(sample(0));
  w.step(stepEvent(1, { loss: null }));
  w.event({ kind: 'epoch', epoch: 1, wallTime: 9 });
  w.write({ type: 'step', ...stepEvent(2) });
  w.event({ kind: 'end', message: 'done' });
  assert.equal(w.records, 7);
  w.close();
  w.close(); // idempotent
  assert.throws(() => w.step(stepEvent(3)), /closed/);

  const t = readTrace(dir);
  assert.deepEqual(t.manifest, m);
  assert.deepEqual(t.steps, [stepEvent(0), stepEvent(1, { loss: null }), stepEvent(2)]);
  assert.deepEqual(t.metrics, [sample(0)]);
  assert.deepEqual(t.events.map((e) => e.kind), ['start', 'epoch', 'end']);
  assert.equal(t.events[1]!.wallTime, 9);
  assert.ok(t.events[0]!.wallTime >= 0 && t.events[0]!.wallTime < 60_000);
  assert.equal(t.events[2]!.message, 'done');
  assert.deepEqual(t.records.map((r) => r.type), ['event', 'step', 'metric', 'step', 'event', 'step', 'event']);
  assert.equal(t.truncated, false);

  const lines = fs.readFileSync(path.join(dir, TRACE_FILE), 'utf8').split('\n');
  assert.equal(lines.length, 8);
  assert.equal(lines[7], '');
  assert.match(lines[1]!, /^\{"type":"step","step":0,/);
  assert.deepEqual(fs.readdirSync(dir).sort(), [MANIFEST_FILE, TRACE_FILE]); // no temp file left
});

test('non-finite numbers are written as null; metric values get a reason', () => {
  const dir = tmpDir();
  const w = createRun(dir, manifest());
  w.step(stepEvent(0, { loss: Number.NaN, gradNorm: Number.POSITIVE_INFINITY }));
  const s = sample(0);
  s.values.kappaW = Number.NEGATIVE_INFINITY;
  w.metric(s);
  w.close();
  assert.equal(s.values.kappaW, Number.NEGATIVE_INFINITY, 'the caller’s sample is not mutated');
  const t = readTrace(dir);
  assert.equal(t.steps[0]!.loss, null);
  assert.equal(t.steps[0]!.gradNorm, null);
  assert.equal(t.metrics[0]!.values.kappaW, null);
  assert.equal(t.metrics[0]!.reasons.kappaW, 'non-finite value (-Infinity)');
  assert.equal(t.metrics[0]!.reasons.cosSimW, 'needs two perturbations');
});

test('the writer refuses bad records and an occupied run directory', () => {
  const dir = tmpDir();
  const w = createRun(dir, manifest());
  assert.throws(() => w.step({ ...stepEvent(0), step: 'x' } as unknown as StepEvent), TraceError);
  assert.throws(() => w.event({ kind: 'pause' } as never), /kind/);
  w.step(stepEvent(0));
  w.close();
  assert.throws(() => createRun(dir, manifest()), (e: unknown) => e instanceof TraceError && /already holds a run/.test(e.message));
  const again = createRun(dir, manifest({ seed: 8 }), { overwrite: true });
  again.close();
  const t = readTrace(dir);
  assert.equal(t.manifest.seed, 8);
  assert.equal(t.steps.length, 0);
});

test('a truncated last line is ignored and flagged', () => {
  const dir = tmpDir();
  const w = createRun(dir, manifest());
  for (let i = 0; i < 5; i++) w.step(stepEvent(i));
  w.close();
  const file = path.join(dir, TRACE_FILE);
  const full = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, full + full.split('\n')[0]!.slice(0, 40));
  const t = readTrace(dir);
  assert.equal(t.truncated, true);
  assert.deepEqual(t.steps.map((s) => s.step), [0, 1, 2, 3, 4]);
  // A whole last record without its newline is kept.
  fs.writeFileSync(file, full.slice(0, -1));
  const u = readTrace(dir);
  assert.equal(u.truncated, false);
  assert.equal(u.steps.length, 5);
});

test('a corrupt line in the middle is a TraceError with file and line', () => {
  const dir = tmpDir();
  const w = createRun(dir, manifest());
  for (let i = 0; i < 4; i++) w.step(stepEvent(i));
  w.close();
  const file = path.join(dir, TRACE_FILE);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines[2] = lines[2]!.slice(0, 30);
  fs.writeFileSync(file, lines.join('\n'));
  assert.throws(
    () => readTrace(dir),
    (e: unknown) => e instanceof TraceError && e.file === file && e.line === 3 && e.message.includes(`${file}:3:`),
  );
  lines[2] = '{"type":"bogus","step":2}';
  fs.writeFileSync(file, lines.join('\n'));
  assert.throws(() => readTrace(dir), /:3: bad record: unknown record type "bogus"/);
  lines[2] = JSON.stringify({ ...stepEvent(2), type: 'step', loss: 'high' });
  fs.writeFileSync(file, lines.join('\n'));
  assert.throws(() => readTrace(dir), /:3: bad record: field 'loss'/);
});

test('manifest: missing, incomplete, or a run with no trace yet', () => {
  const dir = tmpDir();
  assert.throws(() => readTrace(dir), /no manifest: not a run directory/);
  const m = manifest();
  const { seed: _seed, ...partial } = m;
  writeJsonAtomic(path.join(dir, MANIFEST_FILE), partial);
  assert.throws(() => readManifest(dir), /lacks seed/);
  writeJsonAtomic(path.join(dir, MANIFEST_FILE), m);
  const t = readTrace(dir);
  assert.deepEqual([t.steps, t.metrics, t.events, t.truncated], [[], [], [], false]);
  assert.deepEqual(parseTrace('', 'x'), { records: [], truncated: false });
});

test('kill -9 mid-write leaves a trace valid up to its last complete line', async () => {
  const dir = path.join(tmpDir(), 'killed');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/fixtures/traceChild.ts'), dir, '1000'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready after 15 s; stderr: ${stderr}`)), 15_000);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited early (${code}); stderr: ${stderr}`));
    });
  });
  // Let it run on a little so the kill lands in the middle of the stream of writes.
  await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');

  const t = readTrace(dir);
  assert.ok(t.steps.length >= 1000, `only ${t.steps.length} steps`);
  t.steps.forEach((s, i) => assert.equal(s.step, i));
  assert.equal(t.events[0]!.kind, 'start');
  assert.ok(t.metrics.length >= Math.floor(1000 / 7));
  t.metrics.forEach((m, i) => assert.equal(m.step, 7 * i));
});

test('log: level validation, console lines, JSON lines in run.log', async () => {
  assert.equal(parseLogLevel('debug'), 'debug');
  assert.throws(() => createLogger({ level: 'verbose' }), /unknown log level 'verbose': choose one of error, warn, info, debug/);

  const dir = path.join(tmpDir(), 'run');
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  const log = createLogger({ level: 'info', runDir: dir, stream });
  log.info('epoch done', { epoch: 3, loss: 0.25, note: 'two words' });
  log.debug('hidden');
  log.warn('plain');
  log.error(new Error('went wrong'));
  await new Promise((r) => setImmediate(r));
  log.close();

  const consoleLines = text.trimEnd().split('\n');
  assert.match(consoleLines[2]!, /^\d\d:\d\d:\d\d error went wrong$/);
  assert.match(consoleLines[3]!, /^Error: went wrong$/); // then the stack
  assert.match(consoleLines[0]!, /^\d\d:\d\d:\d\d info epoch done epoch=3 loss=0.25 note="two words"$/);
  assert.match(consoleLines[1]!, /^\d\d:\d\d:\d\d warn plain$/);
  assert.doesNotMatch(text, /\u001b\[/); // no colour codes

  const entries = fs.readFileSync(path.join(dir, LOG_FILE), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(entries.length, 3);
  assert.equal(entries[0].level, 'info');
  assert.equal(entries[0].message, 'epoch done');
  assert.equal(entries[0].epoch, 3);
  assert.ok(!Number.isNaN(Date.parse(entries[0].timestamp)));
  assert.equal(entries[1].level, 'warn');
  assert.equal(entries[2].message, 'went wrong');
  assert.match(entries[2].stack, /^Error: went wrong\n/);

  const quiet = createLogger({ level: 'debug', console: false });
  quiet.debug('nowhere');
  const prev = setLogger(quiet);
  assert.equal(logger(), quiet);
  setLogger(prev);
  quiet.close();
});

const decision = (step: number): PolicyDecision => ({
  step, epoch: 1, wallTime: step * 3 + 1, policy: 'step', before: { learningRate: 0.1, batchSize: 16 }, after: { learningRate: 0.05, batchSize: 16 }, reason: 'epoch done',
});

test('update records: written, checked, read back', () => {
  const dir = tmpDir();
  const w = createRun(dir, manifest());
  w.step(stepEvent(0));
  w.update(decision(0));
  w.write({ type: 'update', ...decision(1) });
  assert.throws(() => w.update({ ...decision(2), before: { learningRate: 0.1 } } as never), /refusing to write a bad update record: before\['batchSize'\] is missing/);
  w.close();
  const t = readTrace(dir);
  assert.deepEqual(t.updates, [decision(0), decision(1)]);
  assert.deepEqual(t.records.map((r) => r.type), ['step', 'update', 'update']);
  assert.match(fs.readFileSync(path.join(dir, TRACE_FILE), 'utf8').split('\n')[1]!, /^\{"type":"update","step":0,/);
});

test('a trace of the first format (no dot products, no updates, epochs from 0) still reads', () => {
  const dir = tmpDir();
  writeJsonAtomic(path.join(dir, MANIFEST_FILE), manifest());
  const { gradDotPrevGrad: _g, gradDotPrevUpdate: _u, ...old } = stepEvent(0);
  const lines = [
    { type: 'event', kind: 'start', wallTime: 0, step: 0, epoch: 0, message: 'policy constant' },
    { type: 'step', ...old },
    { type: 'event', kind: 'epoch', wallTime: 5, step: 1, epoch: 0, message: 'epoch 1: loss 0.5' },
    { type: 'event', kind: 'end', wallTime: 6, step: 1, epoch: 1 },
  ];
  fs.writeFileSync(path.join(dir, TRACE_FILE), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const t = readTrace(dir);
  assert.deepEqual(t.steps, [{ ...old, gradDotPrevGrad: null, gradDotPrevUpdate: null }]);
  assert.deepEqual(t.events.map((e) => e.kind), ['start', 'epoch', 'end']);
  assert.deepEqual(t.updates, []);
});

test('the resume view: a start at step N drops what the replay redoes, keeps what the checkpoint held', () => {
  const ev = (kind: 'start' | 'epoch' | 'health' | 'stop', step: number): TraceRecord => ({ type: 'event', kind, wallTime: step, step });
  const records: TraceRecord[] = [
    ev('start', 0),
    ...[0, 1, 2, 3].map((n): TraceRecord => ({ type: 'step', ...stepEvent(n) })),
    ev('epoch', 2), { type: 'update', ...decision(1) }, // the epoch ending at the checkpoint, and the decision after step 1
    { type: 'metric', ...sample(2) }, { type: 'update', ...decision(2) }, ev('health', 2), ev('epoch', 4), // redone by the replay
    ev('start', 2),
    ...[2, 3].map((n): TraceRecord => ({ type: 'step', ...stepEvent(n, { loss: 0.25 }) })),
    ev('stop', 4),
  ];
  const v = traceView(records);
  assert.deepEqual(v.steps.map((s) => [s.step, s.loss]), [[0, 0.5], [1, 0.5], [2, 0.25], [3, 0.25]]);
  assert.deepEqual(v.metrics, []);
  assert.deepEqual(v.updates, [decision(1)]);
  assert.deepEqual(v.events.map((e) => [e.kind, e.step]), [['start', 0], ['epoch', 2], ['start', 2], ['stop', 4]]);
});

test('docs/trace.md names every record field and metric group, and its example runs', async () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/trace.md'), 'utf8');
  for (const schema of [StepEventSchema, MetricSampleSchema, LifecycleEventSchema, PolicyDecisionSchema]) {
    for (const field of Object.keys(schema.shape)) assert.ok(doc.includes(`\`${field}\``), `docs/trace.md lacks the field ${field}`);
  }
  for (const g of SAMPLE_GROUPS) assert.ok(doc.includes(`\`${g}\``), `docs/trace.md lacks the group ${g}`);

  const code = /<!-- example: reading a trace -->\n```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(code, 'the example block');
  assert.ok(code.trim().split('\n').length <= 10, 'ten lines at most');
  const dir = tmpDir();
  const w = createRun(dir, manifest());
  w.event({ kind: 'start', step: 0, wallTime: 0 });
  w.step(stepEvent(0, { loss: 0.75 }));
  w.metric(sample(0));
  w.step(stepEvent(1, { loss: 0.625 }));
  w.event({ kind: 'epoch', step: 2, epoch: 1, wallTime: 7, loss: 0.7, accuracy: 0.5, valLoss: 0.8125, valAccuracy: 0.5 });
  w.update(decision(1));
  w.event({ kind: 'end', step: 2, wallTime: 8 });
  w.close();
  const script = path.join(dir, 'example.mts'); // an ES module, as gradcond is
  fs.writeFileSync(script, code.replace("from 'gradcond'", `from ${JSON.stringify(path.join(ROOT, 'src/index.ts'))}`));
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (c) => (c === 0 ? resolve(stdout) : reject(new Error(`example exited ${c}: ${stderr}`))));
  });
  assert.deepEqual(out.trimEnd().split('\n'), [
    '2 steps, last loss 0.6250',
    'epoch 1: val_loss 0.8125',
    'after step 1: lr 0.1 -> 0.05',
    'kappaW sampled 1 times; complete',
  ]);
});
