/**
 * docs/metrics.md against the code it documents: every registered metric has exactly one
 * section, inside its group's section, naming its family and its source; every group has a
 * section; the cost and preset tables are the registry's and the presets'; every quoted `null`
 * reason is one the code can produce; every internal link resolves; the E[R(Y)] table (computed
 * independently, by direct SVDs in float64) agrees with the Monte-Carlo normaliser; the page
 * stands alone; and the identities it states about the weight-perturbation metrics hold for the
 * code's functions on float64 vectors written out here. Plain text parsing, no Markdown library.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { coherence, diversity } from '../src/metrics/batchDissonance.js';
import { expectedStableRankEstimate } from '../src/metrics/expectedStableRank.js';
import { gramFromVectors } from '../src/metrics/gram.js';
import { GROUPS, METRICS, METRIC_NAMES, SAMPLE_GROUPS, metricsOfGroup, type SampleGroup } from '../src/metrics/registry.js';
import { PRESETS, PRESET_NAMES } from '../src/optimizer/options.js';
import { coherenceW, cosSimW, diversityW } from '../src/metrics/stepConsistency.js';
import type { MetricValue } from '../src/metrics/result.js';
import { seeded } from './helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DOC = readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8');

interface Heading {
  level: number;
  text: string;
  /** Index of the heading's line. */
  line: number;
}

const LINES = DOC.split('\n');

/** ATX headings outside fenced code blocks. */
function headings(lines: readonly string[]): Heading[] {
  const out: Heading[] = [];
  let fenced = false;
  lines.forEach((l, line) => {
    if (l.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^(#{1,6})\s+(.*)$/.exec(l);
    if (m) out.push({ level: m[1].length, text: m[2].trim(), line });
  });
  return out;
}

const HEADINGS = headings(LINES);

/** The text under heading `h`, up to the next heading of the same or a higher level. */
function sectionOf(h: Heading): string {
  const next = HEADINGS.find((o) => o.line > h.line && o.level <= h.level);
  return LINES.slice(h.line + 1, next ? next.line : LINES.length).join('\n');
}

/** The identifier a heading starts with in backticks, if any. */
const leadingCode = (h: Heading): string | null => /^`([^`]+)`/.exec(h.text)?.[1] ?? null;

/** Metric headings: level ≥ 3 headings that start with a code span. */
const metricHeadings = HEADINGS.filter((h) => h.level >= 3 && leadingCode(h) !== null);
/** Group headings: level 2 headings that start with a code span. */
const groupHeadings = HEADINGS.filter((h) => h.level === 2 && leadingCode(h) !== null);

/** The rows (cells, trimmed) of the table whose header line starts with `header`. */
function table(header: string): string[][] {
  const start = LINES.findIndex((l) => l.startsWith(header));
  assert.ok(start >= 0, `docs/metrics.md has no table headed '${header}'`);
  const rows: string[][] = [];
  for (let i = start + 2; i < LINES.length && LINES[i].startsWith('|'); i++) {
    rows.push(LINES[i].split('|').slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}

const codeSpans = (s: string): string[] => [...s.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

/** Every .ts file under `dir`, concatenated. */
function sourceText(dir: string): string {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

/** GitHub's anchor for a heading: lower case, code marks and punctuation dropped, spaces to '-'. */
const slug = (text: string): string =>
  text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, '').replace(/ /g, '-');

describe('docs/metrics.md and the metric registry', () => {
  test('every registered metric has exactly one section heading', () => {
    const named = metricHeadings.map(leadingCode);
    for (const name of METRIC_NAMES) {
      assert.equal(named.filter((n) => n === name).length, 1, `metric '${name}' needs exactly one '### \`${name}\`' heading`);
    }
  });

  test('no heading names a metric that is not registered', () => {
    for (const h of metricHeadings) {
      const name = leadingCode(h)!;
      assert.ok((METRIC_NAMES as readonly string[]).includes(name), `heading '${h.text}' (line ${h.line + 1}) names '${name}', which is not in METRIC_NAMES`);
    }
  });

  test('every group has exactly one section, and every group heading is a registered group', () => {
    for (const g of SAMPLE_GROUPS) {
      const n = groupHeadings.filter((h) => h.text.startsWith(`\`${g}\` group`)).length;
      assert.equal(n, 1, `group '${g}' needs exactly one '## \`${g}\` group …' heading`);
    }
    for (const h of groupHeadings) {
      const m = /^`([^`]+)` group\b/.exec(h.text);
      assert.ok(m && (SAMPLE_GROUPS as readonly string[]).includes(m[1]), `heading '${h.text}' (line ${h.line + 1}) is not '\`<group>\` group …' for a registered group`);
    }
  });

  test("each metric's section sits in its group's section and names its family and source", () => {
    for (const h of metricHeadings) {
      const name = leadingCode(h)! as (typeof METRIC_NAMES)[number];
      const spec = METRICS[name];
      const parent = [...HEADINGS].reverse().find((o) => o.line < h.line && o.level === 2);
      assert.ok(parent?.text.startsWith(`\`${spec.group}\` group`), `'${name}' is under '${parent?.text}', but its group is '${spec.group}'`);
      const body = sectionOf(h);
      assert.ok(body.includes(spec.family), `section '${name}' does not name its family '${spec.family}'`);
      const tokens = spec.thesis.match(/\d+\.\d+|\b(?:19|20)\d\d\b|[A-Z][A-Za-z]{3,}/g) ?? [];
      for (const t of tokens) assert.ok(body.includes(t), `section '${name}' does not cite '${t}' (registry: '${spec.thesis}')`);
    }
  });

  test("the cost table is the registry's declaration, group by group", () => {
    const rows = table('| Group | Extra forward |');
    assert.deepEqual(sorted(rows.map((r) => codeSpans(r[0])[0])), sorted(SAMPLE_GROUPS));
    for (const [cell, forward, backward, memory, prior, metrics] of rows) {
      const g = codeSpans(cell)[0] as SampleGroup;
      const spec = GROUPS[g];
      assert.equal(forward, String(spec.extraPasses.forward), `${g}: extra forward passes`);
      assert.equal(backward, String(spec.extraPasses.backward), `${g}: extra backward passes`);
      assert.equal(memory, spec.memory, `${g}: memory`);
      assert.equal(Number(prior), spec.priorSteps, `${g}: prior cost in steps`);
      assert.deepEqual(sorted(codeSpans(metrics)), sorted(metricsOfGroup(g).map((m) => m.name)), `${g}: metrics`);
    }
  });

  test('the preset table is PRESETS', () => {
    const rows = table('| Preset | Sampled groups |');
    assert.deepEqual(sorted(rows.map((r) => codeSpans(r[0])[0])), sorted(PRESET_NAMES));
    for (const [cell, groups] of rows) {
      const name = codeSpans(cell)[0] as keyof typeof PRESETS;
      assert.deepEqual(sorted(codeSpans(groups)), sorted(PRESETS[name]), `preset '${name}'`);
    }
  });
});

