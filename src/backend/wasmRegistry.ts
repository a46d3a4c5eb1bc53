/**
 * Which loader tfjs runs when a wasm backend starts. Importing tfjs-backend-wasm registers
 * 'wasm' with tfjs' own loader, single-threaded in Node; we replace that factory (public
 * `removeBackend` / `registerBackend`) with one that starts the threaded build when more than one
 * thread is wanted (wasmThreads.ts), and falls back to tfjs' loader, with one warning, when it
 * cannot. A backend is started once, on first `tf.setBackend`, so the thread count is fixed then.
 */
import { logger } from '../log.js';
import { tf } from './tf.js';
import { createThreadedWasm, wasmThreadsOf } from './wasmThreads.js';

type Factory = () => tf.KernelBackend | Promise<tf.KernelBackend>;

/** tfjs' own wasm loader, captured before we replace it. */
let stockFactory: Factory | undefined;
/** Threads the 'wasm' backend will start with (or was asked to start with, once started). */
let wantedThreads: number | undefined;
/** tfjs' priority for 'wasm' (it outranks cpu as the default backend). */
const WASM_PRIORITY = 2;

async function stock(): Promise<Factory> {
  await import('@tensorflow/tfjs-backend-wasm');
  stockFactory ??= tf.findBackendFactory('wasm');
  return stockFactory;
}

/** True once a backend called `name` has been started (its thread count is then fixed). */
export function started(name: string): boolean {
  return tf.engine().registry[name] !== undefined;
}

/** A loader for `threads` threads: the threaded build, or tfjs' own with one warning line. */
function loader(threads: () => number, stockLoader: Factory): Factory {
  return async () => {
    const n = threads();
    if (n > 1) {
      try {
        return await createThreadedWasm({ threads: n });
      } catch (err) {
        logger().warn(`wasm: cannot start ${n} threads (${(err as Error).message}); running on one thread`);
      }
    }
    return stockLoader();
  };
}

/**
 * Makes the 'wasm' backend start with `threads` threads when it starts. Once it has started, the
 * count cannot change: a different request gets one warning and the running backend is kept.
 */
export async function setWasmThreads(threads: number): Promise<void> {
  const stockLoader = await stock();
  if (started('wasm')) {
    // A request repeated after a fallback was already warned about; only a different one is news.
    const asked = wantedThreads ?? wasmThreadsOf(tf.engine().registry['wasm']!);
    if (asked !== threads) logger().warn(`wasm: already started for ${asked} thread(s); ${threads} requested, ignored`);
    return;
  }
  wantedThreads = threads;
  if (tf.findBackendFactory('wasm') === stockLoader) {
    tf.removeBackend('wasm');
    tf.registerBackend('wasm', loader(() => wantedThreads ?? 1, stockLoader), WASM_PRIORITY);
  }
}

/**
 * Registers `name` as a second wasm backend on `threads` threads, with every kernel registered
 * for 'wasm' at this moment (gradcond's overrides included), and starts it; returns the threads it
 * got. For comparisons inside one process (benchmark, tests): tfjs re-binds the wasm kernels to
 * whichever backend `tf.setBackend` makes current, so the two never mix.
 */
export async function registerWasmVariant(name: string, threads: number): Promise<number> {
  const stockLoader = await stock();
  if (!tf.findBackendFactory(name)) {
    for (const k of tf.getKernelsForBackend('wasm')) tf.registerKernel({ ...k, backendName: name });
    tf.registerBackend(name, loader(() => threads, stockLoader), 0);
  }
  const backend = tf.engine().registry[name] ?? (await startBackend(name));
  return wasmThreadsOf(backend);
}

/** Starts `name`; the current backend, if there was one, stays current. */
async function startBackend(name: string): Promise<tf.KernelBackend> {
  const current = tf.getBackend();
  if (!(await tf.setBackend(name))) throw new Error(`backend '${name}' failed to start`);
  const backend = tf.backend();
  if (current) await tf.setBackend(current);
  return backend;
}
