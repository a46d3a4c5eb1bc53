/**
 * Reading a user-named file once, with what a run manifest needs to identify it later: the
 * resolved path, its size and its SHA-256. A missing file is a one-line UsageError.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { UsageError } from '../errors.js';

/** Identifies a data file in a manifest: same hash, same bytes. */
export type FileRecord = {
  path: string;
  bytes: number;
  sha256: string;
};

export interface ReadFile {
  record: FileRecord;
  /** The file's bytes as stored (still gzipped if it is). */
  raw: Buffer;
}

export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Reads `path`; a missing path or a directory is a UsageError naming `what` it should be. */
export function readDataFile(path: string, what = 'data file'): ReadFile {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new UsageError(`${path}: ${what} not found`);
  if (statSync(abs).isDirectory()) throw new UsageError(`${path}: is a directory, expected a ${what}`);
  const raw = readFileSync(abs);
  return { record: { path: abs, bytes: raw.length, sha256: sha256(raw) }, raw };
}

const GZIP_MAGIC = [0x1f, 0x8b];

export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === GZIP_MAGIC[0] && buf[1] === GZIP_MAGIC[1];
}

/**
 * The file's content, gunzipped when it is gzip. A name ending in `.gz` must hold gzip data;
 * corrupt or truncated gzip is a UsageError, never a zlib stack trace.
 */
export function decompress(path: string, raw: Buffer): Buffer {
  if (!isGzip(raw)) {
    if (path.endsWith('.gz')) throw new UsageError(`${path}: not a gzip file (the name ends in .gz but the data does not start with gzip's magic bytes 1f 8b)`);
    return raw;
  }
  try {
    return gunzipSync(raw);
  } catch (err) {
    throw new UsageError(`${path}: corrupt gzip data (${(err as Error).message})`);
  }
}
