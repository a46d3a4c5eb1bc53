/**
 * Chapter-4 experiment 4: metric cost against parameter count (thesis figure 4.10). Measures by
 * itself: no training runs, so `blocks` is empty and the analysis options list the networks
 * (src/experiments/cost.ts).
 */
import type { DefinitionInput } from '../src/experiments/types.js';

export const cost: DefinitionInput = {
  name: 'cost',
  number: 4,
  title: 'Metric cost against parameter count',
  question:
    'How does the time of each metric group grow with the number of trainable parameters, on its own and as a multiple of a training step? The exponent is the slope on log–log axes.',
  figures: ['figure 4.10'],
  analysis: 'cost',
  quick: {
    // About 30 s on 2 shared cores: 8 MLPs of 1k to 1.3M parameters (3 decades) on 16×16 inputs.
    settings: {
      data: { name: 'synthetic', examples: 64, valExamples: 0, testExamples: 0, inputShape: [16, 16, 1] },
      optimizer: 'sgd',
      budget: { kind: 'steps', value: 1 }, // unused: the analysis times single steps
    },
    blocks: [],
    analysis: {
      architectures: [{ label: 'mlp', zoo: 'mlp', depths: [1, 2], widths: [4, 32, 256, 1024] }],
      batchSize: 32,
      runs: 3,
      warmup: 1,
      inputDirections: 2,
    },
  },
  full: {
    // About 20–40 min on 2 shared cores (estimated 17 min here): 28 networks (MLPs, CNNs,
    // ResNets) of 5k to 4M parameters (3 decades) on Fashion-MNIST, batch 64, 5 timed rounds each.
    settings: {
      data: { name: 'embedded', examples: 256, valExamples: 0, testExamples: 0 },
      optimizer: 'sgd',
      budget: { kind: 'steps', value: 1 },
    },
    blocks: [],
    analysis: {
      architectures: [
        { label: 'mlp', zoo: 'mlp', depths: [1, 2, 4], widths: [16, 64, 256, 1024] },
        { label: 'cnn', zoo: 'cnn', depths: [1, 2, 3], widths: [4, 8, 16, 32] },
        { label: 'resnet', zoo: 'resnet', depths: [2, 4], widths: [8, 16] },
      ],
      batchSize: 64,
      runs: 5,
      warmup: 1,
      inputDirections: 4,
    },
  },
};
