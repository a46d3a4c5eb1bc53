/** The data options every command that reads a data set shares, as yargs option data. */
import { DATA_NAMES, type DataFlags, specFromFlags } from '../data/spec.js';
import type { DataSpec } from '../data/spec.js';

/** No defaults beyond `data`: a flag that was not typed must stay undefined (see specFromFlags). */
export const dataOptions = {
  // No yargs `choices` here or below: the data spec checks the name, with the message the library gives.
  data: { type: 'string', default: 'embedded' as const, describe: `data set, one of ${DATA_NAMES.join(', ')}: embedded (Fashion-MNIST subset shipped with gradcond), fashion-mnist (full, --data-dir), synthetic, csv / json (--data-file)` },
  'data-dir': { type: 'string', describe: "Fashion-MNIST's idx directory (default /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist)" },
  'data-file': { type: 'string', describe: 'the CSV (header row, numeric features) or data.json file of --data csv / json' },
  'label-column': { type: 'string', describe: 'CSV: the label column (default "label")' },
  standardize: { type: 'boolean', describe: "CSV / JSON: standardise features with the training split's mean and std" },
  examples: { type: 'number', describe: 'training examples to use (default: the whole training split)' },
  'val-examples': { type: 'number', describe: 'validation examples (default: 1,000 for Fashion-MNIST)' },
} as const;

export interface DataArgs {
  data: string;
  'data-dir'?: string;
  'data-file'?: string;
  'label-column'?: string;
  standardize?: boolean;
  examples?: number;
  'val-examples'?: number;
  seed?: number;
}

/** The data spec the flags describe. */
export function dataSpecOf(args: DataArgs): DataSpec {
  const flags: DataFlags = {
    data: args.data,
    examples: args.examples,
    valExamples: args['val-examples'],
    seed: args.seed,
    dataDir: args['data-dir'],
    dataFile: args['data-file'],
    labelColumn: args['label-column'],
    standardize: args.standardize,
  };
  return specFromFlags(flags);
}
