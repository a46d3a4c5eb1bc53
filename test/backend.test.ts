import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { MAX_WASM_THREADS } from '../src/backend/wasmThreads.js';
import { defaultThreads, parseBackend, parseThreads, useBackend } from '../src/backend/backend.js';
import { installedOverrides } from '../src/backend/overrides.js';
import { UsageError } from '../src/errors.js';

test('auto picks wasm with gradcond kernels when no native backend is installed', async () => {
  // tfjs-node cannot install here (it downloads a binary); the test asserts that precondition.
  await assert.rejects(import('@tensorflow/tfjs-node' as string));
  const active = await useBackend('auto');
  assert.equal(active.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual([...active.overrides].sort(), [...installedOverrides('wasm')].sort());
  assert.ok(active.overrides.includes('Conv2DBackpropFilter'));
  // Every core by default (the threaded build starts here: test/threads.test.ts covers it).
  assert.equal(active.threads, defaultThreads());
  assert.equal(defaultThreads(), Math.min(os.availableParallelism(), MAX_WASM_THREADS));
  const n0 = tf.memory().numTensors;
  assert.deepEqual([...tf.tidy(() => tf.matMul([[1, 2], [3, 4]], [[5], [6]]).dataSync())], [17, 39]);
  assert.equal(tf.memory().numTensors, n0);
});

test('a thread count must be an integer from 1 to 8: anything else is a clear error', async () => {
  for (const n of [1, 4, 8]) assert.equal(parseThreads(n), n);
  for (const bad of [0, 9, -1, 1.5, Number.NaN, '2']) {
    assert.throws(() => parseThreads(bad), (e: unknown) => e instanceof UsageError && /^--threads must be an integer from 1 to 8, got \S+$/.test(e.message), String(bad));
  }
  await assert.rejects(useBackend('cpu', { threads: 0 }), UsageError);
});

test('importing gradcond registers no wasm backend and chooses none', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
    const { tf } = await import('./src/backend/tf.js');
    await import('./src/index.js');
    console.log(JSON.stringify({ wasm: 'wasm' in tf.engine().registryFactory, chosen: tf.engine().backendName ?? null }));`],
  { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { wasm: false, chosen: null });
});

test('an unknown backend is a clear error', async () => {
  assert.throws(() => parseBackend('tpu'), (e: unknown) => e instanceof UsageError && /unknown backend 'tpu': choose one of auto, wasm, cpu, node, node-gpu/.test(e.message));
  await assert.rejects(useBackend('node'), /needs @tensorflow\/tfjs-node installed/);
});

test('the CLI rejects an unknown --backend in one line with exit code 2', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--backend', 'tpu'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^gradcond: .*backend.*tpu.*\n$/);
});
