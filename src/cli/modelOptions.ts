/** The model options every command that builds or loads a model shares, as yargs option data. */
import type { ModelRef } from '../compare/runSpec.js';
import { ACTIVATIONS, MODEL_NAMES, describeModels } from '../models/zoo.js';

export const modelOptions = {
  model: { type: 'string', default: 'mlp', describe: `a zoo architecture (${MODEL_NAMES.join(', ')}) or a saved tfjs Layers model.json` },
  depth: { type: 'number', describe: 'zoo: hidden layers, conv blocks or residual blocks' },
  width: { type: 'number', describe: 'zoo: units per hidden layer, or base filters' },
  'batch-norm': { type: 'boolean', describe: 'zoo: batch normalisation after every hidden layer' },
  activation: { choices: ACTIVATIONS, describe: 'zoo: hidden activation' },
} as const;

export interface ModelArgs {
  model: string;
  depth?: number;
  width?: number;
  'batch-norm'?: boolean;
  activation?: string;
}

/** The model the flags name: a zoo entry with its options, or a path to a saved model. */
export function modelRefOf(a: ModelArgs): ModelRef {
  if (a.model.endsWith('.json')) return { path: a.model };
  const options = Object.fromEntries(
    Object.entries({ depth: a.depth, width: a.width, batchNorm: a['batch-norm'], activation: a.activation }).filter(([, v]) => v !== undefined),
  );
  return { zoo: a.model, options } as ModelRef;
}

/** One line per zoo architecture, for --help. */
export const modelHelp = (): string => describeModels().join('\n');
