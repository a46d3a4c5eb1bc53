/**
 * gradcond installs the way tfjs add-ons do: the `npm pack` tarball goes into a scratch project
 * beside that project's own `@tensorflow/tfjs` (a peer dependency, so the user's model and
 * gradcond share one tfjs), and the README's drop-in example runs there as written. Packages come
 * from npm's cache where they can (this checkout's `npm ci` filled it), else from the registry.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'gradcond-pack-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The first js code block after the README's drop-in marker. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- drop-in example');
  assert.ok(at >= 0, 'the README marks its drop-in example');
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, 'a js block follows the marker');
  return m[1]!;
}

test('the packed tarball installs beside its own tfjs and runs the README example', { timeout: 600_000 }, () => {
  const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], ROOT)) as { filename: string; files: { path: string }[] }[];
  const files = packed[0]!.files.map((f) => f.path);
  assert.ok(files.some((f) => f.startsWith('dist/src/')), 'ships the compiled library');
  assert.ok(!files.some((f) => f.startsWith('dist/test/')), 'does not ship compiled tests');
  assert.ok(files.includes('data/fashion-mnist/LICENSE'), 'ships the embedded data set with its licence');
  const tfjs = JSON.parse(readFileSync(join(ROOT, 'node_modules/@tensorflow/tfjs/package.json'), 'utf8')).version as string;
  const project = join(dir, 'project');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', type: 'module', private: true }));
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, packed[0]!.filename), `@tensorflow/tfjs@${tfjs}`], project);
  assert.ok(existsSync(join(project, 'node_modules/@tensorflow/tfjs')), 'the project has its tfjs');
  assert.ok(!existsSync(join(project, 'node_modules/gradcond/node_modules/@tensorflow/tfjs')), 'gradcond uses the project\'s tfjs, not a copy of its own');
  writeFileSync(join(project, 'example.mjs'), readmeExample());
  const r = spawnSync(process.execPath, ['example.mjs'], { cwd: project, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `the example exits 0; stderr: ${r.stderr}`);
  assert.match(r.stdout, /learning rate after training: [0-9.e-]+/);
  assert.match(r.stdout, /\d+ update \{/, 'metric samples of the update group were streamed');
});
