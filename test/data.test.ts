/**
 * Image data: idx parsing and its failures, Fashion-MNIST from Debian's files, and the embedded
 * subset, checked against its README, against the documented draw from the source files, and
 * through loadData. Expected values are computed here from raw bytes, never from the loader.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { UsageError } from '../src/errors.js';
import { embeddedDir } from '../src/data/embedded.js';
import { FASHION_MNIST_DIR, fashionMnistAvailable, loadFashionMnist } from '../src/data/fashionMnist.js';
import { parseIdx } from '../src/data/idx.js';
import { mulberry32 } from '../src/data/random.js';
import { loadData } from '../src/data/registry.js';
import { syntheticClusters } from '../src/data/synthetic.js';

const noDebian = !fashionMnistAvailable() && 'dataset-fashion-mnist not installed';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** An idx file written byte by byte: magic 0x0000 08 rank, big-endian dims, data. */
function idxBytes(dims: number[], data: number[], magic = 0x00000800 | dims.length): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic >>> 0, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

/** Raw idx content, decoded here without the loader: dims and data. */
function rawIdx(buf: Buffer): { dims: number[]; data: Buffer } {
  const rank = buf[3];
  const dims = Array.from({ length: rank }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  return { dims, data: buf.subarray(4 + 4 * rank) };
}

function throwsUsage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

test('parseIdx reads dims and data of a hand-built file', () => {
  const r = parseIdx(idxBytes([2, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]), 'x');
  assert.deepEqual(r.dims, [2, 2, 3]);
  assert.deepEqual(Array.from(r.data), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]);
});

