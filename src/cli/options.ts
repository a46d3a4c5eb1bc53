/** Options shared by several commands, as yargs option data. */
import { BACKEND_CHOICES, defaultThreads } from '../backend/backend.js';

export const backendOption = {
  backend: {
    type: 'string',
    default: 'auto' as const,
    describe: `tfjs backend, one of ${BACKEND_CHOICES.join(', ')}: auto = node-gpu, then node (if installed), else wasm with gradcond kernels`,
  },
  threads: {
    type: 'number',
    default: defaultThreads(),
    defaultDescription: 'the machine\'s cores, at most 8',
    describe: 'threads of the wasm backend (1..8); one thread, with a warning, where threaded wasm cannot start',
  },
} as const;
