/** Options shared by several commands, as yargs option data. */
import { BACKEND_CHOICES } from '../backend/backend.js';

export const backendOption = {
  backend: {
    choices: BACKEND_CHOICES,
    default: 'auto' as const,
    describe: 'tfjs backend: auto = node-gpu, then node (if installed), else wasm with gradcond kernels',
  },
} as const;
