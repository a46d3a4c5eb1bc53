/**
 * A comparison worker process (see pool.ts): chooses the backend once, then executes the runs
 * the parent sends, one at a time, reporting progress and each run's end. SIGINT, SIGTERM or a
 * closed IPC channel (the parent died) stop the run in progress between steps, with a checkpoint
 * and a `stop` event (so `--resume` continues it), and then the process; no new run starts.
 */
import { useBackend } from '../backend/backend.js';
import { executeRun } from './executeRun.js';
import type { ParentMessage, WorkerMessage } from './pool.js';

const send = (m: WorkerMessage) => {
  if (process.connected) process.send?.(m);
};
// One thread per worker: the pool runs one process per core already.
const ready = useBackend(process.env.GRADCOND_BACKEND ?? 'wasm', { threads: 1 });
const stop = new AbortController();
let running = Promise.resolve();

const halt = (why: string) => {
  if (stop.signal.aborted) return;
  stop.abort(why);
  void running.then(() => process.exit(0));
};
process.on('SIGINT', () => halt('SIGINT'));
process.on('SIGTERM', () => halt('SIGTERM'));
process.on('disconnect', () => halt('the comparison stopped'));
process.on('message', (m: ParentMessage) => {
  if (m.kind === 'exit') {
    void running.then(() => process.disconnect?.());
    return;
  }
  running = running.then(async () => {
    await ready;
    if (stop.signal.aborted) return;
    let error: string | null = null;
    try {
      await executeRun(m.task.spec, m.task.dir, { resume: m.task.resume, signal: stop.signal, onProgress: (progress) => send({ kind: 'progress', progress }) });
      if (stop.signal.aborted) error = `stopped (${String(stop.signal.reason)}) with a checkpoint: --resume continues it`;
    } catch (err) {
      error = (err as Error).message.split('\n')[0] ?? 'error';
    }
    send({ kind: 'finished', finished: { id: m.task.spec.id, error } });
  });
});
