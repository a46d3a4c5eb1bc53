/**
 * `gradcond experiment fitness --quick`, end to end through the experiments framework
 * (`runExperiment`): the definition validates, its grid has at least 8 candidates (the full one
 * at least 24), the runs train in worker processes, and the analysis produces the table of the
 * fitness score and every zero-cost proxy against accuracy reached (each ρ in [−1, 1] inside its
 * interval, or null with why), the evidence, the fitted rule with its threshold sensitivity, a
 * plot per method, findings, and the report page. Takes a few minutes on 2 cores.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { useBackend } from '../src/backend/backend.js';
import { planExperiment } from '../src/experiments/plan.js';
import { getExperiment } from '../src/experiments/registry.js';
import { type ExperimentFile, REPORT_FILE, runExperiment } from '../src/experiments/run.js';
import { PROXY_NAMES } from '../src/fitness/proxies/index.js';

interface MethodRow {
  method: string;
  kind: string;
  rho: number | null;
  reason: string | null;
  interval: [number, number] | null;
  n: number;
}

describe('experiment fitness --quick', () => {
  let dir = '';
  let file: ExperimentFile;

  before(async () => {
    await useBackend('wasm', { threads: 1 });
    dir = join(mkdtempSync(join(tmpdir(), 'gradcond-fitness-')), 'experiment');
    file = await runExperiment(getExperiment('fitness'), dir, { variant: 'quick', jobs: 2, estimate: false });
  });
  after(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  test('at least 8 candidates, all trained; the full variant has at least 24', () => {
    assert.ok(file.runs.length >= 8, `${file.runs.length} quick candidates`);
    assert.ok(planExperiment(getExperiment('fitness').full).length >= 24);
    assert.ok(file.runs.every((r) => r.status !== 'failed' && r.status !== 'incomplete'), file.runs.map((r) => `${r.id}: ${r.status} ${r.error ?? ''}`).join('; '));
  });

  test('the score and every proxy against accuracy: each ρ inside its interval, or null with why', () => {
    const methods = (file.results as unknown as { methods: MethodRow[] }).methods;
    assert.deepEqual(methods.filter((m) => m.kind === 'fitness' || m.kind === 'proxy').map((m) => m.method), ['fitness score (leave-one-out)', 'thesis rule (no fitting)', ...PROXY_NAMES]);
    for (const m of methods) {
      if (m.rho === null) {
        assert.ok(m.reason, `${m.method}: null without a reason`);
        continue;
      }
      assert.ok(m.rho >= -1 && m.rho <= 1, `${m.method}: ρ ${m.rho}`);
      if (m.interval) assert.ok(m.interval[0] <= m.rho + 1e-12 && m.rho <= m.interval[1] + 1e-12, `${m.method}: ${m.rho} outside ${m.interval}`);
      assert.ok(m.n >= 3 && m.n <= file.runs.length);
    }
    assert.equal(methods.find((m) => m.method === 'params')!.n, file.runs.length, 'every candidate has a parameter count');
    const results = file.results as unknown as { candidates: unknown[]; sensitivity: unknown[]; rule: { terms: unknown[] } };
    assert.equal(results.candidates.length, file.runs.length);
    assert.equal(results.sensitivity.length, 5);
    assert.ok(results.rule.terms.length >= 1);
  });

  test('findings and the report page', () => {
    assert.match(file.findings[0]!, /^Fitness score \(leave-one-out\) against accuracy reached: ρ/);
    assert.ok(existsSync(join(dir, REPORT_FILE)));
    const html = readFileSync(join(dir, REPORT_FILE), 'utf8');
    for (const title of ['Fitness score and zero-cost proxies against accuracy reached', 'The evidence: each metric alone', 'The rule fitted on all candidates', 'How much the entry threshold matters', 'Score against accuracy reached, per method']) {
      assert.ok(html.includes(title), `report lacks '${title}'`);
    }
    assert.ok((html.match(/<svg/g) ?? []).length >= 2 + PROXY_NAMES.length + 6, 'a plot per method');
  });
});
