/**
 * A comparison worker process (see pool.ts): chooses the backend once, then executes the runs
 * the parent sends, one at a time, reporting progress and each run's end. It exits when the
 * parent says so or the IPC channel closes (the parent died).
 */
import { useBackend } from '../backend/backend.js';
import { executeRun } from './executeRun.js';
import type { ParentMessage, WorkerMessage } from './pool.js';

const send = (m: WorkerMessage) => process.send?.(m);
// One thread per worker: the pool runs one process per core already.
const ready = useBackend(process.env.GRADCOND_BACKEND ?? 'wasm', { threads: 1 });
let running = Promise.resolve();

process.on('disconnect', () => process.exit(0));
process.on('message', (m: ParentMessage) => {
  if (m.kind === 'exit') {
    void running.then(() => process.disconnect?.());
    return;
  }
  running = running.then(async () => {
    await ready;
    let error: string | null = null;
    try {
      await executeRun(m.task.spec, m.task.dir, { resume: m.task.resume, onProgress: (progress) => send({ kind: 'progress', progress }) });
    } catch (err) {
      error = (err as Error).message.split('\n')[0] ?? 'error';
    }
    send({ kind: 'finished', finished: { id: m.task.spec.id, error } });
  });
});
