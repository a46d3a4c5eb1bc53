/**
 * Rebuilds data/fashion-mnist (the embedded subset) from Debian's dataset-fashion-mnist files,
 * byte for byte, and prints each file's SHA-256. `--check` writes nothing: it rebuilds in
 * memory and exits 1 if any committed file differs.
 *
 *   node --import tsx scripts/make-embedded-data.ts [--source DIR] [--check]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildEmbeddedFiles, embeddedDir } from '../src/data/embedded.js';
import { FASHION_MNIST_DIR } from '../src/data/fashionMnist.js';
import { sha256 } from '../src/data/files.js';

function main(argv: string[]): number {
  const at = argv.indexOf('--source');
  const source = at >= 0 ? argv[at + 1] : FASHION_MNIST_DIR;
  const check = argv.includes('--check');
  const out = embeddedDir();
  console.log(`source ${source}: ${['train', 't10k'].flatMap((s) => [`${s}-images-idx3-ubyte.gz`, `${s}-labels-idx1-ubyte.gz`]).map((f) => `${f} ${sha256(readFileSync(join(source, f)))}`).join(', ')}`);
  let differ = 0;
  for (const [name, bytes] of buildEmbeddedFiles(source)) {
    const path = join(out, name);
    const same = existsSync(path) && readFileSync(path).equals(bytes);
    if (check) {
      if (!same) differ++;
      console.log(`${same ? 'same' : 'DIFFERS'} ${name}`);
    } else {
      writeFileSync(path, bytes);
      console.log(`wrote ${name}: ${bytes.length} bytes, gz sha256 ${sha256(bytes)}, idx sha256 ${sha256(gunzipSync(bytes))}`);
    }
  }
  console.log(`node ${process.versions.node}, zlib ${process.versions.zlib}`);
  return differ > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
