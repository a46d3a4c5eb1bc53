/**
 * The architecture-search experiment: does gradcond's fitness score, taken at initialisation,
 * rank candidate architectures by the accuracy they then reach — and better than the zero-cost
 * proxies of the NAS literature on the same candidates and the same batch? Every candidate
 * trains once for the same budget (plain SGD, same rate, same data order); the analysis
 * (src/fitness/analysis.ts) rebuilds each at initialisation, scores it, and correlates.
 *
 * The candidates span depth, width, activation (ReLU, CReLU, tanh, SELU, linear), skip
 * connections (ResNet against the plain CNN), batch normalisation and initialisation
 * (orthogonal, Glorot, looks-linear), and include networks expected to fail: deep plain ReLU
 * stacks with Glorot kernels, a deep linear stack, and networks too narrow to carry a signal.
 */
import type { DefinitionInput } from '../src/experiments/types.js';

/** What every run shares: plain SGD, no metric sampling during training (the score is taken at initialisation). */
const TRAINING = { optimizer: 'sgd', metrics: { groups: 'none' } } as const;
const GRID = { batchSizes: [32], learningRates: [0.05], policies: [{ name: 'constant' }], seeds: [1] };

export const fitness: DefinitionInput = {
  name: 'fitness',
  title: 'Fitness at initialisation against accuracy reached, and against the zero-cost proxies',
  question:
    'Does the fitness score, computed at initialisation, rank architectures by the validation accuracy they reach with a fixed training budget — and how does it compare with grad_norm, snip, synflow, jacov, naswot and the parameter count on the same candidates and batch?',
  analysis: 'fitness',
  quick: {
    // 10 candidates, 150 steps each: about 2 minutes on 2 shared cores (training 76 s, analysis 10 s measured).
    settings: { ...TRAINING, data: { name: 'embedded', examples: 2000, valExamples: 500, testExamples: 0 }, budget: { kind: 'steps', value: 150 } },
    blocks: [{
      name: 'candidates',
      architectures: [
        { label: 'fc-relu', zoo: 'fc-orthogonal', depths: [2, 16], widths: [64] },
        { label: 'fc-tanh', zoo: 'fc-orthogonal', options: { activation: 'tanh' }, depths: [4], widths: [64] },
        { label: 'fc-crelu', zoo: 'fc-orthogonal', options: { activation: 'crelu' }, depths: [4], widths: [32] },
        { label: 'fc-narrow', zoo: 'fc-orthogonal', depths: [8], widths: [4] },
        { label: 'mlp-linear', zoo: 'mlp', options: { activation: 'linear' }, depths: [24], widths: [32] },
        { label: 'mlp-relu', zoo: 'mlp', depths: [32], widths: [32] },
        { label: 'mlp-relu-bn', zoo: 'mlp', options: { batchNorm: true }, depths: [32], widths: [32] },
        { label: 'cnn-plain', zoo: 'cnn-plain', depths: [2], widths: [4] },
        { label: 'resnet', zoo: 'resnet', depths: [2], widths: [4] },
      ],
      ...GRID,
    }],
    analysis: { batchSize: 32, batches: 4, seed: 7 },
  },
  full: {
    // 31 candidates, 300 steps each on 4,000 images: about 25 minutes on 2 shared cores (training
    // 24 min, most of it the deep convolutional networks; analysis 1 min).
    settings: { ...TRAINING, data: { name: 'embedded', examples: 4000, valExamples: 500, testExamples: 0 }, budget: { kind: 'steps', value: 300 } },
    blocks: [{
      name: 'candidates',
      architectures: [
        { label: 'fc-relu', zoo: 'fc-orthogonal', depths: [4, 16, 48], widths: [64] },
        { label: 'fc-tanh', zoo: 'fc-orthogonal', options: { activation: 'tanh' }, depths: [4, 32], widths: [64] },
        { label: 'fc-linear', zoo: 'fc-orthogonal', options: { activation: 'linear' }, depths: [4], widths: [64] },
        { label: 'fc-crelu', zoo: 'fc-orthogonal', options: { activation: 'crelu' }, depths: [4, 48], widths: [32] },
        { label: 'looks-linear', zoo: 'fc-crelu-ll', depths: [16], widths: [64] },
        { label: 'fc-narrow', zoo: 'fc-orthogonal', depths: [2, 8], widths: [2, 4] },
        { label: 'mlp-relu', zoo: 'mlp', depths: [2, 16, 48], widths: [64] },
        { label: 'mlp-relu-bn', zoo: 'mlp', options: { batchNorm: true }, depths: [16, 48], widths: [64] },
        { label: 'mlp-tanh', zoo: 'mlp', options: { activation: 'tanh' }, depths: [32], widths: [32] },
        { label: 'mlp-selu', zoo: 'mlp', options: { activation: 'selu' }, depths: [8], widths: [64] },
        { label: 'mlp-linear', zoo: 'mlp', options: { activation: 'linear' }, depths: [24], widths: [32] },
        { label: 'cnn', zoo: 'cnn', depths: [2], widths: [8] },
        { label: 'cnn-plain', zoo: 'cnn-plain', depths: [4, 12, 20], widths: [8] },
        { label: 'cnn-plain-bn', zoo: 'cnn-plain', options: { batchNorm: true }, depths: [12], widths: [8] },
        { label: 'cnn-plain-tanh', zoo: 'cnn-plain', options: { activation: 'tanh' }, depths: [4], widths: [8] },
        { label: 'resnet', zoo: 'resnet', depths: [4, 12], widths: [8] },
        { label: 'resnet-bn', zoo: 'resnet', options: { batchNorm: true }, depths: [12], widths: [8] },
        { label: 'resnet-linear', zoo: 'resnet', options: { activation: 'linear' }, depths: [4], widths: [8] },
      ],
      ...GRID,
    }],
    analysis: { batchSize: 32, batches: 4, seed: 7 },
  },
};