test('idx: wrong magic, truncated, trailing bytes, too short are one-line UsageErrors', () => {
  throwsUsage(() => parseIdx(idxBytes([1, 2], [1, 2], 0x00000d02), 'f.idx'), /f\.idx: not an unsigned-byte idx file \(magic number 0x00000d02/);
  throwsUsage(() => parseIdx(idxBytes([3, 2, 2], [1, 2, 3]), 'f.idx'), /f\.idx: truncated idx file \(header says 3 × 2 × 2 = 12 bytes of data, the file has 3\)/);
  throwsUsage(() => parseIdx(idxBytes([2], [1, 2, 3]), 'f.idx'), /f\.idx: 1 unexpected bytes after the idx data/);
  throwsUsage(() => parseIdx(Buffer.from([0, 0]), 'f.idx'), /f\.idx: not an idx file/);
  throwsUsage(() => parseIdx(idxBytes([5, 5, 5], []).subarray(0, 10), 'f.idx'), /truncated idx file .*header alone needs 16/);
});

/** A Fashion-MNIST-style directory with the given (possibly broken) file contents. */
function fashionDir(files: Record<string, Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gradcond-fm-'));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}

const goodImages = idxBytes([3, 2, 2], [0, 51, 102, 255, 1, 2, 3, 4, 5, 6, 7, 8]);
const goodLabels = idxBytes([3], [9, 0, 4]);

test('fashion-mnist files: plain and gzipped idx load, pixels ÷255', () => {
  const plain = fashionDir({ 't10k-images-idx3-ubyte': goodImages, 't10k-labels-idx1-ubyte': goodLabels });
  const gz = fashionDir({ 't10k-images-idx3-ubyte.gz': gzipSync(goodImages), 't10k-labels-idx1-ubyte.gz': gzipSync(goodLabels) });
  for (const dir of [plain, gz]) {
    const ds = loadFashionMnist('t10k', dir);
    assert.deepEqual(ds.inputShape, [2, 2, 1]);
    assert.equal(ds.size, 3);
    assert.deepEqual(Array.from(ds.labels), [9, 0, 4]);
    assert.deepEqual(Array.from(ds.x.subarray(0, 4)), [0, 0.2, 0.4, 1].map(Math.fround));
  }
});

test('fashion-mnist files: each way of being broken is one clear line', () => {
  const load = (files: Record<string, Buffer>) => () => loadFashionMnist('t10k', fashionDir(files));
  throwsUsage(() => loadFashionMnist('t10k', '/nonexistent'), /fashion-mnist not found: no directory \/nonexistent \(install it with `apt-get install dataset-fashion-mnist`, or pass --data-dir DIR\)/);
  throwsUsage(load({ 't10k-images-idx3-ubyte': goodImages }), /missing idx file .*t10k-labels-idx1-ubyte\(\.gz\) .*apt-get install dataset-fashion-mnist/);
  throwsUsage(load({ 't10k-images-idx3-ubyte': goodImages, 't10k-labels-idx1-ubyte': idxBytes([2], [1, 2]) }), /has 3 images but .*t10k-labels-idx1-ubyte has 2 labels/);
  throwsUsage(load({ 't10k-images-idx3-ubyte': goodImages, 't10k-labels-idx1-ubyte': idxBytes([3], [1, 10, 2]) }), /label 10 of item 1 is out of range 0\.\.9/);
  throwsUsage(load({ 't10k-images-idx3-ubyte': goodLabels, 't10k-labels-idx1-ubyte': goodLabels }), /expected a rank-3 image file .*got rank 1/);
  throwsUsage(load({ 't10k-images-idx3-ubyte.gz': goodImages, 't10k-labels-idx1-ubyte': goodLabels }), /t10k-images-idx3-ubyte\.gz: not a gzip file/);
  const cut = gzipSync(goodImages).subarray(0, 20);
  throwsUsage(load({ 't10k-images-idx3-ubyte.gz': cut, 't10k-labels-idx1-ubyte': goodLabels }), /t10k-images-idx3-ubyte\.gz: corrupt gzip data \(unexpected end of file\)/);
  const flipped = Buffer.from(gzipSync(goodImages));
  flipped[12] ^= 0xff;
  throwsUsage(load({ 't10k-images-idx3-ubyte.gz': flipped, 't10k-labels-idx1-ubyte': goodLabels }), /corrupt gzip data/);
  throwsUsage(load({ 't10k-images-idx3-ubyte': goodImages.subarray(0, 20), 't10k-labels-idx1-ubyte': goodLabels }), /truncated idx file \(header says 3 × 2 × 2 = 12 bytes of data, the file has 4\)/);
});

test('Debian Fashion-MNIST t10k loads: 10,000 balanced images in [0, 1]', { skip: noDebian }, () => {
  const ds = loadFashionMnist('t10k');
  assert.equal(ds.size, 10000);
  assert.deepEqual(ds.inputShape, [28, 28, 1]);
  const counts = new Array(10).fill(0);
  for (const l of ds.labels) counts[l]++;
  assert.deepEqual(counts, new Array(10).fill(1000));
  let min = Infinity;
  let max = -Infinity;
  for (const v of ds.x) [min, max] = [Math.min(min, v), Math.max(max, v)];
  assert.deepEqual([min, max], [0, 1]);
});

const EMBEDDED = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

test('embedded files: gzip with mtime 0, SHA-256s as the README states, counts per class', () => {
  const dir = embeddedDir();
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  assert.match(readFileSync(join(dir, 'LICENSE'), 'utf8'), /Copyright \(c\) 2017 Zalando SE[\s\S]*Permission is hereby granted, free of charge/);
  for (const name of EMBEDDED) {
    const gz = readFileSync(join(dir, name));
    assert.equal(gz.readUInt32LE(4), 0, `${name}: gzip mtime`);
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\``));
    assert.ok(row, `README lists ${name}`);
    const [gzHash, idxHash] = [...row.matchAll(/`([0-9a-f]{64})`/g)].map((m) => m[1]);
    assert.equal(sha(gz), gzHash, `${name}: gz SHA-256`);
    assert.equal(sha(gunzipSync(gz)), idxHash, `${name}: idx SHA-256`);
  }
  for (const [split, n, per] of [['train', 10000, 1000], ['t10k', 2000, 200]] as const) {
    const labels = rawIdx(gunzipSync(readFileSync(join(dir, `${split}-labels-idx1-ubyte.gz`))));
    const images = rawIdx(gunzipSync(readFileSync(join(dir, `${split}-images-idx3-ubyte.gz`))));
    assert.deepEqual(images.dims, [n, 28, 28]);
    assert.deepEqual(labels.dims, [n]);
    const counts = new Array(10).fill(0);
    for (const l of labels.data) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(per));
  }
});

/** The README's draw, implemented here from its text: Fisher–Yates on mulberry32(seed), keep while under quota. */
function documentedDraw(labels: Buffer, perClass: number, seed: number): number[] {
  const rand = mulberry32(seed);
  const p = Array.from({ length: labels.length }, (_, i) => i);
  for (let i = p.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  const kept = new Array(10).fill(0);
  return p.filter((i) => kept[labels[i]] < perClass && ++kept[labels[i]] > 0);
}

test('embedded subset is exactly the documented draw from Debian’s files', { skip: noDebian }, () => {
  for (const [split, per, seed] of [['train', 1000, 0], ['t10k', 200, 1]] as const) {
    const srcImages = rawIdx(gunzipSync(readFileSync(join(FASHION_MNIST_DIR, `${split}-images-idx3-ubyte.gz`))));
    const srcLabels = rawIdx(gunzipSync(readFileSync(join(FASHION_MNIST_DIR, `${split}-labels-idx1-ubyte.gz`))));
    const images = rawIdx(gunzipSync(readFileSync(join(embeddedDir(), `${split}-images-idx3-ubyte.gz`))));
    const labels = rawIdx(gunzipSync(readFileSync(join(embeddedDir(), `${split}-labels-idx1-ubyte.gz`))));
    const drawn = documentedDraw(srcLabels.data, per, seed);
    assert.equal(drawn.length, per * 10);
    drawn.forEach((src, r) => {
      assert.equal(labels.data[r], srcLabels.data[src]);
      assert.ok(images.data.subarray(r * 784, (r + 1) * 784).equals(srcImages.data.subarray(src * 784, (src + 1) * 784)), `${split} image ${r}`);
    });
  }
});

/** Each image's pixels as a string key, so splits can be compared as multisets. */
function imageKeys(x: Float32Array, n: number): string[] {
  return Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 255)).join(','));
}