describe('docs/metrics.md against the code and itself', () => {
  test('every quoted reason ("…" in a code span) is produced by the code', () => {
    const src = sourceText(join(ROOT, 'src'));
    const reasons = [...DOC.matchAll(/`"([^"`]+)"`/g)].map((m) => m[1].replace(/\s+/g, ' ')); // a quote may wrap
    assert.ok(reasons.length >= 40, `expected the page to quote the null reasons, found ${reasons.length}`);
    for (const r of reasons) {
      // `…` stands for a value the code fills in: each piece around it must occur verbatim.
      for (const piece of r.split('…').map((p) => p.trim()).filter((p) => p.length > 0)) {
        assert.ok(src.includes(piece), `reason "${r}": '${piece}' does not occur in src/`);
      }
    }
  });

  test('every internal link points at a heading', () => {
    const anchors = new Set(HEADINGS.map((h) => slug(h.text)));
    const links = [...DOC.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
    assert.ok(links.length > 0);
    for (const a of links) assert.ok(anchors.has(a), `link #${a} has no heading`);
  });

  test('the E[R(Y)] table agrees with the Monte-Carlo normaliser and with its own closed form', () => {
    const rows = table('| Shape `d × b` |');
    assert.ok(rows.length >= 4);
    for (const [shape, mean, closed, off] of rows) {
      const [d, b] = shape.split('×').map((s) => Number(s.trim()));
      const doc = Number(mean);
      const est = expectedStableRankEstimate(d, b);
      // The page's value has a standard error ≤ 0.007 and is rounded to 0.0005.
      assert.ok(Math.abs(est.mean - doc) <= 4 * est.stdError + 0.01, `${d} × ${b}: page ${doc}, code ${est.mean} ± ${est.stdError}`);
      const cf = (d * b) / (Math.sqrt(d) + Math.sqrt(b)) ** 2;
      assert.ok(Math.abs(Number(closed) - cf) <= 5e-4, `${d} × ${b}: closed form ${closed}, expected ${cf}`);
      assert.equal(Number(off.replace('−', '-').replace('%', '')), Math.round(((cf - doc) / doc) * 100), `${d} × ${b}: 'off by' column`);
    }
  });

  test('the page stands alone (no pointers to files outside the repository)', () => {
    for (const s of ['METRICS.md', 'THESIS.md', 'STYLE.md', 'ARCHITECTURE.md', '../shared', '/work/']) {
      assert.ok(!DOC.includes(s), `docs/metrics.md mentions '${s}'`);
    }
  });
});

/** Float64 vector helpers, written out (not through src/metrics). */
const vec = (n: number, seed: number, scale = 1): number[] => Array.from(seeded(n, seed), (v) => v * scale);
const add = (...vs: number[][]): number[] => vs[0].map((_, i) => vs.reduce((s, v) => s + v[i], 0));
const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i], 0);
const value = (m: MetricValue): number => {
  assert.notEqual(m.value, null, m.reason);
  return m.value!;
};

