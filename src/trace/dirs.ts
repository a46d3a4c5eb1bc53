/**
 * Creating a run directory, one level at a time, with one clear line when it cannot be done.
 *
 * Node's `mkdirSync(dir, { recursive: true })` never returns where mkdir fails with ENOENT
 * under a parent that exists — Linux's /proc is such a place (`mkdir /proc/x` is ENOENT while
 * /proc is there), so a run directory under /proc hung the command line for good. Here each
 * missing level is made with a plain mkdir, and the first failure is a TraceError naming the
 * directory and the reason, at once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors.js';
import { TraceError } from './format.js';

/** What the operating system's error code means, in words. */
const REASONS: Record<string, string> = {
  ENOENT: 'no such directory can be made there',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  ENOTDIR: 'a part of the path is a file, not a directory',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
};

function reasonOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return `${REASONS[code] ?? (err as Error).message}${code ? ` (${code})` : ''}`;
}

const isDir = (p: string): boolean => {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** The directories of `abs` that do not exist, outermost first, and the deepest one that does. */
function missingLevels(abs: string): { existing: string; missing: string[] } {
  const missing: string[] = [];
  let p = abs;
  while (!fs.existsSync(p)) {
    missing.unshift(p);
    const up = path.dirname(p);
    if (up === p) break;
    p = up;
  }
  return { existing: p, missing };
}

/**
 * Makes `dir` and its missing parents (a no-op when it is a directory already). `what` names it
 * in messages ("run directory"). Throws a TraceError when a level cannot be made or a part of
 * the path is a file.
 */
export function makeDirs(dir: string, what = 'directory'): void {
  const { existing, missing } = missingLevels(path.resolve(dir));
  if (!isDir(existing)) throw new TraceError(`cannot create the ${what}: ${existing} is a file, not a directory`, dir);
  for (const level of missing) {
    try {
      fs.mkdirSync(level);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && isDir(level)) continue; // made by someone else meanwhile
      throw new TraceError(`cannot create the ${what}: ${reasonOf(err)}${level === path.resolve(dir) ? '' : ` at ${level}`}`, dir);
    }
  }
}

/**
 * Checks, before any work starts, that a run can write `dir`: it is a directory or can be made
 * as one, and a file can be created in it. Nothing is left behind: levels made for the check are
 * removed again. Throws a TraceError saying why not.
 */
export function checkWritableDir(dir: string, what = 'run directory'): void {
  const abs = path.resolve(dir);
  const { missing } = missingLevels(abs);
  try {
    makeDirs(abs, what);
    const probe = path.join(abs, `.gradcond-write-check-${process.pid}`);
    try {
      fs.writeFileSync(probe, '');
      fs.rmSync(probe, { force: true });
    } catch (err) {
      throw new TraceError(`cannot write in the ${what}: ${reasonOf(err)}`, dir);
    }
  } finally {
    for (const level of [...missing].reverse()) {
      if (!fs.existsSync(level)) continue; // never made
      try {
        fs.rmdirSync(level);
      } catch {
        break; // not empty (someone else's now): leave it
      }
    }
  }
}

/**
 * The state a resumable command (compare, experiment) left in `dir` as its JSON file `name`, by
 * the rule the run directories follow: `resume` needs that file, `overwrite` removes the
 * directory, and neither refuses a directory that holds one. Null for a fresh start; the caller
 * checks that what it resumes is the same work.
 */
export function openResumable<T>(dir: string, name: string, what: string, opts: { resume?: boolean; overwrite?: boolean }): T | null {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) {
    if (opts.resume) throw new UsageError(`nothing to resume: ${dir} holds no ${what}`);
    return null;
  }
  if (opts.overwrite) {
    fs.rmSync(dir, { recursive: true, force: true });
    return null;
  }
  if (!opts.resume) throw new UsageError(`${dir} already holds a${/^[aeiou]/.test(what) ? 'n' : ''} ${what}: continue it with --resume, or replace it with --overwrite`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}
