/**
 * A training run whose stop is slow, for the corpus' "a second Ctrl-C exits at once" case:
 *
 *     node --import tsx test/corpus/signalChild.ts <runDir>
 *
 * It installs the command line's own signal handlers (those of `gradcond train`) and trains a
 * tiny MLP; from step 3 on it prints "ready" and each step waits 5 s, so that a run told to stop
 * is still finishing its step when the second signal comes.
 */
import * as fs from 'node:fs';
import { useBackend } from '../../src/backend/backend.js';
import { signalHandlers } from '../../src/cli/commands/train.js';
import { syntheticClusters } from '../../src/data/synthetic.js';
import { mlp } from '../../src/models/zoo.js';
import { train } from '../../src/trainer/train.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: signalChild.ts <runDir>');
await useBackend('cpu');
const data = syntheticClusters({ size: 64, inputShape: [4], classes: 3, seed: 1 });
const model = mlp({ inputShape: [4], classes: 3, seed: 1 }, [8]);
const signals = signalHandlers();
await train(model, data, {
  steps: 100_000, batchSize: 8, learningRate: 0.1, metrics: { groups: 'none' }, runDir: dir, signal: signals.abort,
  onStep: async (e) => {
    if (e.step < 3) return;
    fs.writeSync(1, 'ready\n');
    await new Promise((r) => setTimeout(r, 5000));
  },
});
fs.writeSync(1, 'finished\n');
