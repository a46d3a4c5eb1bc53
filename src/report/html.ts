/**
 * A ReportDoc as one self-contained HTML page: inline CSS, plots inlined as SVG, no script, no
 * font or image fetched. A Content-Security-Policy that allows nothing external makes a browser
 * refuse any request the page might still make, so the file opens the same offline.
 */
import { plotsOf, type ReportDoc, type ReportPlot, type ReportTable, type Section } from './doc.js';
import { escapeHtml, inlineMarkdown, markdown } from './markdown.js';
import { renderPlot } from './plot.js';

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const CSS = `
:root { --ink: #1f2328; --muted: #57606a; --line: #d8dee4; --soft: #f6f8fa; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", Helvetica, Arial, sans-serif; }
header { padding: 28px 40px 18px; border-bottom: 1px solid var(--line); background: var(--soft); }
header h1 { margin: 0 0 4px; font-size: 26px; font-weight: 600; }
header .subtitle { margin: 0; color: var(--muted); }
.layout { display: flex; align-items: flex-start; }
nav.toc { position: sticky; top: 0; flex: 0 0 230px; max-height: 100vh; overflow-y: auto; padding: 20px 16px 20px 24px; font-size: 13.5px; border-right: 1px solid var(--line); }
nav.toc ul { list-style: none; margin: 0; padding-left: 0; }
nav.toc ul ul { padding-left: 14px; }
nav.toc li { margin: 3px 0; }
nav.toc a { color: var(--muted); text-decoration: none; }
nav.toc a:hover { color: var(--accent); }
main { flex: 1 1 auto; min-width: 0; padding: 8px 40px 40px; max-width: 1400px; }
h2 { font-size: 21px; font-weight: 600; margin: 34px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 17px; font-weight: 600; margin: 26px 0 8px; }
h4 { font-size: 15px; font-weight: 600; margin: 20px 0 6px; }
p, ul, ol { max-width: 62em; }
a { color: var(--accent); }
code { font: 13px/1.4 "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; background: var(--soft); padding: 1px 4px; border-radius: 4px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow-x: auto; max-width: 62em; }
pre code { background: none; padding: 0; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(470px, 1fr)); gap: 18px; margin: 12px 0; }
figure.plot { margin: 0; padding: 12px 12px 8px; border: 1px solid var(--line); border-radius: 8px; background: #fff; min-width: 0; }
figure.plot.wide { grid-column: 1 / -1; }
figure.plot .plot-title { font-weight: 600; margin-bottom: 4px; }
figure.plot svg { display: block; width: 100%; height: auto; }
figure.plot.wide svg { width: auto; max-width: 100%; }
figure.plot figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.table-wrap { overflow-x: auto; margin: 10px 0; }
table.data { border-collapse: collapse; font-size: 13.5px; }
table.data th, table.data td { padding: 5px 9px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
table.data th { background: var(--soft); font-weight: 600; vertical-align: bottom; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data tbody tr:hover { background: #fafbfc; }
.table-caption { color: var(--muted); font-size: 13px; max-width: 62em; }
.status { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12.5px; font-weight: 600; }
.status-done { background: #dafbe1; color: #116329; }
.status-diverged, .status-failed { background: #ffebe9; color: #a40e26; }
.status-dead, .status-incomplete, .status-stopped { background: #fff8c5; color: #7d4e00; }
.status-missing { background: #eaeef2; color: #57606a; }
footer { color: var(--muted); font-size: 12.5px; padding: 18px 40px; border-top: 1px solid var(--line); }
@media (max-width: 900px) { nav.toc { display: none; } main { padding: 8px 16px 32px; } .plots { grid-template-columns: 1fr; } }
`;

/** Words shown as coloured badges in table cells. */
const STATUS_WORDS = new Set(['done', 'diverged', 'dead', 'failed', 'incomplete', 'stopped', 'missing']);
/** Numbers (1,600; 72.2%; 1.000 [0.9–1.1]; +3.1 (p=0.25) *; 3/3) and the dash of a missing number, right-aligned. */
const NUMERIC = /^([-+−]?(\d[\d,]*(\.\d+)?|\.\d+)(e[-+]?\d+)?\s*%?(\s*\[[^\]]*\])?(\s*\(p=[\d.]+\))?( \*)?|\d+\/\d+|—)$/i;

