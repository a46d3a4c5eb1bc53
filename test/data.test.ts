import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fashionMnistAvailable, loadFashionMnist } from '../src/data/fashionMnist.js';
import { syntheticClusters } from '../src/data/synthetic.js';

test('Fashion-MNIST idx files load (installed by .ci/run from Debian)', { skip: !fashionMnistAvailable() && 'dataset-fashion-mnist not installed' }, () => {
  const ds = loadFashionMnist('t10k');
  assert.equal(ds.size, 10000);
  assert.deepEqual(ds.inputShape, [28, 28, 1]);
  assert.equal(ds.x.length, 10000 * 784);
  const counts = new Array(10).fill(0);
  for (const l of ds.labels) counts[l]++;
  assert.deepEqual(counts, new Array(10).fill(1000)); // the test split is balanced
  let min = Infinity;
  let max = -Infinity;
  for (const v of ds.x) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
});

test('missing idx files are a clear error', () => {
  assert.throws(() => loadFashionMnist('t10k', '/nonexistent'), /missing idx file .*dataset-fashion-mnist/);
});

test('synthetic data is seeded and balanced', () => {
  const a = syntheticClusters({ size: 100, seed: 3 });
  const b = syntheticClusters({ size: 100, seed: 3 });
  assert.deepEqual(a.x, b.x);
  assert.notDeepEqual(a.x, syntheticClusters({ size: 100, seed: 4 }).x);
  assert.deepEqual(Array.from(a.labels.slice(0, 12)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
});
