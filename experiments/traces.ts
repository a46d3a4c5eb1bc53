/**
 * Experiment 1: every metric through training, across the thesis' architectures and depths.
 * Reproduces the thesis' trace figures (a metric against training time, one line per network).
 */
import type { DefinitionInput, VariantInput } from '../src/experiments/types.js';

/** The thesis' zoo at several depths: orthogonal fully connected nets (ReLU, CReLU), looks-linear, CNN and ResNet with batch norm. */
export const FULL_ZOO = [
  { label: 'fc-relu', zoo: 'fc-orthogonal', options: { activation: 'relu' }, widths: [256] },
  { label: 'fc-crelu', zoo: 'fc-orthogonal', options: { activation: 'crelu' }, widths: [128] },
  { label: 'looks-linear', zoo: 'fc-crelu-ll', widths: [128] },
  { label: 'cnn-bn', zoo: 'cnn-plain', options: { batchNorm: true }, depths: [4, 8, 16], widths: [16] },
  { label: 'resnet-bn', zoo: 'resnet', options: { batchNorm: true }, depths: [4, 8, 16], widths: [16] },
] satisfies VariantInput['blocks'][number]['architectures'];

/** The full variant of experiments 1 and 2: the same runs, analysed two ways. */
export const FULL_ZOO_VARIANT: VariantInput = {
  settings: {
    data: { name: 'embedded' },
    optimizer: 'sgd',
    budget: { kind: 'epochs', value: 10 },
    // Every group, every 50 steps (about three samples an epoch; the thesis sampled twice).
    metrics: { groups: 'full', every: 50 },
  },
  blocks: [{
    name: 'zoo',
    architectures: FULL_ZOO,
    depths: [2, 4, 8, 16, 32],
    batchSizes: [64],
    learningRates: [0.05],
    // The thesis trained with a decrease-on-plateau schedule.
    policies: [{ name: 'plateau', options: { monitor: 'val_loss', patience: 2, factor: 0.5 } }],
    // From 1: tfjs' initialisers read a seed of 0 as no seed, so seed 0 would not fix a CNN's first kernel.
    seeds: [1, 2, 3],
  }],
  analysis: {},
};

/** A tiny zoo for the quick variants: small widths, a slice of the embedded data, a few hundred steps. */
export const QUICK_DATA = { name: 'embedded', examples: 1024, valExamples: 256, testExamples: 256 } as const;

/** The quick variants' fully connected nets: ReLU, CReLU and looks-linear, narrow. */
export const QUICK_FC = [
  { label: 'fc-relu', zoo: 'fc-orthogonal', options: { activation: 'relu' }, widths: [32] },
  { label: 'fc-crelu', zoo: 'fc-orthogonal', options: { activation: 'crelu' }, widths: [16] },
  { label: 'looks-linear', zoo: 'fc-crelu-ll', widths: [16] },
] satisfies VariantInput['blocks'][number]['architectures'];

export const traces: DefinitionInput = {
  name: 'traces',
  number: 1,
  title: 'Metric traces across architectures',
  question: 'How does each conditioning metric evolve during training, and how do architectures and depths differ in it? The thesis measured every metric throughout training for fully connected, looks-linear, convolutional and residual networks of several depths.',
  figures: ['figure 2.5', 'figure 3.3', 'figure 3.7', 'figure 3.9', 'figure 3.12', 'figure 3.16', 'figure 3.19', 'figure 4.4', 'figure 4.6', 'figure 4.8'],
  analysis: 'traces',
  quick: {
    settings: { data: QUICK_DATA, optimizer: 'sgd', budget: { kind: 'steps', value: 150 }, metrics: { groups: 'full', every: 15 } },
    blocks: [{
      name: 'zoo',
      architectures: [
        ...QUICK_FC,
        // Without batch norm here: its training kernels on wasm make a 1-block ResNet 4× slower.
        { label: 'cnn', zoo: 'cnn-plain', depths: [2], widths: [4] },
        { label: 'resnet', zoo: 'resnet', depths: [1], widths: [4] },
      ],
      depths: [2, 6],
      batchSizes: [32],
      learningRates: [0.05],
      policies: [{ name: 'constant' }],
      seeds: [1, 2], // from 1, as the full variant's
    }],
    analysis: { maxPoints: 200 },
  },
  full: FULL_ZOO_VARIANT,
};
