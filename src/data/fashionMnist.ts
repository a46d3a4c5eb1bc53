/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, "Fashion-MNIST: a novel image dataset for
 * benchmarking machine learning algorithms", arXiv:1708.07747) from its idx files, gzipped or
 * not. Debian's `dataset-fashion-mnist` installs them in /usr/share/datasets/fashion-mnist; the
 * embedded subset (embedded.ts) uses the same file names. Pixels are scaled to [0, 1] (÷255),
 * shape 28×28×1.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { decompress, readDataFile, type FileRecord } from './files.js';
import { pairImages, parseIdx, type IdxImages } from './idx.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Class names by index, as the data set's authors list them. */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export type FashionSplit = 'train' | 't10k';

const HOW_TO_GET = 'install it with `apt-get install dataset-fashion-mnist`, or pass --data-dir DIR';

/** The path of an idx file in `dir`, gzipped or not; a clear UsageError when neither exists. */
function idxPath(dir: string, base: string): string {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`fashion-mnist not found: no directory ${dir} (${HOW_TO_GET})`);
  const found = [join(dir, `${base}.gz`), join(dir, base)].find(existsSync);
  if (!found) throw new UsageError(`fashion-mnist: missing idx file ${join(dir, base)}(.gz) (${HOW_TO_GET})`);
  return found;
}

/** Reads one idx file, checked; returns it with its manifest record. */
function readIdxFile(path: string): { idx: ReturnType<typeof parseIdx>; record: FileRecord } {
  const { raw, record } = readDataFile(path, 'idx file');
  return { idx: parseIdx(decompress(path, raw), path), record };
}

/** A split's images and labels, checked against each other, with the files' records. */
export function readFashionSplit(dir: string, split: FashionSplit): { images: IdxImages; files: FileRecord[] } {
  const imagesPath = idxPath(dir, `${split}-images-idx3-ubyte`);
  const labelsPath = idxPath(dir, `${split}-labels-idx1-ubyte`);
  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  const paired = pairImages(images.idx, labels.idx, { images: imagesPath, labels: labelsPath }, FASHION_MNIST_CLASSES.length);
  return { images: paired, files: [images.record, labels.record] };
}

export function fashionMnistAvailable(dir = FASHION_MNIST_DIR): boolean {
  return existsSync(join(dir, 'train-images-idx3-ubyte.gz')) || existsSync(join(dir, 'train-images-idx3-ubyte'));
}

/** The images at `indices` (all when omitted), pixels ÷255, as a Dataset. */
export function imageDataset(img: IdxImages, name: string, indices?: ArrayLike<number>): Dataset {
  const d = img.rows * img.cols;
  const size = indices ? indices.length : img.count;
  const x = new Float32Array(size * d);
  const labels = new Int32Array(size);
  for (let r = 0; r < size; r++) {
    const i = indices ? indices[r] : r;
    const src = img.pixels.subarray(i * d, (i + 1) * d);
    for (let j = 0; j < d; j++) x[r * d + j] = src[j] / 255;
    labels[r] = img.labels[i];
  }
  return { name, inputShape: [img.rows, img.cols, 1], classes: FASHION_MNIST_CLASSES.length, x, labels, size };
}

/** A whole split of the files in `dir`. */
export function loadFashionMnist(split: FashionSplit = 'train', dir = FASHION_MNIST_DIR): Dataset {
  return imageDataset(readFashionSplit(dir, split).images, `fashion-mnist-${split}`);
}
