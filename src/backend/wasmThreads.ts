/**
 * The wasm backend on several threads in Node.
 *
 * tfjs-backend-wasm ships a threaded SIMD build (XNNPACK on a pthread pool) but never uses it in
 * Node (tfjs issue #3830): its loader gives Emscripten a `blob:` URL for the pthread worker script,
 * and Node's `worker_threads` starts workers only from a file path or a `data:` URL. Here we start
 * that build ourselves from the files inside the package, through Emscripten's documented module
 * options, and wrap it in tfjs' own exported `BackendWasm`, so every wasm kernel works unchanged:
 *
 * - `locateFile` gives the pthread worker script as a `data:` URL: a tiny ES module that supplies
 *   the CommonJS globals (`require`, `__filename`) the Emscripten worker code expects, then runs
 *   that code (the package exports it as the string `wasmWorkerContents`);
 * - `mainScriptUrlOrBlob` is the Emscripten glue's file path, which each worker loads;
 * - `instantiateWasm` compiles the `.wasm` file and reports 2 × threads logical cores to it:
 *   tfjs sizes its pool as min(requested, cores / 2, 8), assuming two hyperthreads per core.
 *
 * Nothing in node_modules is changed. It depends on @tensorflow/tfjs-backend-wasm 4.x's files
 * (checked before use, see `locateThreadedBuild`): wasm-out/tfjs-backend-wasm-threaded-simd.js
 * (glue), wasm-out/tfjs-backend-wasm-threaded-simd.worker.js (exports `wasmWorkerContents`),
 * dist/tfjs-backend-wasm-threaded-simd.wasm, and the package's exports `BackendWasm` and
 * `setThreadsCount`. Written against 4.22.0.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { logger } from '../log.js';
import { tf } from './tf.js';

const require = createRequire(import.meta.url);

/** tfjs pre-starts 8 pthread workers and caps its XNNPACK pool at 8 threads. */
export const MAX_WASM_THREADS = 8;

/** Files of the threaded SIMD build. */
export interface ThreadedBuild {
  /** Emscripten's JavaScript glue: a CommonJS module exporting the module factory. */
  glue: string;
  /** CommonJS module exporting the pthread worker's source as `wasmWorkerContents`. */
  worker: string;
  wasm: string;
}

