/**
 * `gradcond probe` end to end: a child process on saved models and a data.json, as a user
 * runs it. Good input prints the metrics (JSON or a table) equal to `probe()` in-process; bad
 * input exits 2 with one `gradcond: ` line on stderr and no stack trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { loadModel, saveModel } from '../src/models/io.js';
import { probe, readProbeData } from '../src/probe.js';
import { seeded, setSeededWeights } from './helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const METRICS = ['kappaW', 'cosSimW', 'diversityW', 'coherenceW', 'kappaX', 'stableRankX', 'rankX', 'stableRankW', 'rankW', 'confusion', 'diversity', 'coherence', 'noiseScale'];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function gradcond(...args: string[]): Run {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Nested arrays of deterministic numbers. */
function nested(shape: number[], seed: number): unknown[] {
  const flat = Array.from(seeded(shape.reduce((a, b) => a * b, 1), seed));
  const build = (dims: number[], off: number): unknown => {
    if (dims.length === 0) return flat[off];
    const stride = dims.slice(1).reduce((a, b) => a * b, 1);
    return Array.from({ length: dims[0] }, (_, i) => build(dims.slice(1), off + i * stride));
  };
  return build(shape, 0) as unknown[];
}

const oneHotRows = (b: number, k: number, seed: number) => Array.from({ length: b }, (_, i) => Array.from({ length: k }, (_, j) => (j === (i * 7 + seed) % k ? 1 : 0)));

function batches(inputShape: number[], classes: number, b = 4, n = 3) {
  return Array.from({ length: n }, (_, k) => ({ x: nested([b, ...inputShape], 50 + k), y: oneHotRows(b, classes, k) }));
}

