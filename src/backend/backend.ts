/**
 * The backend choice, once per process (`useBackend`), with gradcond's kernel overrides
 * installed with it. Modules reach tfjs through `tf.ts`; nothing here runs at import time, so
 * importing gradcond leaves tfjs' backend untouched until `useBackend` is called.
 *
 * `auto` prefers native TensorFlow when the user has it (node-gpu, then node) and otherwise
 * the wasm backend, whose SIMD binaries ship inside the npm package, plus our kernel overrides
 * (see overrides.ts) that make it train convolutions and transposed products fast.
 */
import { UsageError } from '../errors.js';
import { installOverrides } from './overrides.js';
import { tf } from './tf.js';

export const BACKEND_CHOICES = ['auto', 'wasm', 'cpu', 'node', 'node-gpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** Native packages by choice; the tfjs backend each registers is called 'tensorflow'. */
const NATIVE: Record<'node' | 'node-gpu', string> = {
  node: '@tensorflow/tfjs-node',
  'node-gpu': '@tensorflow/tfjs-node-gpu',
};

export interface ActiveBackend {
  requested: BackendChoice;
  /** The tfjs backend name now in use ('wasm', 'cpu' or 'tensorflow'). */
  name: string;
  /** Kernels gradcond registered on it. */
  overrides: string[];
}

export function parseBackend(name: string): BackendChoice {
  if ((BACKEND_CHOICES as readonly string[]).includes(name)) return name as BackendChoice;
  throw new UsageError(`unknown backend '${name}': choose one of ${BACKEND_CHOICES.join(', ')}`);
}

/** Loads a native package if it is installed; false when it is not (the usual case). */
async function loadNative(pkg: string): Promise<boolean> {
  try {
    await import(pkg);
    return true;
  } catch {
    return false;
  }
}

/**
 * Registers the wasm backend when `target` is 'wasm'. Done on first use, not at import:
 * registering makes wasm tfjs' preferred backend, which would surprise a user's own code.
 */
export async function registerWasm(target: string): Promise<void> {
  if (target === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
}

/**
 * Selects the backend, once per process. `overrides: false` keeps the stock kernels (for the
 * benchmark's comparison).
 */
export async function useBackend(
  choice: string = 'auto',
  opts: { overrides?: boolean } = {},
): Promise<ActiveBackend> {
  const requested = parseBackend(choice);
  let target: string = requested;
  if (requested === 'node' || requested === 'node-gpu') {
    if (!(await loadNative(NATIVE[requested]))) {
      throw new UsageError(`backend '${requested}' needs ${NATIVE[requested]} installed (npm i ${NATIVE[requested]})`);
    }
    target = 'tensorflow';
  } else if (requested === 'auto') {
    target = (await loadNative(NATIVE['node-gpu'])) || (await loadNative(NATIVE.node)) ? 'tensorflow' : 'wasm';
  }
  await registerWasm(target);
  if (!(await tf.setBackend(target))) throw new UsageError(`backend '${target}' failed to initialise`);
  await tf.ready();
  const overrides = opts.overrides === false ? [] : installOverrides(target);
  return { requested, name: tf.getBackend(), overrides };
}
