/**
 * A job's run spec made runnable on this worker: the files the job carries by hash are fetched
 * into the cache and the spec's paths rewritten to them; any other path the spec names (the
 * Fashion-MNIST directory, a data or model file) must lie inside the worker's data directory,
 * after symbolic links are resolved. Anything else is refused: a job never makes a worker read
 * a file its operator did not offer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Redis } from 'ioredis';
import type { RunSpec } from '../compare/runSpec.js';
import { UsageError } from '../errors.js';
import { fetchFileSet, weightPaths } from './files.js';
import type { Job } from './jobs.js';

export interface Places {
  /** Paths in specs resolve against this directory and must stay inside it. */
  dataDir: string;
  /** Where fetched file sets (and run directories in progress) live. */
  cacheDir: string;
}

function realpath(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

/** `p` (relative paths against the data directory), if it exists and lies inside the data directory. */
export function insideDataDir(p: string, what: string, dataDir: string): string {
  const root = realpath(dataDir);
  if (root === null) throw new UsageError(`this worker's data directory ${dataDir} does not exist, so it takes no ${what} by path`);
  const real = realpath(path.resolve(root, p));
  if (real === null) throw new UsageError(`${what} ${p} does not exist on this worker (paths resolve against its data directory ${dataDir})`);
  const rel = path.relative(root, real);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new UsageError(`${what} ${p} lies outside this worker's data directory ${dataDir}`);
  return real;
}

/** Every weight file a cached model.json names must be a file of its own set. */
function checkModelFiles(modelJson: string): void {
  const dir = path.dirname(modelJson);
  for (const p of weightPaths(fs.readFileSync(modelJson), path.basename(modelJson))) {
    if (!fs.existsSync(path.join(dir, p))) throw new UsageError(`the job's model names weight file '${p}', which it did not send`);
  }
}

export async function localize(job: Job, redis: Redis, places: Places): Promise<RunSpec> {
  const spec: RunSpec = structuredClone(job.spec);
  const d = spec.data;
  if (d.name === 'csv' || d.name === 'json') {
    d.file = job.files.data ? await fetchFileSet(redis, job.files.data, places.cacheDir) : insideDataDir(d.file, 'data file', places.dataDir);
  } else if (d.name === 'fashion-mnist') {
    d.dataDir = insideDataDir(d.dataDir, 'Fashion-MNIST directory', places.dataDir);
  }
  if ('path' in spec.model) {
    if (job.files.model) {
      spec.model.path = await fetchFileSet(redis, job.files.model, places.cacheDir);
      checkModelFiles(spec.model.path);
    } else {
      spec.model.path = insideDataDir(spec.model.path, 'model file', places.dataDir);
      weightPaths(fs.readFileSync(spec.model.path), spec.model.path); // refuses weight paths that leave its directory
    }
  }
  return spec;
}
