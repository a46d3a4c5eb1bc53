/**
 * Corpus, library options: every bad value of OPTION_CASES given where the library takes it —
 * refused at once, one line, the exit code and message the command line gives for the same
 * value (corpusCli.test.ts runs the command lines), no tensor left behind.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { syntheticClusters } from '../src/data/synthetic.js';
import { debugWanted, exitReport, printError } from '../src/cli/exit.js';
import { UnsupportedError, UsageError } from '../src/errors.js';
import { setLogger } from '../src/log.js';
import { train } from '../src/trainer/train.js';
import { optionLabel } from '../src/validation.js';
import { assertRefused } from './corpus/harness.js';
import { type LibContext, OPTION_CASES } from './corpus/optionCases.js';

const made: { dispose(): void }[] = [];
const ctx: LibContext = {
  model: () =>
    ctx.track(tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 5, activation: 'tanh' }), tf.layers.dense({ units: 3, activation: 'softmax' })] })),
  data: syntheticClusters({ size: 16, inputShape: [4], classes: 3, seed: 1 }),
  track: (x) => (made.push(x), x),
};

before(async () => {
  await useBackend('cpu');
});

describe('corpus: library options, refused where they are given with the command line’s line', () => {
  for (const c of OPTION_CASES) {
    test(c.name, async () => {
      for (const [k, call] of c.lib.entries()) {
        const tensors = tf.memory().numTensors;
        try {
          await assertRefused(() => call(ctx), 2, c.line);
        } catch (e) {
          assert.fail(`library call ${k}: ${(e as Error).message}`);
        } finally {
          // What the call's caller made (models, optimizers), the caller frees.
          for (const x of made.splice(0)) x.dispose();
        }
        assert.equal(tf.memory().numTensors, tensors, `library call ${k} left tensors behind`);
      }
    });
  }
});

describe('corpus: the one line, as the command line prints it', () => {
  test('a UsageError is exit 2 and its message; an unexpected error is exit 1 with its stack kept for debugging', () => {
    assert.deepEqual(exitReport(new UsageError('batchSize (--batch-size) must be a positive integer, got 0')), { code: 2, line: 'batchSize (--batch-size) must be a positive integer, got 0' });
    const bug = new TypeError("Cannot read properties of undefined (reading 'shape')\n    at f (x.ts:1:1)");
    const r = exitReport(bug);
    assert.deepEqual([r.code, r.line], [1, "unexpected error: Cannot read properties of undefined (reading 'shape')"]);
    assert.equal(r.stack, bug.stack);
    assert.equal(exitReport('a thrown string').line, 'unexpected error: a thrown string');
  });

  test('the stack is shown only when asked for (--log-level debug or GRADCOND_DEBUG=1)', () => {
    const bug = new TypeError('x is undefined');
    const quiet: string[] = [];
    assert.equal(printError(bug, debugWanted(['train']), (t) => void quiet.push(t)), 1);
    assert.deepEqual(quiet, ['gradcond: unexpected error: x is undefined (GRADCOND_DEBUG=1 shows the stack)\n']);
    for (const argv of [['train', '--log-level', 'debug'], ['train', '--log-level=debug']]) {
      const loud: string[] = [];
      assert.equal(printError(bug, debugWanted(argv), (t) => void loud.push(t)), 1);
      assert.deepEqual(loud, ['gradcond: unexpected error: x is undefined\n', `${bug.stack}\n`]);
    }
    const usage: string[] = [];
    assert.equal(printError(new UsageError('epochs must be a positive integer, got 0'), true, (t) => void usage.push(t)), 2);
    assert.deepEqual(usage, ['gradcond: epochs must be a positive integer, got 0\n'], 'bad input has no stack, even in debug');
  });

  test('a bad GRADCOND_LOG_LEVEL is refused when train() starts, not at its first log line mid-run', async () => {
    const saved = process.env.GRADCOND_LOG_LEVEL;
    const previous = setLogger(undefined);
    process.env.GRADCOND_LOG_LEVEL = 'loud';
    try {
      const m = ctx.model();
      await assertRefused(() => train(m, ctx.data, { batchSize: 8, learningRate: 0.1, steps: 1 }), 2, "GRADCOND_LOG_LEVEL='loud' is not a log level: choose one of error, warn, info, debug");
    } finally {
      if (saved === undefined) delete process.env.GRADCOND_LOG_LEVEL;
      else process.env.GRADCOND_LOG_LEVEL = saved;
      setLogger(previous);
      for (const x of made.splice(0)) x.dispose();
    }
  });

  test('a model the engine cannot measure is bad input (exit 2)', () => {
    assert.deepEqual(exitReport(new UnsupportedError('BatchNormalization in training mode couples the examples of a batch')), { code: 2, line: 'BatchNormalization in training mode couples the examples of a batch' });
  });

  test('a kernel the backend lacks names the backend to use (exit 2); a stack overflow reads as nesting (exit 2)', () => {
    assert.deepEqual(exitReport(new Error("Kernel 'UnsortedSegmentSum' not registered for backend 'wasm'")), {
      code: 2, line: "the wasm backend has no 'UnsortedSegmentSum' kernel, which this model needs: run with --backend cpu",
    });
    assert.deepEqual(exitReport(new RangeError('Maximum call stack size exceeded')), { code: 2, line: 'the input is nested too deeply to read (maximum call stack size exceeded)' });
  });

  test('an error from inside a tf.data generator loses tfjs’ prefix', () => {
    const e = new UsageError('Error thrown while iterating through a dataset: dynamicBatches: batchSize() must return a positive integer, got 0');
    assert.equal(exitReport(e).line, 'dynamicBatches: batchSize() must return a positive integer, got 0');
  });

  test('options are named as the library spells them, with the flag where the command line spells it otherwise', () => {
    assert.deepEqual(
      ['budget', 'batchSize', 'learningRate', 'onStep'].map(optionLabel),
      ['budget', 'batchSize (--batch-size)', 'learningRate (--lr)', 'onStep'],
    );
  });
});
