import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { parseBackend, useBackend } from '../src/backend/backend.js';
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
