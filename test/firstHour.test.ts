/**
 * What a new user meets in their first hour, end to end through the CLI: a short CNN run on the
 * embedded Fashion-MNIST samples every enabled metric group and ends with a summary; the model
 * in its checkpoint (saved without tfjs-node) is what `probe` reads, on batches drawn straight
 * from a data set.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { SAMPLED_GROUPS } from '../src/metrics/registry.js';
import { PROBE_METRICS } from '../src/probe.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'gradcond-first-hour-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function gradcond(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the first hour', () => {
  const run = join(dir, 'cnn');

  test('a 32-step CNN run samples every enabled group at least once and ends with a summary', () => {
    const r = gradcond('train', '--model', 'cnn', '--steps', '32', '--examples', '2048', '--val-examples', '256', '--threads', '1', '--run-dir', run);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'));
    assert.equal(summary.status, 'done');
    assert.equal(summary.steps, 32);
    for (const g of SAMPLED_GROUPS) assert.ok(summary.groups[g]?.samples >= 1, `group ${g} was sampled: ${JSON.stringify(summary.groups[g])}`);
    assert.equal(summary.warnings.filter((w: string) => /never sampled/.test(w)).length, 0);
    assert.match(r.stdout, /done: 32 steps/);
    assert.match(r.stdout, /val_acc/, 'a --steps run reports its validation');
  });

  test("probe reads the run's checkpoint model and draws its batches from a data set", () => {
    const model = join(run, 'checkpoint', 'model', 'model.json');
    assert.ok(existsSync(model), 'the checkpoint holds a standard model.json');
    const r = gradcond('probe', '--model', model, '--data', 'embedded', '--batch-size', '16', '--batches', '2', '--threads', '1', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { metrics: Record<string, number | null>; reasons: Record<string, string> };
    assert.deepEqual(Object.keys(out.metrics).sort(), [...PROBE_METRICS].sort());
    for (const [k, v] of Object.entries(out.metrics)) assert.ok(v === null ? out.reasons[k] : Number.isFinite(v), `${k}: ${v}`);
  });
});
