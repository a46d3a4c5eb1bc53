/** `constant`: changes nothing. The baseline every comparison runs against. */
import { hyperObject, type Policy } from '../src/policy.js';

export type ConstantHyper = Record<string, never>;

export const constant: Policy<null, ConstantHyper> = {
  name: 'constant',
  knobs: [],
  init: () => null,
  update: (_event, state) => [null, state],
  validate: (hyper) => {
    hyperObject('constant', hyper, []);
    return {};
  },
};
