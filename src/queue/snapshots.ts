/**
 * Checkpoints that survive their worker: while a run trains, its directory is watched (polled)
 * for a new checkpoint, and each one is sent to Redis with the rest of the run directory (trace,
 * manifest, log). If the worker dies, the job goes to another worker, which unpacks the snapshot
 * and resumes from that checkpoint instead of starting over.
 *
 * The trainer replaces `checkpoint/` by renames, so a snapshot is read, then checked: if the
 * checkpoint's state.json changed while the files were read, it is read again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHECKPOINT_DIR } from '../trainer/checkpoint.js';
import { type FileData, pack, readDir } from './bundle.js';

const STATE = `${CHECKPOINT_DIR}/state.json`;

/** Temporary checkpoint directories the trainer is writing or removing: never part of a run directory sent. */
export const transient = (rel: string): boolean => rel.startsWith(`${CHECKPOINT_DIR}.`);

function stamp(dir: string): string | null {
  try {
    const s = fs.statSync(path.join(dir, STATE));
    return `${s.ino}:${s.mtimeMs}:${s.size}`;
  } catch {
    return null;
  }
}

/** The run directory as files, with a complete, consistent checkpoint; null if none could be read. */
export function readSnapshot(dir: string, tries = 5): FileData[] | null {
  for (let i = 0; i < tries; i++) {
    const before = stamp(dir);
    if (before === null) return null;
    let files: FileData[];
    try {
      files = readDir(dir, transient);
    } catch {
      continue; // a file vanished under a rename
    }
    if (stamp(dir) === before && files.some((f) => f.path === STATE)) return files;
  }
  return null;
}

export interface Watcher {
  /** Stops watching, after the snapshot being sent (if any) is sent. */
  stop(): Promise<void>;
}

/**
 * Sends a snapshot of `dir` through `send` each time its checkpoint changes, polling every
 * `intervalMs`. A snapshot that cannot be sent (too large, Redis away) is reported through
 * `onError` and the next checkpoint is tried.
 */
export function watchCheckpoints(dir: string, send: (packed: Buffer) => Promise<void>, opts: { intervalMs: number; onError: (err: Error) => void }): Watcher {
  let last = stamp(dir);
  let busy: Promise<void> = Promise.resolve();
  const tick = () => {
    const now = stamp(dir);
    if (now === null || now === last) return;
    last = now;
    busy = busy.then(async () => {
      const files = readSnapshot(dir);
      if (files) await send(pack(files));
    }).catch((err: Error) => opts.onError(err));
  };
  const timer = setInterval(tick, opts.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await busy;
    },
  };
}
