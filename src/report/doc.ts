/**
 * A report as data: a title and nested sections of text, tables and plots. The report builders
 * (`comparisonReport`, `runReport`) and the chapter-4 experiments produce a ReportDoc; one
 * renderer turns any ReportDoc into a self-contained HTML page (`renderReport`), and the plots
 * can also be written one file each (`writePlots`).
 */
import type { TopLevelSpec } from 'vega-lite';

/** A plot: a Vega-Lite specification holding its data inline (no URLs). */
export interface ReportPlot {
  title: string;
  spec: TopLevelSpec;
  /** Plain text or small markdown, shown under the plot. */
  caption?: string;
}

/** A table of display strings. Cells may use inline markdown: `code`, **bold**, [text](link). */
export interface ReportTable {
  columns: string[];
  rows: string[][];
  /** Plain text or small markdown, shown under the table. */
  caption?: string;
}

export interface Section {
  title: string;
  /** Plain text or small markdown: paragraphs, `-` or `1.` lists, fenced code, inline code, **bold**, links. */
  text?: string;
  plots?: ReportPlot[];
  table?: ReportTable;
  sections?: Section[];
}

export interface ReportDoc {
  title: string;
  subtitle?: string;
  sections: Section[];
}

/** Every plot of a document, depth first, with the titles of the sections it sits in. */
export function plotsOf(doc: ReportDoc): { path: string[]; plot: ReportPlot }[] {
  const out: { path: string[]; plot: ReportPlot }[] = [];
  const visit = (s: Section, path: string[]) => {
    const here = [...path, s.title];
    for (const plot of s.plots ?? []) out.push({ path: here, plot });
    for (const sub of s.sections ?? []) visit(sub, here);
  };
  for (const s of doc.sections) visit(s, []);
  return out;
}
