/** `gradcond train`: train a model and print the loss per epoch. */
import type { CommandModule } from 'yargs';
import { tf, useBackend } from '../../backend/backend.js';
import { batchTensors, take, type Dataset } from '../../data/dataset.js';
import { fashionMnistAvailable, loadFashionMnist } from '../../data/fashionMnist.js';
import { syntheticClusters } from '../../data/synthetic.js';
import { UsageError } from '../../errors.js';
import { buildModel, MODELS } from '../../models/zoo.js';
import { backendOption } from '../options.js';

interface TrainArgs {
  model: string;
  data: string;
  examples: number;
  epochs: number;
  'batch-size': number;
  lr: number;
  seed: number;
  backend: string;
}

export function loadData(name: string, examples: number, seed: number): Dataset {
  if (name === 'synthetic') return syntheticClusters({ size: examples, seed });
  if (name === 'fashion-mnist') {
    if (!fashionMnistAvailable()) throw new UsageError('fashion-mnist not found: apt-get install dataset-fashion-mnist');
    return take(loadFashionMnist('train'), examples);
  }
  throw new UsageError(`unknown data '${name}': choose synthetic or fashion-mnist`);
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Train a model from the zoo and print the loss (default: an MLP on embedded synthetic data)',
  builder: (y) =>
    y
      .option('model', { choices: Object.keys(MODELS), default: 'mlp', describe: 'model from the zoo' })
      .option('data', { choices: ['synthetic', 'fashion-mnist'], default: 'synthetic', describe: 'data set' })
      .option('examples', { type: 'number', default: 2048, describe: 'training examples to use' })
      .option('epochs', { type: 'number', default: 3 })
      .option('batch-size', { type: 'number', default: 64 })
      .option('lr', { type: 'number', default: 0.1, describe: 'SGD learning rate' })
      .option('seed', { type: 'number', default: 0 })
      .options(backendOption),
  handler: async (args) => {
    const backend = await useBackend(args.backend);
    const data = loadData(args.data, args.examples, args.seed);
    const model = buildModel(args.model, { inputShape: data.inputShape, classes: data.classes, seed: args.seed });
    model.compile({ optimizer: tf.train.sgd(args.lr), loss: 'categoricalCrossentropy' });
    const { x, y } = batchTensors(data, Int32Array.from({ length: data.size }, (_, i) => i));
    process.stdout.write(`backend ${backend.name}, model ${args.model}, ${data.size} ${data.name} examples\n`);
    await model.fit(x, y, {
      epochs: args.epochs,
      batchSize: args['batch-size'],
      shuffle: true,
      verbose: 0,
      callbacks: { onEpochEnd: async (epoch, logs) => void process.stdout.write(`epoch ${epoch + 1}: loss ${logs?.loss.toFixed(4)}\n`) },
    });
    tf.dispose([x, y]);
  },
};
