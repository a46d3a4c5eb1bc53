/**
 * Runs a comparison's runs in worker processes, `jobs` at a time: the wasm backend uses one
 * core per process, so this is where a machine's cores multiply throughput. Each worker is a
 * child process running `worker.ts`; it takes one run at a time and reports progress and the
 * end of each run over IPC. A worker that dies takes only its run with it (reported as
 * failed); the parent exiting (even by SIGKILL) closes the channel and the workers stop.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RunSpec } from './runSpec.js';

export interface RunTask {
  spec: RunSpec;
  /** The run directory. */
  dir: string;
  /** Continue from the run's checkpoint if it has one. */
  resume: boolean;
}

/** What a worker reports while a run trains. */
export interface Progress {
  id: string;
  step: number;
  epoch: number;
  loss: number | null;
  learningRate: number;
  batchSize: number;
  /** Budget spent, in [0, 1]. */
  fraction: number;
}

export interface Finished {
  id: string;
  /** null when the run completed (done, diverged, dead: the run directory says which); else the failure. */
  error: string | null;
}

export type WorkerMessage = { kind: 'progress'; progress: Progress } | { kind: 'finished'; finished: Finished };
export type ParentMessage = { kind: 'run'; task: RunTask } | { kind: 'exit' };

/** The worker script, run by tsx in development and as JavaScript once built. */
function workerEntry(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ts = here.endsWith('.ts');
  return { file: here.replace(/pool\.(ts|js)$/, `worker.${ts ? 'ts' : 'js'}`), execArgv: ts ? ['--import', 'tsx'] : [] };
}

export interface PoolOptions {
  jobs: number;
  onProgress?: (p: Progress) => void;
  onFinished?: (f: Finished) => void;
  /** Extra environment for the workers (e.g. the backend). */
  env?: NodeJS.ProcessEnv;
  /** Aborting stops the workers' runs between steps, with checkpoints, and starts no new run. */
  signal?: AbortSignal;
}

/** Runs every task; resolves when all have finished (each with its error or null). */
export async function runPool(tasks: RunTask[], opts: PoolOptions): Promise<Finished[]> {
  const queue = [...tasks];
  const results: Finished[] = [];
  const { file, execArgv } = workerEntry();
  const children = new Set<ChildProcess>();
  const stop = () => {
    queue.splice(0);
    for (const c of children) c.kill('SIGTERM'); // each stops its run with a checkpoint, then exits
  };
  opts.signal?.addEventListener('abort', stop, { once: true });
  const startWorker = (): Promise<void> =>
    new Promise((resolve) => {
      const child: ChildProcess = fork(file, [], { execArgv, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      children.add(child);
      let current: RunTask | null = null;
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
      const next = () => {
        if (!child.connected) return;
        current = queue.shift() ?? null;
        if (current) child.send({ kind: 'run', task: current } satisfies ParentMessage);
        else child.send({ kind: 'exit' } satisfies ParentMessage);
      };
      child.on('message', (m: WorkerMessage) => {
        if (m.kind === 'progress') opts.onProgress?.(m.progress);
        else {
          results.push(m.finished);
          opts.onFinished?.(m.finished);
          next();
        }
      });
      child.on('exit', (code, signal) => {
        children.delete(child);
        if (current && !results.some((r) => r.id === current!.spec.id)) {
          const last = stderr.trim().split('\n').at(-1) ?? '';
          const f = { id: current.spec.id, error: `worker process ended (${signal ?? `exit ${code}`})${last ? `: ${last}` : ''}` };
          results.push(f);
          opts.onFinished?.(f);
          // A worker that died mid-run is replaced while runs remain.
          if (queue.length) return void startWorker().then(resolve);
        }
        resolve();
      });
      next();
    });
  const workers = Array.from({ length: Math.max(1, Math.min(opts.jobs, tasks.length)) }, startWorker);
  await Promise.all(workers);
  opts.signal?.removeEventListener('abort', stop);
  return results;
}