test('loadData embedded: 9,000 / 1,000 / 2,000, balanced validation, disjoint, pixels = bytes ÷ 255', () => {
  const d = loadData({ name: 'embedded' });
  assert.deepEqual(d.description.splits, { train: 9000, validation: 1000, test: 2000 });
  const val = d.validation!;
  const counts = new Array(10).fill(0);
  for (const l of val.labels) counts[l]++;
  assert.deepEqual(counts, new Array(10).fill(100));
  const fileImages = rawIdx(gunzipSync(readFileSync(join(embeddedDir(), 'train-images-idx3-ubyte.gz')))).data;
  const fileKeys = Array.from({ length: 10000 }, (_, i) => Array.from(fileImages.subarray(i * 784, (i + 1) * 784)).join(','));
  assert.deepEqual([...imageKeys(d.train.x, 9000), ...imageKeys(val.x, 1000)].sort(), fileKeys.sort());
  for (const v of d.train.x.subarray(0, 784 * 50)) assert.ok(v >= 0 && v <= 1 && Math.abs(v * 255 - Math.round(v * 255)) < 1e-4);
  assert.equal(d.description.normalisation, 'pixels ÷ 255, in [0, 1]');
  assert.equal(d.description.files.length, 4);
});

test('loadData embedded: seeded, fewer examples class-balanced, more is an error', () => {
  const a = loadData({ name: 'embedded', examples: 500, valExamples: 200, testExamples: 100, seed: 3 });
  const b = loadData({ name: 'embedded', examples: 500, valExamples: 200, testExamples: 100, seed: 3 });
  assert.deepEqual(a.validation!.x, b.validation!.x);
  assert.deepEqual(a.train.labels, b.train.labels);
  assert.notDeepEqual(a.validation!.x, loadData({ name: 'embedded', valExamples: 200, seed: 4 }).validation!.x);
  for (const [ds, per] of [[a.train, 50], [a.validation!, 20], [a.test!, 10]] as const) {
    const counts = new Array(10).fill(0);
    for (const l of ds.labels) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(per));
  }
  // The validation carve-out does not depend on how many training examples are taken.
  assert.deepEqual(loadData({ name: 'embedded', examples: 100, valExamples: 200, seed: 3 }).validation!.x, a.validation!.x);
  throwsUsage(() => loadData({ name: 'embedded', examples: 9500 }), /embedded training: 9500 examples asked, only 9000 available/);
  assert.equal(loadData({ name: 'embedded', valExamples: 0 }).validation, undefined);
});

test('embedded loads in well under a second', () => {
  loadData({ name: 'embedded' }); // warm the file cache and the JIT
  const t0 = performance.now();
  loadData({ name: 'embedded' });
  assert.ok(performance.now() - t0 < 1000, 'under a second (typically ~0.1 s)');
});

test('loadData fashion-mnist: 59,000 / 1,000 / 10,000 from Debian’s files', { skip: noDebian }, () => {
  const d = loadData({ name: 'fashion-mnist', valExamples: 1000 });
  assert.deepEqual(d.description.splits, { train: 59000, validation: 1000, test: 10000 });
  assert.equal(d.description.files[0].sha256, 'b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7');
});

test('loadData fashion-mnist with a missing --data-dir is one line saying how to get it', () => {
  throwsUsage(() => loadData({ name: 'fashion-mnist', dataDir: '/nonexistent/fm' }), /no directory \/nonexistent\/fm \(install it with `apt-get install dataset-fashion-mnist`, or pass --data-dir DIR\)/);
});

test('synthetic data is seeded and balanced; the positional loadData keeps its old splits', () => {
  const a = syntheticClusters({ size: 100, seed: 3 });
  const b = syntheticClusters({ size: 100, seed: 3 });
  assert.deepEqual(a.x, b.x);
  assert.notDeepEqual(a.x, syntheticClusters({ size: 100, seed: 4 }).x);
  assert.deepEqual(Array.from(a.labels.slice(0, 12)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  const old = syntheticClusters({ size: 60 + 20, seed: 5 }); // what loadData('synthetic', 60, 5, 20) returned before specs
  const d = loadData('synthetic', 60, 5, 20);
  assert.deepEqual(d.train.x, old.x.subarray(0, 60 * 784));
  assert.deepEqual(d.validation!.x, old.x.subarray(60 * 784, 80 * 784));
  assert.equal(d.test!.size, 512);
});
