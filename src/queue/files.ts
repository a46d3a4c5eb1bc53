/**
 * Data and model files by content hash. The submitter uploads a file set once
 * (`gradcond:file:<sha256>`, shared by every job and comparison that names the same bytes); a
 * worker downloads it once into `<cacheDir>/files/<sha256>/`, checks the hash, and reuses it.
 * A saved model travels as its model.json with the weight files its manifest names.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Redis } from 'ioredis';
import { UsageError } from '../errors.js';
import { BundleError, digestOf, type FileData, indexOf, pack, safeRelative, unpack, writeFiles } from './bundle.js';
import { type FileRef, keys } from './jobs.js';

/** A file's name as a plain name a job may carry (letters, digits, . _ -). */
const plainName = (file: string) => path.basename(file).replace(/[^A-Za-z0-9._-]/g, '_') || 'file';

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A data file (CSV or data.json) as a file set of one. */
export function dataFileSet(file: string): { files: FileData[]; main: string } {
  const main = plainName(file);
  return { files: [{ path: main, data: readFile(file, 'data file') }], main };
}

/** The weight file paths a model.json names (empty when it names none: loading will say so). */
export function weightPaths(modelJson: Buffer, file: string): string[] {
  let json: { weightsManifest?: { paths?: unknown }[] };
  try {
    json = JSON.parse(modelJson.toString('utf8')) as typeof json;
  } catch {
    throw new UsageError(`${file}: not valid JSON`);
  }
  const paths = (json.weightsManifest ?? []).flatMap((g) => (Array.isArray(g.paths) ? g.paths.map(String) : []));
  return paths.map((p) => {
    try {
      return safeRelative(p);
    } catch {
      throw new UsageError(`${file}: weight file '${p}' lies outside the model's directory`);
    }
  });
}

/** A saved model (model.json and its weight files) as a file set; main is the model.json. */
export function modelFileSet(modelJson: string): { files: FileData[]; main: string } {
  const main = plainName(modelJson);
  const json = readFile(modelJson, 'model file');
  const dir = path.dirname(modelJson);
  const weights = [...new Set(weightPaths(json, modelJson))].map((p) => ({ path: p, data: readFile(path.join(dir, p), 'weight file') }));
  return { files: [{ path: main, data: json }, ...weights.filter((w) => w.path !== main)], main };
}

/** Uploads a file set unless Redis holds it already; the reference a job carries. */
export async function uploadFileSet(redis: Redis, set: { files: FileData[]; main: string }): Promise<FileRef> {
  const index = indexOf(set.files);
  const hash = digestOf(index);
  const key = keys.file(hash);
  if (!(await redis.exists(key))) await redis.set(key, pack(set.files));
  return { sha256: hash, main: set.main, bytes: index.reduce((n, e) => n + e.size, 0) };
}

/**
 * The local path of a file set's main file, downloading it into the cache first if needed.
 * The set goes to a temporary directory and is renamed into place, so a cached set is complete.
 */
export async function fetchFileSet(redis: Redis, ref: FileRef, cacheDir: string): Promise<string> {
  const dir = path.join(cacheDir, 'files', ref.sha256);
  const main = path.join(dir, ref.main);
  if (fs.existsSync(dir)) return main;
  const packed = await redis.getBuffer(keys.file(ref.sha256));
  if (packed === null) throw new UsageError(`file set ${ref.sha256.slice(0, 12)}… is not in Redis (a submitter uploads it before queueing its runs)`);
  const files = unpack(packed);
  if (digestOf(indexOf(files)) !== ref.sha256) throw new BundleError(`file set ${ref.sha256.slice(0, 12)}… does not match its hash`);
  if (!files.some((f) => f.path === ref.main)) throw new UsageError(`file set ${ref.sha256.slice(0, 12)}… holds no ${ref.main}`);
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  writeFiles(files, tmp);
  try {
    fs.renameSync(tmp, dir);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }); // another job of this worker placed it first
  }
  return main;
}
