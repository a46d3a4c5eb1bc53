/**
 * The backend choice, once per process (`useBackend`), with gradcond's kernel overrides
 * installed with it. Modules reach tfjs through `tf.ts`; nothing here runs at import time, so
 * importing gradcond leaves tfjs' backend untouched until `useBackend` is called.
 *
 * `auto` prefers native TensorFlow when the user has it (node-gpu, then node) and otherwise
 * the wasm backend, whose SIMD binaries ship inside the npm package, plus our kernel overrides
 * (see overrides.ts) that make it train convolutions and transposed products fast. The wasm
 * backend runs on `threads` threads (default: every core, at most 8) through tfjs' threaded SIMD
 * build, which tfjs itself leaves unused in Node (see wasmThreads.ts); where that build cannot
 * start, it runs on one thread and logs one warning.
 */
import * as os from 'node:os';
import { UsageError } from '../errors.js';
import { installOverrides } from './overrides.js';
import { tf } from './tf.js';
import { setWasmThreads } from './wasmRegistry.js';
import { MAX_WASM_THREADS, wasmThreadsOf } from './wasmThreads.js';

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
  /**
   * Threads computing its kernels: the wasm thread pool's size (1 where the threaded build could
   * not start), 1 on cpu, null for native TensorFlow (which sizes its own pool).
   */
  threads: number | null;
}

export interface BackendOptions {
  /** false keeps the stock kernels (the benchmark's comparison). */
  overrides?: boolean;
  /** Threads for the wasm backend, 1..8 (default `defaultThreads()`); other backends ignore it. */
  threads?: number;
}

/** The machine's cores (`os.availableParallelism()`), at most the 8 the wasm build supports. */
export function defaultThreads(): number {
  return Math.min(os.availableParallelism(), MAX_WASM_THREADS);
}

/** Checks a thread count: an integer from 1 to 8 (tfjs' wasm build has at most 8 threads). */
export function parseThreads(threads: unknown): number {
  if (typeof threads === 'number' && Number.isInteger(threads) && threads >= 1 && threads <= MAX_WASM_THREADS) return threads;
  throw new UsageError(`--threads must be an integer from 1 to ${MAX_WASM_THREADS}, got ${String(threads)}`);
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
 * Registers the wasm backend when `target` is 'wasm'; with `threads`, it will start on that many
 * threads (without, tfjs' own single-threaded loader is left in place). Done on first use, not at
 * import: registering makes wasm tfjs' preferred backend, which would surprise a user's own code.
 */
export async function registerWasm(target: string, threads?: number): Promise<void> {
  if (target !== 'wasm') return;
  await import('@tensorflow/tfjs-backend-wasm');
  if (threads !== undefined) await setWasmThreads(parseThreads(threads));
}

/** Threads of the backend now in use (see ActiveBackend.threads). */
function activeThreads(name: string): number | null {
  if (name === 'wasm') return wasmThreadsOf(tf.backend());
  return name === 'tensorflow' ? null : 1;
}

/**
 * Selects the backend, once per process. `overrides: false` keeps the stock kernels (for the
 * benchmark's comparison); `threads` sizes the wasm backend's thread pool.
 */
export async function useBackend(choice: string = 'auto', opts: BackendOptions = {}): Promise<ActiveBackend> {
  const requested = parseBackend(choice);
  const threads = parseThreads(opts.threads ?? defaultThreads());
  let target: string = requested;
  if (requested === 'node' || requested === 'node-gpu') {
    if (!(await loadNative(NATIVE[requested]))) {
      throw new UsageError(`backend '${requested}' needs ${NATIVE[requested]} installed (npm i ${NATIVE[requested]})`);
    }
    target = 'tensorflow';
  } else if (requested === 'auto') {
    target = (await loadNative(NATIVE['node-gpu'])) || (await loadNative(NATIVE.node)) ? 'tensorflow' : 'wasm';
  }
  await registerWasm(target, threads);
  if (!(await tf.setBackend(target))) throw new UsageError(`backend '${target}' failed to initialise`);
  await tf.ready();
  const overrides = opts.overrides === false ? [] : installOverrides(target);
  const name = tf.getBackend();
  return { requested, name, overrides, threads: activeThreads(name) };
}