/** A table cell: a status badge, a right-aligned number (columns of values only), or inline markdown. */
function cell(text: string, alignNumbers: boolean): string {
  if (STATUS_WORDS.has(text)) return `<td><span class="status status-${text}">${text}</span></td>`;
  return alignNumbers && NUMERIC.test(text.trim()) ? `<td class="num">${escapeHtml(text)}</td>` : `<td>${inlineMarkdown(text)}</td>`;
}

function tableHtml(t: ReportTable): string {
  // A key–value table has no column names: no header row, and its values stay left-aligned.
  const keyValue = t.columns.every((c) => c === '');
  const head = keyValue ? '' : `<thead><tr>${t.columns.map((c) => `<th>${inlineMarkdown(c)}</th>`).join('')}</tr></thead>`;
  const body = `<tbody>${t.rows.map((r) => `<tr>${r.map((c) => cell(c, !keyValue)).join('')}</tr>`).join('\n')}</tbody>`;
  const caption = t.caption ? `<div class="table-caption">${markdown(t.caption)}</div>` : '';
  return `<div class="table-wrap"><table class="data">${head}${body}</table></div>${caption}`;
}

function plotHtml(plot: ReportPlot, svg: string): string {
  const width = Number(/<svg[^>]*\swidth="([\d.]+)"/.exec(svg)?.[1] ?? 0);
  const caption = plot.caption ? `<figcaption>${inlineMarkdown(plot.caption)}</figcaption>` : '';
  return `<figure class="plot${width > 620 ? ' wide' : ''}"><div class="plot-title">${escapeHtml(plot.title)}</div>${svg}${caption}</figure>`;
}

/** Unique anchors from section titles. */
function anchors(): (title: string) => string {
  const used = new Map<string, number>();
  return (title) => {
    const base = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'section'}`;
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  };
}

interface Rendered {
  html: string;
  toc: string;
}

function sectionHtml(s: Section, depth: number, svgs: Map<ReportPlot, string>, anchor: (t: string) => string): Rendered {
  const id = anchor(s.title);
  const h = `h${Math.min(depth + 2, 4)}`;
  const parts = [`<${h} id="${id}">${escapeHtml(s.title)}</${h}>`];
  if (s.text) parts.push(markdown(s.text));
  if (s.table) parts.push(tableHtml(s.table));
  if (s.plots?.length) parts.push(`<div class="plots">${s.plots.map((p) => plotHtml(p, svgs.get(p)!)).join('\n')}</div>`);
  const subs = (s.sections ?? []).map((sub) => sectionHtml(sub, depth + 1, svgs, anchor));
  parts.push(...subs.map((r) => r.html));
  const subToc = depth < 1 && subs.length ? `<ul>${subs.map((r) => r.toc).join('')}</ul>` : '';
  return { html: `<section>${parts.join('\n')}</section>`, toc: `<li><a href="#${id}">${escapeHtml(s.title)}</a>${subToc}</li>` };
}

/**
 * The document as a self-contained HTML page (see the module comment). Async because vega
 * renders asynchronously; plots are rendered one after another.
 */
export async function renderReport(doc: ReportDoc, opts: { generated?: Date } = {}): Promise<string> {
  const svgs = new Map<ReportPlot, string>();
  for (const { plot } of plotsOf(doc)) svgs.set(plot, await renderPlot(plot.spec, 'svg', { name: plot.title }));
  const anchor = anchors();
  const sections = doc.sections.map((s) => sectionHtml(s, 0, svgs, anchor));
  const when = (opts.generated ?? new Date()).toISOString().replace('T', ' ').slice(0, 16);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${escapeHtml(doc.title)}</h1>${doc.subtitle ? `<p class="subtitle">${inlineMarkdown(doc.subtitle)}</p>` : ''}</header>
<div class="layout">
<nav class="toc" aria-label="Contents"><ul>${sections.map((s) => s.toc).join('')}</ul></nav>
<main>
${sections.map((s) => s.html).join('\n')}
</main>
</div>
<footer>Made by <code>gradcond report</code> on ${when} UTC. Plots: Vega-Lite, rendered to SVG; hover over a policy decision for its reason.</footer>
</body>
</html>
`;
}
