/**
 * The report in a real browser (headless Chromium through puppeteer-core): it opens from a file
 * with no network, logs no console error, requests nothing but itself, draws every plot with a
 * non-zero size, shows its tables, and keeps the decisions' tooltips. A screenshot goes to
 * /tmp/report.png. Skipped only where /usr/bin/chromium is not installed (CI installs it).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import puppeteer from 'puppeteer-core';
import { comparisonReport, plotsOf, renderReport } from '../src/report/index.js';
import { writeSyntheticComparison, type SyntheticRun } from './fixtures/report/synthetic.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium): the browser check of the report is skipped`;

test('the report in headless Chromium: no console error, nothing fetched, every plot drawn, tables shown', { skip, timeout: 120_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-report-browser-'));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`],
  });
  try {
    const dir = path.join(tmp, 'comparison');
    const runs: SyntheticRun[] = [0, 1, 2].flatMap((seed) => [
      { policy: 'constant', seed, steps: 120 },
      { policy: 'plateau', seed, steps: 120, learningRate: (s: number) => (s < 60 ? 0.1 : s < 90 ? 0.05 : 0.025) },
      { policy: 'adabatch', seed, steps: 120, batchSize: (s: number) => (s < 40 ? 8 : 16), ending: seed === 2 ? 'diverged' : 'end' },
    ]);
    writeSyntheticComparison(dir, { runs, missing: [{ policy: 'plateau', seed: 3 }] });
    const doc = comparisonReport(dir, { linkFrom: tmp });
    const file = path.join(tmp, 'report.html');
    fs.writeFileSync(file, await renderReport(doc));

    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${String(e)}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`, { waitUntil: 'load' });

    const seen = await page.evaluate(() => ({
      plots: [...document.querySelectorAll('figure.plot svg')].map((s) => {
        const r = s.getBoundingClientRect();
        return { width: r.width, height: r.height, marks: s.querySelectorAll('.role-mark').length };
      }),
      tables: [...document.querySelectorAll('table.data')].map((t) => t.querySelectorAll('tbody tr').length),
      headers: [...document.querySelectorAll('table.data th')].map((th) => th.textContent),
      titles: [...document.querySelectorAll('figure.plot svg title')].map((t) => t.textContent ?? ''),
      toc: document.querySelectorAll('nav.toc a').length,
      font: getComputedStyle(document.body).fontSize,
    }));
    await page.screenshot({ path: '/tmp/report.png', fullPage: true });

    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [`file://${file}`]);
    assert.equal(seen.plots.length, plotsOf(doc).length);
    assert.equal(seen.plots.length, 9);
    for (const [i, p] of seen.plots.entries()) {
      assert.ok(p.width > 200 && p.height > 100, `plot ${i} drawn at ${p.width}×${p.height}`);
      assert.ok(p.marks > 0, `plot ${i} has no marks`);
    }
    assert.ok(seen.headers.includes('examples to target') && seen.headers.includes('val acc %'), seen.headers.join(', '));
    assert.equal(seen.tables[0], 3); // the comparison table: one row per policy
    assert.ok(seen.tables.includes(10)); // the runs table: nine runs and the missing one
    // Plateau's two decisions per seed on the learning-rate plot; adabatch's one per seed on the batch size plot.
    assert.equal(seen.titles.length, 3 * 2 + 3);
    assert.ok(seen.titles.every((t) => /after step \d+: .* → .* \(.*: plateau <\d+> & "quoted"/.test(t) || /adabatch/.test(t)), seen.titles.join('\n'));
    assert.ok(seen.toc >= 6);
    assert.equal(seen.font, '15px');
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
