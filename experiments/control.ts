/**
 * Experiment 5 (the thesis, section 4.2.2): hyperparameter control. Constant runs over a grid of batch
 * sizes × learning rates, then the thesis-driven policies against the baselines and the
 * literature's policies, started from one cell of that grid, judged on test accuracy, examples
 * seen and wall time to a target.
 */
import type { DefinitionInput, VariantInput } from '../src/experiments/types.js';
import { QUICK_DATA } from './traces.js';

/** Every registered policy: baselines, literature, and the thesis-driven ones. */
const POLICIES = [
  { name: 'constant' }, { name: 'step' }, { name: 'cosine' }, { name: 'plateau', options: { patience: 2, factor: 0.5 } },
  { name: 'noise-scale' }, { name: 'goodput' }, { name: 'adascale' }, { name: 'hypergradient' },
  { name: 'divebatch' }, { name: 'cabs' }, { name: 'adabatch' },
  { name: 'step-consistency-lr' }, { name: 'batch-dissonance-batch' }, { name: 'conditioned' },
] satisfies VariantInput['blocks'][number]['policies'];

export const control: DefinitionInput = {
  name: 'control',
  number: 5,
  title: 'Hyperparameter control',
  question: 'Can the conditioning metrics steer the learning rate and the batch size better than fixed values, schedules, and the adaptive policies of the literature? Judged on test accuracy, and on examples seen and wall time to reach a target validation accuracy.',
  figures: [],
  analysis: 'control',
  quick: {
    settings: {
      data: QUICK_DATA, optimizer: 'sgd',
      // Examples, not steps: the fair budget when policies change the batch size.
      budget: { kind: 'examples', value: 6400 }, validateEvery: 20,
      // Only the groups a policy reads are sampled (constant runs pay for no metrics), at a fixed
      // cadence: a time budget would make a run depend on the machine's load, not only its seed.
      metrics: { groups: 'none', every: 10 },
    },
    blocks: [
      {
        name: 'grid',
        architectures: [{ label: 'fc-relu', zoo: 'fc-orthogonal', options: { activation: 'relu' }, depths: [2], widths: [64] }],
        batchSizes: [16, 32, 64], learningRates: [0.05, 0.2], policies: [{ name: 'constant' }], seeds: [0, 1],
      },
      {
        name: 'policies',
        architectures: [{ label: 'fc-relu', zoo: 'fc-orthogonal', options: { activation: 'relu' }, depths: [2], widths: [64] }],
        batchSizes: [32], learningRates: [0.05], policies: POLICIES, seeds: [0, 1],
      },
    ],
    analysis: {},
  },
  full: {
    settings: {
      data: { name: 'embedded' }, optimizer: 'sgd',
      budget: { kind: 'examples', value: 90_000 }, validateEvery: 50,
      metrics: { groups: 'none', every: 20 },
    },
    blocks: [
      {
        name: 'grid',
        architectures: [{ label: 'fc-relu', zoo: 'fc-orthogonal', options: { activation: 'relu' }, depths: [4], widths: [256] }],
        batchSizes: [16, 32, 64, 128, 256], learningRates: [0.01, 0.03, 0.1, 0.3], policies: [{ name: 'constant' }], seeds: [0, 1, 2, 3, 4],
      },
      {
        name: 'policies',
        architectures: [{ label: 'fc-relu', zoo: 'fc-orthogonal', options: { activation: 'relu' }, depths: [4], widths: [256] }],
        batchSizes: [64], learningRates: [0.1], policies: POLICIES, seeds: [0, 1, 2, 3, 4],
      },
    ],
    analysis: {},
  },
};