/** The build's files inside the installed @tensorflow/tfjs-backend-wasm. */
export function locateThreadedBuild(): ThreadedBuild {
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  return {
    glue: path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js'),
    worker: path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js'),
    wasm: path.join(dir, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm'),
  };
}

/** Why the threaded build cannot run in this process, or null when it can. */
export async function threadsUnavailable(build: ThreadedBuild): Promise<string | null> {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return 'SharedArrayBuffer is not available';
  try {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    if (!(memory.buffer instanceof SharedArrayBuffer)) return 'WebAssembly shared memory is not available';
  } catch {
    return 'WebAssembly shared memory is not available';
  }
  await import('@tensorflow/tfjs-backend-wasm'); // registers the SIMD flag
  if (!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) return 'WebAssembly SIMD is not available';
  const missing = Object.values(build).filter((f) => !fs.existsSync(f));
  return missing.length ? `missing ${missing.join(', ')}` : null;
}

/**
 * The pthread worker script as a `data:` URL (Node runs those as ES modules). The package's
 * source is a template-literal string whose `\n` escapes became real newlines, which would break
 * its string literals; tfjs' own loader escapes them the same way.
 */
function workerUrl(build: ThreadedBuild): URL {
  const contents = (require(build.worker) as { wasmWorkerContents: string }).wasmWorkerContents.replace(/\n/g, '\\n');
  const source = [
    "import { createRequire } from 'node:module';",
    `globalThis.require = createRequire(${JSON.stringify(build.glue)});`,
    `globalThis.__filename = ${JSON.stringify(build.glue)};`,
    `(0, eval)(${JSON.stringify(contents)});`,
  ].join('\n');
  return new URL(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
}

/** A pthread worker as Emscripten keeps it (a Node `Worker` with an `onerror` hook). */
interface ThreadWorker {
  unref(): void;
  on(event: 'error', listener: (e: Error) => void): void;
  onerror: (e: Error) => void;
}
/** The parts of Emscripten's pthread bookkeeping we touch. */
interface PThreads {
  unusedWorkers: ThreadWorker[];
  runningWorkers: ThreadWorker[];
  terminateAllThreads(): void;
}
type ThreadedModule = BackendWasm['wasm'] & {
  PThread: PThreads;
  /** Emscripten's JavaScript wrapper of an exported C function. */
  cwrap(name: string, returns: 'number' | null, args: 'number'[]): (...args: number[]) => number;
};
type WasmImports = { env: Record<string, unknown> } & Record<string, unknown>;

/** Emscripten module options; Emscripten also stores its `PThread` object on this one. */
interface ModuleConfig {
  locateFile(file: string, prefix: string): string | URL;
  mainScriptUrlOrBlob: string;
  instantiateWasm(imports: WasmImports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void): object;
  printErr(text: string): void;
  PThread?: PThreads;
}

/** How a start is going: failures before the module is ready reject `failed` instead of crashing. */
interface StartWatch {
  failed: Promise<never>;
  fail(why: string): void;
  started: boolean;
  /** Emscripten's diagnostics while starting, kept for the failure reason. */
  notes: string[];
}

function startWatch(): StartWatch {
  let reject: (e: Error) => void = () => {};
  const failed = new Promise<never>((_, r) => (reject = r));
  failed.catch(() => {}); // observed through the race in createThreadedWasm
  return { failed, fail: (why) => reject(new Error(why)), started: false, notes: [] };
}

/** Rejects after `ms` unless `p` settles first; the timer does not keep Node alive. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * A worker that fails while starting must fail the start, not the process: before Emscripten
 * listens to its workers an 'error' event nobody listens to would be thrown, and afterwards
 * Emscripten's own handler throws it. Called in the same tick as the workers' creation, so no
 * event can come first; once started, errors reach Emscripten's handler as usual.
 */
function watchNewWorkers(workers: ThreadWorker[], watch: StartWatch): void {
  for (const w of workers) {
    w.on('error', (e) => {
      if (!watch.started) watch.fail(`a thread worker failed to start: ${e.message}`);
    });
  }
}

/** Called once Emscripten has set its worker hooks (see watchNewWorkers). */
function muteLoadErrors(workers: ThreadWorker[], watch: StartWatch): void {
  for (const w of workers) {
    const emscripten = w.onerror;
    w.onerror = (e) => (watch.started ? emscripten.call(w, e) : undefined); // our listener fails the start
  }
}

function moduleConfig(build: ThreadedBuild, threads: number, watch: StartWatch): ModuleConfig {
  const worker = workerUrl(build);
  const bytes = fs.readFileSync(build.wasm);
  const config: ModuleConfig = {
    // Emscripten passes this value straight to `new Worker(...)`, which accepts a URL object.
    locateFile: (file, prefix) => (file.endsWith('.worker.js') ? worker : file.endsWith('.wasm') ? build.wasm : prefix + file),
    mainScriptUrlOrBlob: build.glue,
    instantiateWasm(imports, receive) {
      const env = { ...imports.env, emscripten_num_logical_cores: () => 2 * threads };
      WebAssembly.instantiate(bytes, { ...imports, env }).then(
        ({ instance, module }) => {
          receive(instance, module); // also sends the compiled module to the pre-started workers
          muteLoadErrors(config.PThread?.unusedWorkers ?? [], watch);
        },
        (err: unknown) => watch.fail(`cannot instantiate ${build.wasm}: ${String(err)}`),
      );
      return {}; // the exports arrive through `receive`
    },
    printErr: (text) => (watch.started ? logger().warn(`wasm: ${text}`) : watch.notes.push(text)),
  };
  return config;
}

/** The factory's `global.Worker = worker_threads.Worker` would outlive it; we put back what was there. */
function restoreGlobalWorker(saved: PropertyDescriptor | undefined): void {
  if (saved) Object.defineProperty(globalThis, 'Worker', saved);
  else delete (globalThis as { Worker?: unknown }).Worker;
}

export interface ThreadedOptions {
  threads: number;
  build?: ThreadedBuild;
  /** Start-up limit; the workers of a start that hangs are terminated. */
  timeoutMs?: number;
}

/**
 * A tfjs wasm backend on `threads` threads (1..MAX_WASM_THREADS; 1 still runs the threaded build).
 * Rejects with the reason when the threaded build cannot start here; the caller falls back to
 * tfjs' single-threaded backend.
 */
export async function createThreadedWasm({ threads, build = locateThreadedBuild(), timeoutMs = 30_000 }: ThreadedOptions): Promise<BackendWasm> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new Error(`threads must be an integer from 1 to ${MAX_WASM_THREADS}, got ${threads}`);
  }
  const why = await threadsUnavailable(build);
  if (why) throw new Error(why);
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const watch = startWatch();
  const config = moduleConfig(build, threads, watch);
  const savedWorker = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  let module: ThreadedModule;
  try {
    const factory = require(build.glue) as (c: ModuleConfig) => Promise<ThreadedModule>;
    const starting = factory(config);
    watchNewWorkers(config.PThread?.unusedWorkers ?? [], watch);
    module = await withTimeout(Promise.race([starting, watch.failed]), timeoutMs, 'starting the wasm threads');
  } catch (err) {
    config.PThread?.terminateAllThreads();
    throw new Error([err instanceof Error ? err.message : String(err), ...watch.notes].join('; '));
  } finally {
    restoreGlobalWorker(savedWorker);
  }
  watch.started = true;
  // The same bridge tfjs' own loader builds.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  } as ThreadedModule['tfjs'];
  wasm.setThreadsCount(threads);
  const backend = new wasm.BackendWasm(module); // starts the pool's threads
  // Emscripten ref()s a worker while it runs a thread; the pool's threads run for good, which
  // would keep Node alive after the work is done. Unreferenced, they end with the process.
  for (const w of module.PThread.runningWorkers) w.unref();
  return backend;
}

/** Threads the XNNPACK pool of a wasm backend uses (1 for tfjs' own Node backend). */
export function wasmThreadsOf(backend: tf.KernelBackend): number {
  return (backend as BackendWasm).wasm.tfjs.getThreadsCount();
}