/** The four-metric sample of h̄₀ and perturbed gradients hs (‖ω_k‖ = 1: it does not enter these three). */
const weightSample = (h0: number[], hs: number[][]) => ({ gram: gramFromVectors([h0, ...hs]), omegaNorms: hs.map(() => 1), thetaNorm: 1 });

describe("the page's claims about the weight-perturbation metrics hold for the code", () => {
  const P = 50;
  const h0 = vec(P, 11);

  test('diversityW = 1/K + Σ‖h̄_k − m‖² / (K²‖m‖²) exactly', () => {
    const hs = [vec(P, 21), vec(P, 22), vec(P, 23)].map((v) => add(h0, v.map((x) => 0.3 * x)));
    const K = hs.length;
    const m = add(...hs).map((x) => x / K);
    const spread = hs.reduce((s, h) => s + dot(add(h, m.map((x) => -x)), add(h, m.map((x) => -x))), 0);
    const expected = 1 / K + spread / (K * K * dot(m, m));
    assert.ok(Math.abs(value(diversityW(weightSample(h0, hs))) - expected) <= 1e-12 * expected);
  });

  test('with a symmetric pair ±ω, cosSimW, diversityW, coherenceW are within O(ε²) of 1, ½, 1', () => {
    const u = vec(P, 31);
    const w = vec(P, 32);
    // h̄(θ ± ω) = h̄₀ ± ε·u + ε²·w: a first-order and a second-order term.
    const deviation = (eps: number): number[] => {
      const hs = [1, -1].map((sgn) => add(h0, u.map((x) => sgn * eps * x), w.map((x) => eps * eps * x)));
      const s = weightSample(h0, hs);
      return [1 - value(cosSimW(s)), value(diversityW(s)) - 0.5, value(coherenceW(s)) - 1].map(Math.abs);
    };
    const [coarse, fine] = [deviation(1e-2), deviation(1e-3)];
    fine.forEach((d, i) => {
      assert.ok(d < 1e-4, `deviation ${i} at ε = 1e-3 is ${d}`);
      // Quadratic: ten times smaller ε, about a hundred times smaller deviation (not ten).
      assert.ok(coarse[i] / d > 50, `deviation ${i} shrinks by ${coarse[i] / d}, not quadratically`);
    });
  });

  test('one-sided directions move coherenceW at first order: 1 − Σ⟨h̄₀, v_k⟩ / (K‖h̄₀‖²)', () => {
    // Like descent directions −h_k: each example's gradient resembles the batch gradient.
    const vs = [vec(P, 41), vec(P, 42)].map((v) => add(h0, v.map((x) => 0.5 * x)).map((x) => -x));
    for (const eps of [1e-2, 1e-3]) {
      const hs = vs.map((v) => add(h0, v.map((x) => eps * x)));
      const predicted = 1 - vs.reduce((s, v) => s + eps * dot(h0, v), 0) / (vs.length * dot(h0, h0));
      const got = value(coherenceW(weightSample(h0, hs)));
      assert.ok(Math.abs(got - 1) > 10 * Math.abs(got - predicted), `ε = ${eps}: coherenceW ${got}, first-order ${predicted}`);
    }
  });

  test('coherence = 1 / (b · diversity of the b single examples) exactly', () => {
    const b = 6;
    const hs = Array.from({ length: b }, (_, i) => add(h0, vec(P, 51 + i, 2)));
    const gram = gramFromVectors(hs);
    const c = value(coherence({ gram, dim: P }));
    const d = value(diversity({ gram }));
    assert.ok(Math.abs(c - 1 / (b * d)) <= 1e-12 * c);
  });
});
