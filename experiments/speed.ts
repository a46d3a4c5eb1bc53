/**
 * Experiment 2: each metric at the point of steepest descent and at the lowest loss, against the
 * best sustained rate of decrease and the final loss, with Spearman's ρ and a bootstrap interval.
 * Reproduces the thesis' scatter figures (one point per network, labelled with its depth).
 */
import type { DefinitionInput } from '../src/experiments/types.js';
import { FULL_ZOO_VARIANT, QUICK_DATA, QUICK_FC } from './traces.js';

export const speed: DefinitionInput = {
  name: 'speed',
  number: 2,
  title: 'Metric against training speed',
  question: 'Does a network\'s conditioning, measured where it learns fastest or where its loss is lowest, predict how fast it learns and how low its loss gets?',
  figures: ['figure 2.6', 'figure 3.4', 'figure 3.8', 'figure 3.10', 'figure 3.13', 'figure 3.17', 'figure 3.20', 'figure 4.5', 'figure 4.7', 'figure 4.9'],
  analysis: 'speed',
  quick: {
    settings: { data: QUICK_DATA, optimizer: 'sgd', budget: { kind: 'steps', value: 200 }, metrics: { groups: 'full', every: 10 } },
    blocks: [{
      name: 'zoo',
      // Fully connected nets only (cheap here), over depths that train at very different speeds.
      architectures: QUICK_FC,
      depths: [1, 3, 10],
      batchSizes: [32],
      learningRates: [0.05],
      policies: [{ name: 'constant' }],
      seeds: [0, 1],
    }],
    // 200 steps: the loss is smoothed over 20 steps, rates sustained over 20.
    analysis: { window: 20, span: 20 },
  },
  // The same runs as experiment 1's full variant; the thesis smoothed over a few hundred steps.
  full: { ...FULL_ZOO_VARIANT, analysis: { window: 200, span: 200 } },
};
