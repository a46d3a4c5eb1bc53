/** The model options every command that builds or loads a model shares, as yargs option data. */
import { existsSync } from 'node:fs';
import type { ModelRef } from '../compare/runSpec.js';
import { UsageError } from '../errors.js';
import { ACTIVATIONS, ArchitectureOptionsSchema, MODEL_NAMES, describeModels } from '../models/zoo.js';
import { parseOptions } from '../validation.js';

export const modelOptions = {
  model: { type: 'string', default: 'mlp', describe: `a zoo architecture (${MODEL_NAMES.join(', ')}) or a saved tfjs Layers model.json` },
  depth: { type: 'number', describe: 'zoo: hidden layers, conv blocks or residual blocks' },
  width: { type: 'number', describe: 'zoo: units per hidden layer, or base filters' },
  'batch-norm': { type: 'boolean', describe: 'zoo: batch normalisation after every hidden layer' },
  activation: { type: 'string', describe: `zoo: hidden activation, one of ${ACTIVATIONS.join(', ')}` },
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

/**
 * Checks the model the flags name before any data loads, with the messages building or loading
 * it would give: a saved model's file exists; a zoo name is known and its options are valid.
 */
export function checkModelRef(ref: ModelRef, args?: ModelArgs): void {
  if ('path' in ref) {
    // Zoo flags would be ignored for a saved model: refused rather than ignored in silence.
    const zooFlags = args ? (['depth', 'width', 'batch-norm', 'activation'] as const).filter((k) => args[k] !== undefined) : [];
    if (zooFlags.length > 0) throw new UsageError(`${zooFlags.map((k) => `--${k}`).join(', ')} shape${zooFlags.length === 1 ? 's' : ''} a zoo model, not a saved one (${ref.path})`);
    if (!existsSync(ref.path)) throw new UsageError(`model file not found: ${ref.path}`);
    return;
  }
  if (!(MODEL_NAMES as readonly string[]).includes(ref.zoo)) throw new UsageError(`unknown model '${ref.zoo}': choose one of ${MODEL_NAMES.join(', ')}`);
  parseOptions(ArchitectureOptionsSchema, ref.options ?? {}, `model '${ref.zoo}'`, Object.keys(ArchitectureOptionsSchema.shape));
}

/** One line per zoo architecture, for --help. */
export const modelHelp = (): string => describeModels().join('\n');
