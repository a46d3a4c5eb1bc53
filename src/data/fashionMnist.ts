/**
 * Fashion-MNIST from its idx files (Debian's `dataset-fashion-mnist` installs them in
 * /usr/share/datasets/fashion-mnist). Pixels scaled to [0, 1], shape 28×28×1.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { UsageError } from '../errors.js';
import type { Dataset } from './dataset.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

function readIdx(path: string): { dims: number[]; data: Uint8Array } {
  const file = [path, `${path}.gz`].find(existsSync);
  if (!file) throw new UsageError(`missing idx file ${path}(.gz): install Debian's dataset-fashion-mnist or pass --data-dir`);
  let buf = readFileSync(file);
  if (file.endsWith('.gz')) buf = gunzipSync(buf);
  const magic = buf.readUInt32BE(0);
  if (magic >> 8 !== 0x08) throw new UsageError(`${file}: not an unsigned-byte idx file (magic ${magic.toString(16)})`);
  const rank = magic & 0xff;
  const dims = Array.from({ length: rank }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const data = new Uint8Array(buf.buffer, buf.byteOffset + 4 + 4 * rank, dims.reduce((a, b) => a * b, 1));
  return { dims, data };
}

export function fashionMnistAvailable(dir = FASHION_MNIST_DIR): boolean {
  return existsSync(join(dir, 'train-images-idx3-ubyte.gz')) || existsSync(join(dir, 'train-images-idx3-ubyte'));
}

export function loadFashionMnist(split: 'train' | 't10k' = 'train', dir = FASHION_MNIST_DIR): Dataset {
  const images = readIdx(join(dir, `${split}-images-idx3-ubyte`));
  const labels = readIdx(join(dir, `${split}-labels-idx1-ubyte`));
  const [size, h, w] = images.dims;
  if (labels.dims[0] !== size) throw new UsageError(`${dir}: ${size} images but ${labels.dims[0]} labels`);
  const x = new Float32Array(images.data.length);
  for (let i = 0; i < x.length; i++) x[i] = images.data[i] / 255;
  return { name: `fashion-mnist-${split}`, inputShape: [h, w, 1], classes: 10, x, labels: Int32Array.from(labels.data), size };
}
