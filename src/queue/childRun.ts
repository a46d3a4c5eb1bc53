/**
 * Runs in child processes: the comparison's worker script (src/compare/worker.ts), which executes
 * a run spec into a directory and reports progress and the run's end over IPC. A process per run
 * at a time, because the wasm backend uses one core per process; a run that crashes its process
 * (out of memory, a native fault) takes only itself down. Processes are kept between runs, as
 * the local pool keeps them, since starting one (tfjs, wasm) costs seconds.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Finished, ParentMessage, Progress, RunTask, WorkerMessage } from '../compare/pool.js';

/** The worker script beside pool.ts: tsx in development, JavaScript once built. */
function workerScript(): { file: string; execArgv: string[] } {
  const ts = fileURLToPath(import.meta.url).endsWith('.ts');
  return { file: fileURLToPath(new URL(`../compare/worker.${ts ? 'ts' : 'js'}`, import.meta.url)), execArgv: ts ? ['--import', 'tsx'] : [] };
}

/** The process died before reporting the run's end: not the run's fault, so worth a retry. */
export class ChildDied extends Error {
  override name = 'ChildDied';
}

export interface ChildOptions {
  onProgress?: (p: Progress) => void;
  /** Aborting kills the run's process (SIGKILL); the run then rejects with ChildDied. */
  signal?: AbortSignal;
}

interface Current {
  resolve: (f: Finished) => void;
  reject: (e: Error) => void;
  onProgress?: (p: Progress) => void;
}

interface Child {
  proc: ChildProcess;
  stderr: string;
  current: Current | null;
}

/** Child processes that run one run at a time each, reused while they live. */
export class RunProcesses {
  private readonly idle: Child[] = [];
  private closed = false;

  /** `env`: extra environment of the processes, e.g. GRADCOND_BACKEND. */
  constructor(private readonly env: NodeJS.ProcessEnv = {}) {}

  private spawn(): Child {
    const { file, execArgv } = workerScript();
    const proc = fork(file, [], { execArgv, env: { ...process.env, ...this.env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const child: Child = { proc, stderr: '', current: null };
    proc.stderr?.on('data', (d: Buffer) => void (child.stderr = (child.stderr + d.toString()).slice(-4000)));
    proc.on('message', (m: WorkerMessage) => {
      const cur = child.current;
      if (!cur) return;
      if (m.kind === 'progress') return cur.onProgress?.(m.progress);
      child.current = null;
      if (this.closed) proc.send({ kind: 'exit' } satisfies ParentMessage);
      else this.idle.push(child);
      cur.resolve(m.finished);
    });
    const died = (why: string) => {
      const i = this.idle.indexOf(child);
      if (i >= 0) this.idle.splice(i, 1);
      const cur = child.current;
      child.current = null;
      const last = child.stderr.trim().split('\n').at(-1) ?? '';
      cur?.reject(new ChildDied(`run process ${why}${last ? `: ${last}` : ''}`));
    };
    proc.on('error', (err) => died(`failed: ${err.message}`));
    proc.on('exit', (code, signal) => died(`ended (${signal ?? `exit ${code}`})`));
    return child;
  }

  /** Runs `task` in an idle process (or a new one); resolves with the run's end (error: the run failed in itself). */
  run(task: RunTask, opts: ChildOptions = {}): Promise<Finished> {
    if (opts.signal?.aborted) return Promise.reject(new ChildDied('run not started: stopping'));
    const child = this.idle.pop() ?? this.spawn();
    return new Promise<Finished>((resolve, reject) => {
      const kill = () => child.proc.kill('SIGKILL');
      opts.signal?.addEventListener('abort', kill, { once: true });
      const done = () => opts.signal?.removeEventListener('abort', kill);
      child.current = {
        resolve: (f) => (done(), resolve(f)),
        reject: (e) => (done(), reject(e)),
        onProgress: opts.onProgress,
      };
      child.proc.send({ kind: 'run', task } satisfies ParentMessage);
    });
  }

  /** Lets idle processes exit; busy ones exit after their run. */
  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.proc.send({ kind: 'exit' } satisfies ParentMessage);
  }
}
