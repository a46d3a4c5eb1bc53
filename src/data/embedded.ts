/**
 * The embedded default data set: a seeded, class-balanced subset of Fashion-MNIST stored in the
 * repository (data/fashion-mnist), 1,000 training images per class and 200 test images per
 * class, in the data set's own gzipped idx format. Every command runs on real images on a fresh
 * machine, with no download. `scripts/make-embedded-data.ts` rebuilds it from Debian's files.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { UsageError } from '../errors.js';
import { FASHION_MNIST_CLASSES, readFashionSplit, type FashionSplit } from './fashionMnist.js';
import { encodeIdx, type IdxImages } from './idx.js';
import { balancedDraw } from './split.js';

/** Seed of the subset's draw from the training file; the t10k draw uses seed + 1. */
export const EMBEDDED_SEED = 0;
export const EMBEDDED_PER_CLASS: Record<FashionSplit, number> = { train: 1000, t10k: 200 };

/** data/fashion-mnist of the package this module belongs to (source checkout or installed). */
export function embeddedDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'data', 'fashion-mnist');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new UsageError('embedded data not found: data/fashion-mnist is missing from the gradcond package; reinstall it');
    dir = up;
  }
}

/** The embedded split's images and labels, with the files' manifest records. */
export function readEmbeddedSplit(split: FashionSplit): ReturnType<typeof readFashionSplit> {
  return readFashionSplit(embeddedDir(), split);
}

/** The class-balanced subset of one source split, in draw order. */
export function drawSubset(source: IdxImages, split: FashionSplit): IdxImages {
  const all = Int32Array.from({ length: source.count }, (_, i) => i);
  const n = EMBEDDED_PER_CLASS[split] * FASHION_MNIST_CLASSES.length;
  const seed = EMBEDDED_SEED + (split === 'train' ? 0 : 1);
  const { picked } = balancedDraw(source.labels, FASHION_MNIST_CLASSES.length, all, n, seed, `fashion-mnist ${split}`);
  const d = source.rows * source.cols;
  const pixels = new Uint8Array(n * d);
  const labels = new Uint8Array(n);
  picked.forEach((i, r) => {
    pixels.set(source.pixels.subarray(i * d, (i + 1) * d), r * d);
    labels[r] = source.labels[i];
  });
  return { count: n, rows: source.rows, cols: source.cols, pixels, labels };
}

/**
 * The embedded files, built from the Fashion-MNIST files in `sourceDir`: file name → gzipped
 * bytes. zlib level 9; Node's gzip header carries mtime 0 and no file name, so the output
 * depends only on the input and the zlib build.
 */
export function buildEmbeddedFiles(sourceDir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const split of ['train', 't10k'] as const) {
    const sub = drawSubset(readFashionSplit(sourceDir, split).images, split);
    files.set(`${split}-images-idx3-ubyte.gz`, gzipSync(encodeIdx([sub.count, sub.rows, sub.cols], sub.pixels), { level: 9 }));
    files.set(`${split}-labels-idx1-ubyte.gz`, gzipSync(encodeIdx([sub.count], sub.labels), { level: 9 }));
  }
  return files;
}
