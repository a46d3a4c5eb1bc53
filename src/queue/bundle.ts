/**
 * A set of files as one bounded, compressed buffer: how a run directory, a checkpoint snapshot, a
 * data file or a saved model travels through Redis when workers share no file system.
 *
 * Layout, then gzip: the 4 bytes `GCB1`, a 32-bit big-endian index length, the index (JSON:
 * `[{path, size, sha256}]`, sorted by path), then each file's bytes in index order. Unpacking
 * refuses a path that is absolute or leaves the target, sizes that do not add up, and a file
 * whose SHA-256 differs from the index, so a damaged or hostile bundle writes nothing outside its
 * directory and nothing unchecked.
 *
 * Limits: at most `MAX_PACKED_BYTES` compressed, `MAX_UNPACKED_BYTES` uncompressed and
 * `MAX_FILES` files; a bigger bundle is refused with its size, never cut short.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { makeDirs } from '../trace/dirs.js';

export const MAX_PACKED_BYTES = 64 * 2 ** 20;
export const MAX_UNPACKED_BYTES = 512 * 2 ** 20;
export const MAX_FILES = 10_000;

export interface Limits {
  packed: number;
  unpacked: number;
  files: number;
}
export const LIMITS: Limits = { packed: MAX_PACKED_BYTES, unpacked: MAX_UNPACKED_BYTES, files: MAX_FILES };
const MAGIC = Buffer.from('GCB1');

export interface BundleEntry {
  /** Relative, with forward slashes. */
  path: string;
  size: number;
  sha256: string;
}

export interface FileData {
  path: string;
  data: Buffer;
}

/** A bundle that cannot be made or read: too large, damaged, or naming a path outside its directory. */
export class BundleError extends Error {
  override name = 'BundleError';
}

export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** A relative path that stays inside its directory, or a BundleError. */
export function safeRelative(p: string): string {
  const norm = path.posix.normalize(p.replace(/\\/g, '/'));
  if (p.length === 0 || path.posix.isAbsolute(norm) || norm === '..' || norm.startsWith('../') || norm === '.' || norm.includes('\0')) {
    throw new BundleError(`bundle path '${p}' leaves its directory`);
  }
  return norm;
}

/** The content hash of a file set: the same files under the same names give the same hash. */
export function digestOf(entries: readonly BundleEntry[]): string {
  return sha256(JSON.stringify([...entries].sort((a, b) => (a.path < b.path ? -1 : 1)).map((e) => [e.path, e.size, e.sha256])));
}

export function indexOf(files: readonly FileData[]): BundleEntry[] {
  return files.map((f) => ({ path: safeRelative(f.path), size: f.data.length, sha256: sha256(f.data) }));
}

/** Packs files (sorted by path) into one gzipped buffer; a BundleError past the limits. */
export function pack(files: readonly FileData[], limits: Limits = LIMITS): Buffer {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : 1));
  const total = sorted.reduce((n, f) => n + f.data.length, 0);
  if (sorted.length > limits.files) throw new BundleError(`${sorted.length} files is more than the ${limits.files} a bundle may hold`);
  if (total > limits.unpacked) throw new BundleError(`${mib(total)} is more than the ${mib(limits.unpacked)} a bundle may hold uncompressed`);
  const index = Buffer.from(JSON.stringify(indexOf(sorted)));
  const head = Buffer.alloc(8);
  MAGIC.copy(head);
  head.writeUInt32BE(index.length, 4);
  const packed = zlib.gzipSync(Buffer.concat([head, index, ...sorted.map((f) => f.data)]), { level: 6 });
  if (packed.length > limits.packed) throw new BundleError(`${mib(packed.length)} compressed is more than the ${mib(limits.packed)} a bundle may hold`);
  return packed;
}

/** Reads a bundle back into its files, checking every path, size and hash. */
export function unpack(packed: Buffer, limits: Limits = LIMITS): FileData[] {
  if (packed.length > limits.packed) throw new BundleError(`bundle of ${mib(packed.length)} is over the ${mib(limits.packed)} limit`);
  let raw: Buffer;
  try {
    // The index is at most ~200 bytes a file: bound the output before it is inflated.
    raw = zlib.gunzipSync(packed, { maxOutputLength: limits.unpacked + 8 + 1024 * limits.files });
  } catch (err) {
    throw new BundleError(`damaged bundle: ${(err as Error).message}`);
  }
  if (raw.length < 8 || !raw.subarray(0, 4).equals(MAGIC)) throw new BundleError('damaged bundle: not a gradcond bundle');
  const indexEnd = 8 + raw.readUInt32BE(4);
  let index: BundleEntry[];
  try {
    index = JSON.parse(raw.subarray(8, indexEnd).toString('utf8')) as BundleEntry[];
  } catch {
    throw new BundleError('damaged bundle: unreadable index');
  }
  if (!Array.isArray(index) || index.length > limits.files) throw new BundleError('damaged bundle: bad index');
  const files: FileData[] = [];
  let at = indexEnd;
  for (const e of index) {
    const rel = safeRelative(String(e.path));
    if (!Number.isInteger(e.size) || e.size < 0 || at + e.size > raw.length) throw new BundleError(`damaged bundle: ${rel} is cut short`);
    const data = raw.subarray(at, at + e.size);
    if (sha256(data) !== e.sha256) throw new BundleError(`damaged bundle: ${rel} does not match its SHA-256`);
    files.push({ path: rel, data });
    at += e.size;
  }
  if (at !== raw.length) throw new BundleError('damaged bundle: trailing bytes');
  return files;
}

/** Every regular file under `dir` (symbolic links are not followed), relative paths, sorted. */
export function readDir(dir: string, skip: (rel: string) => boolean = () => false): FileData[] {
  const out: FileData[] = [];
  const walk = (rel: string) => {
    for (const ent of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (skip(r)) continue;
      if (ent.isDirectory()) walk(r);
      else if (ent.isFile()) out.push({ path: r, data: fs.readFileSync(path.join(dir, r)) });
    }
  };
  walk('');
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Writes files under `dir` (created), every path checked to stay inside it. */
export function writeFiles(files: readonly FileData[], dir: string): void {
  makeDirs(dir, 'run directory');
  for (const f of files) {
    const target = path.join(dir, safeRelative(f.path));
    makeDirs(path.dirname(target), 'run directory');
    fs.writeFileSync(target, f.data);
  }
}

/**
 * Replaces directory `dir` by the bundle's files, atomically as seen by readers of `dir`: the
 * files go to a sibling first, which is then renamed into place.
 */
export function replaceDir(files: readonly FileData[], dir: string): void {
  const incoming = `${dir}.incoming-${process.pid}`;
  fs.rmSync(incoming, { recursive: true, force: true });
  writeFiles(files, incoming);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(incoming, dir);
}