describe('gradcond probe (CLI)', () => {
  let dir = '';
  let denseModel = '';
  let convModel = '';
  let denseData = '';
  let convData = '';
  const write = (name: string, content: unknown): string => {
    const p = join(dir, name);
    writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
    return p;
  };

  before(async () => {
    await useBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'gradcond-probe-'));
    const d = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 5, activation: 'tanh' }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    setSeededWeights(d, 3);
    await saveModel(d, join(dir, 'dense'));
    d.dispose();
    const c = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2, activation: 'softmax' }),
    ] });
    setSeededWeights(c, 4);
    await saveModel(c, join(dir, 'conv'));
    c.dispose();
    denseModel = join(dir, 'dense', 'model.json');
    convModel = join(dir, 'conv', 'model.json');
    denseData = write('dense.json', { loss: 'categoricalCrossentropy', batches: batches([4], 3) });
    convData = write('conv.json', { loss: 'categoricalCrossentropy', batches: batches([5, 5, 2], 2) });
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function inProcess(model: string, data: string, opts: { loss?: string; eta?: number } = {}) {
    const m = await loadModel(model);
    const d = readProbeData(data);
    try {
      return probe(m, d, { loss: opts.loss, eta: opts.eta ?? 1e-3, n: 4, mask: 1, seed: 0 });
    } finally {
      for (const b of d.batches) tf.dispose([b.x, b.y]);
      m.dispose();
    }
  }

  function checkJson(run: Run, want: { metrics: Record<string, number | null>; reasons: Record<string, string> }): void {
    assert.equal(run.code, 0, `exit code ${run.code}; stderr: ${run.stderr}`);
    const lines = run.stdout.split('\n').filter((l) => l.length > 0);
    assert.equal(lines.length, 1, `expected one JSON line, got:\n${run.stdout}`);
    const got = JSON.parse(lines[0]) as { metrics: Record<string, number | null>; reasons: Record<string, string> };
    assert.deepEqual(Object.keys(got).sort(), ['metrics', 'reasons']);
    assert.deepEqual(Object.keys(got.metrics).sort(), [...METRICS].sort());
    for (const name of METRICS) {
      const v = got.metrics[name];
      if (v === null) {
        assert.equal(typeof got.reasons[name], 'string', `${name}: null without a reason`);
        assert.ok(got.reasons[name].length > 0, `${name}: empty reason`);
        assert.equal(want.metrics[name], null, `${name}: null from the CLI, ${want.metrics[name]} in-process`);
      } else {
        assert.equal(typeof v, 'number', `${name}: ${v}`);
        assert.ok(Number.isFinite(v), `${name}: ${v}`);
        assert.equal(got.reasons[name], undefined, `${name}: a number with a reason`);
        const w = want.metrics[name];
        assert.ok(w !== null, `${name}: ${v} from the CLI, null in-process`);
        const err = Math.abs(v - w) / Math.max(Math.abs(w), 1e-30);
        assert.ok(err <= 1e-6, `${name}: CLI ${v} vs in-process ${w} (relative error ${err.toExponential(2)})`);
      }
    }
    for (const name of Object.keys(got.reasons)) assert.equal(got.metrics[name], null, `reason for non-null ${name}`);
  }

  test('--json on a Dense model: one line, all 13 metrics, equal to probe() in-process', async () => {
    const run = gradcond('probe', '--model', denseModel, '--data', denseData, '--backend', 'cpu', '--json');
    checkJson(run, await inProcess(denseModel, denseData));
  });

  test('--json on a Conv2D model with --loss and --eta', async () => {
    const run = gradcond('probe', '--model', convModel, '--data', convData, '--backend', 'cpu', '--json', '--loss', 'meanSquaredError', '--eta', '0.01');
    checkJson(run, await inProcess(convModel, convData, { loss: 'meanSquaredError', eta: 0.01 }));
  });

  test('without --json: a table, one line per metric, and the per-example path', async () => {
    const run = gradcond('probe', '--model', denseModel, '--data', denseData, '--backend', 'cpu');
    assert.equal(run.code, 0, run.stderr);
    const [table, footer] = run.stdout.split('\n\n');
    const lines = table.split('\n').filter((l) => l.trim().length > 0);
    assert.equal(lines.length, METRICS.length, run.stdout);
    assert.equal(footer, 'per-example gradients: one batched pass\n');
    const want = await inProcess(denseModel, denseData);
    lines.forEach((line, i) => {
      const [name, value] = line.trim().split(/\s+/);
      assert.equal(name, METRICS[i]);
      if (want.metrics[name] === null) assert.match(line, /null\s+\(.+\)/);
      else assert.ok(Math.abs(Number(value) - want.metrics[name]!) <= 1e-5 * Math.abs(want.metrics[name]!), `${line} vs ${want.metrics[name]}`);
    });
  });

  test('--gram-subset: the Gram-based metrics as means over sub-batches, with standard errors, as probe() gives them', async () => {
    const json = gradcond('probe', '--model', denseModel, '--data', denseData, '--backend', 'cpu', '--json', '--gram-subset', '2');
    assert.equal(json.code, 0, json.stderr);
    const got = JSON.parse(json.stdout) as { metrics: Record<string, number | null>; gramSubset: { size: number; parts: number; standardErrors: Record<string, number | null> } };
    assert.equal(got.gramSubset.size, 2);
    assert.equal(got.gramSubset.parts, 2);
    assert.deepEqual(Object.keys(got.gramSubset.standardErrors).sort(), ['coherence', 'gradSqEstimate', 'noiseScale', 'rankW', 'rankX', 'stableRankW', 'stableRankX', 'traceSigma']);
    const m = await loadModel(denseModel);
    const d = readProbeData(denseData);
    const want = probe(m, d, { eta: 1e-3, n: 4, mask: 1, seed: 0, gramSubset: 2 });
    for (const b of d.batches) tf.dispose([b.x, b.y]);
    m.dispose();
    assert.deepEqual(got.metrics, want.metrics);
    const exact = await inProcess(denseModel, denseData);
    assert.equal(got.metrics.kappaW, exact.metrics.kappaW, 'groups without a Gram matrix are exact');
    assert.notEqual(got.metrics.stableRankW, exact.metrics.stableRankW, 'an estimate at batch size 2, not the batch of 4');
    const table = gradcond('probe', '--model', denseModel, '--data', denseData, '--backend', 'cpu', '--gram-subset', '2');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^stableRankW\s+\S+ ± \S+$/m);
    assert.match(table.stdout, /mean and standard error over 2 disjoint random sub-batches of 2 examples/);
  });

  test('probe --help explains every option', () => {
    const run = gradcond('probe', '--help');
    assert.equal(run.code, 0, run.stderr);
    for (const opt of ['model', 'data', 'loss', 'eta', 'n', 'mask', 'seed', 'json', 'backend']) {
      // yargs shows one-letter options with one dash (-n).
      const flag = new RegExp(`^\\s*--?${opt}\\b`);
      const line = run.stdout.split('\n').find((l) => flag.test(l));
      assert.ok(line, `--${opt} missing from the help:\n${run.stdout}`);
      const text = line.replace(flag, '').replace(/\[[^\]]*\]/g, '').trim();
      assert.ok(/[a-z]{3,}/i.test(text), `--${opt} has no explanation: ${line}`);
    }
  });

  describe('bad input: exit 2, one "gradcond: " line, no stack trace', () => {
    // The default backend (auto: wasm here), as a user runs it; --backend cpu is checked once below.
    const bad = (name: string, args: () => string[], mentions: RegExp, backend: string[] = []) =>
      test(name, () => {
        const run = gradcond('probe', ...backend, ...args());
        assert.equal(run.code, 2, `exit code ${run.code}\nstderr:\n${run.stderr}`);
        assert.equal(run.stdout, '', `stdout: ${run.stdout}`);
        assert.ok(!run.stderr.includes('    at '), `stack trace on stderr:\n${run.stderr}`);
        const lines = run.stderr.split('\n').filter((l) => l.length > 0);
        assert.equal(lines.length, 1, `expected one line on stderr, got ${lines.length}:\n${run.stderr}`);
        assert.ok(lines[0].startsWith('gradcond: '), lines[0]);
        assert.match(lines[0], mentions);
      });
    const good = () => denseData;
    bad('missing model file', () => ['--model', join(dir, 'nope', 'model.json'), '--data', good()], /model file not found/);
    bad('missing data file', () => ['--model', denseModel, '--data', join(dir, 'nope.json')], /data file not found/);
    bad('malformed JSON', () => ['--model', denseModel, '--data', write('malformed.json', '{"batches": [')], /malformed JSON/);
    bad('no batches', () => ['--model', denseModel, '--data', write('nobatches.json', { loss: 'categoricalCrossentropy' })], /batches/);
    bad('examples of the wrong shape', () => ['--model', denseModel, '--data', write('shape.json', { loss: 'categoricalCrossentropy', batches: batches([5], 3) })], /shape/);
    bad('targets that do not fit', () => ['--model', denseModel, '--data', write('targets.json', { loss: 'categoricalCrossentropy', batches: batches([4], 4) })], /targets/);
    bad('--loss nope', () => ['--model', denseModel, '--data', good(), '--loss', 'nope'], /loss/);
    bad('unknown loss in data.json', () => ['--model', denseModel, '--data', write('loss.json', { loss: 'nope', batches: batches([4], 3) })], /unknown loss 'nope'/);
    bad('fewer than 2 batches', () => ['--model', denseModel, '--data', write('one.json', { loss: 'categoricalCrossentropy', batches: batches([4], 3, 4, 1) })], /2 batches/);
    bad('strings in x', () => {
      const bs = batches([4], 3);
      (bs[1].x[2] as unknown[])[1] = 'a';
      return ['--model', denseModel, '--data', write('strings.json', { loss: 'categoricalCrossentropy', batches: bs })];
    }, /batch 1 x/);
    bad('null in x', () => {
      const bs = batches([4], 3);
      (bs[0].x[0] as unknown[])[3] = null;
      return ['--model', denseModel, '--data', write('nulls.json', { loss: 'categoricalCrossentropy', batches: bs })];
    }, /batch 0 x/);
    bad('--eta -1', () => ['--model', denseModel, '--data', good(), '--eta', '-1'], /eta/);
    bad('--mask 0', () => ['--model', denseModel, '--data', good(), '--mask', '0'], /mask/);
    bad('--mask 2', () => ['--model', denseModel, '--data', good(), '--mask', '2'], /mask/);
    bad('--gram-subset 1', () => ['--model', denseModel, '--data', good(), '--gram-subset', '1'], /gramSubset \(--gram-subset\) must be an integer ≥ 2, got 1/);
    // tfjs' cpu backend prints a multi-line "install tfjs-node" banner on stderr at its first tensor.
    bad('fewer than 2 batches, --backend cpu', () => ['--model', denseModel, '--data', write('one-cpu.json', { loss: 'categoricalCrossentropy', batches: batches([4], 3, 4, 1) })], /2 batches/, ['--backend', 'cpu']);
  });
});
