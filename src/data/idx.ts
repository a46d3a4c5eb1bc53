/**
 * The idx format of MNIST and Fashion-MNIST (LeCun et al., "The MNIST database of handwritten
 * digits", http://yann.lecun.com/exdb/mnist/): a big-endian header — two zero bytes, a type
 * byte (0x08 = unsigned byte), the rank — then one uint32 per dimension, then the data in
 * row-major order. Only unsigned-byte files are read (images and labels both are).
 *
 * Every way a file can be wrong is a one-line UsageError naming the file: bad magic number,
 * a header that promises more bytes than the file holds, trailing bytes, the wrong rank.
 */
import { UsageError } from '../errors.js';

export const IDX_UBYTE = 0x08;

export interface IdxArray {
  dims: number[];
  /** Row-major values, `prod(dims)` of them (a view into the decoded buffer). */
  data: Uint8Array;
}

/** Parses an (already gunzipped) idx buffer; `name` is the file name used in messages. */
export function parseIdx(buf: Uint8Array, name: string): IdxArray {
  if (buf.length < 4) throw new UsageError(`${name}: not an idx file (${buf.length} bytes, shorter than the 4-byte magic number)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0);
  const rank = magic & 0xff;
  if (magic >>> 8 !== IDX_UBYTE || rank === 0) {
    throw new UsageError(`${name}: not an unsigned-byte idx file (magic number 0x${magic.toString(16).padStart(8, '0')}, expected 0x000008NN)`);
  }
  const header = 4 + 4 * rank;
  if (buf.length < header) throw new UsageError(`${name}: truncated idx file (${buf.length} bytes, the rank-${rank} header alone needs ${header})`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const have = buf.length - header;
  if (have < count) {
    throw new UsageError(`${name}: truncated idx file (header says ${dims.join(' × ')} = ${count} bytes of data, the file has ${have})`);
  }
  if (have > count) throw new UsageError(`${name}: ${have - count} unexpected bytes after the idx data (header says ${dims.join(' × ')})`);
  return { dims, data: buf.subarray(header, header + count) };
}

/** Encodes an unsigned-byte idx buffer: the inverse of `parseIdx`. */
export function encodeIdx(dims: number[], data: Uint8Array): Buffer {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeIdx: dims ${dims.join('×')} need ${count} bytes, got ${data.length}`);
  const out = Buffer.alloc(4 + 4 * dims.length + count);
  out.writeUInt32BE((IDX_UBYTE << 8) | dims.length, 0);
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Images (rank 3: count × rows × cols) and their labels (rank 1), checked against each other. */
export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** `count × rows × cols` pixels, 0..255. */
  pixels: Uint8Array;
  labels: Uint8Array;
}

/** Pairs an image file with its label file; counts must agree and labels be in 0..classes−1. */
export function pairImages(images: IdxArray, labels: IdxArray, names: { images: string; labels: string }, classes: number): IdxImages {
  if (images.dims.length !== 3) throw new UsageError(`${names.images}: expected a rank-3 image file (count × rows × cols), got rank ${images.dims.length}`);
  if (labels.dims.length !== 1) throw new UsageError(`${names.labels}: expected a rank-1 label file, got rank ${labels.dims.length}`);
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) throw new UsageError(`${names.images} has ${count} images but ${names.labels} has ${labels.dims[0]} labels`);
  const bad = labels.data.findIndex((l) => l >= classes);
  if (bad >= 0) throw new UsageError(`${names.labels}: label ${labels.data[bad]} of item ${bad} is out of range 0..${classes - 1}`);
  return { count, rows, cols, pixels: images.data, labels: labels.data };
}
