/**
 * Chapter-4 experiment 3: mask effectiveness (thesis section 1.6 and the mask figures of
 * chapters 2–4). Measures by itself: no training runs, so `blocks` is empty and the analysis
 * options say what to measure (src/experiments/masks.ts).
 */
import type { DefinitionInput } from '../src/experiments/types.js';

export const masks: DefinitionInput = {
  name: 'masks',
  number: 3,
  title: 'Mask effectiveness',
  question:
    'How far does a random mask that keeps a fraction p of every layer\'s coordinates move each metric from its unmasked value, and how much time does it save? From which p is every metric within 5%?',
  figures: ['figure 2.3', 'figure 3.1', 'figure 3.6', 'figure 3.14', 'figure 3.15', 'figure 3.18', 'figure 4.1', 'figure 4.2'],
  analysis: 'masks',
  quick: {
    // About 30–50 s on 2 shared cores: two networks of ~27k parameters, one batch per stage.
    settings: {
      data: { name: 'embedded', examples: 512, valExamples: 0, testExamples: 0 },
      optimizer: 'sgd',
      budget: { kind: 'steps', value: 20 }, // the last stage's training steps (analysis.trainSteps)
    },
    blocks: [],
    analysis: {
      architectures: [
        { label: 'mlp', zoo: 'mlp', depths: [2], widths: [32] },
        { label: 'cnn', zoo: 'cnn', depths: [1], widths: [4] },
      ],
      fractions: [0.01, 0.05, 0.2, 0.5],
      maskSeeds: 2,
      batches: 1,
      batchSize: 32,
      trainSteps: [0, 20],
      learningRate: 0.05,
      inputDirections: 2,
    },
  },
  full: {
    // About 2–3 h on 2 shared cores (estimated 2.7 h here), most of it the ResNet (~45 s per
    // measurement of all groups):
    // 3 networks of 0.1–0.3M parameters, 6 fractions × 3 masks, 3 batches at initialisation and
    // after 200 steps.
    settings: {
      data: { name: 'embedded', examples: 4096, valExamples: 0, testExamples: 0 },
      optimizer: 'sgd',
      budget: { kind: 'steps', value: 200 },
    },
    blocks: [],
    analysis: {
      architectures: [
        { label: 'mlp', zoo: 'mlp', depths: [2], widths: [256] },
        { label: 'cnn', zoo: 'cnn', depths: [2], widths: [16] },
        { label: 'resnet', zoo: 'resnet', depths: [4], widths: [16] },
      ],
      fractions: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
      maskSeeds: 3,
      batches: 3,
      batchSize: 64,
      trainSteps: [0, 200],
      learningRate: 0.05,
      inputDirections: 4,
    },
  },
};
