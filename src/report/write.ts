/**
 * Writing a report: the HTML page, or each plot as its own SVG or PNG file. File names number
 * the plots in document order and say what they show: `03-training-loss-against-wall-time.png`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { plotsOf, type ReportDoc } from './doc.js';
import { renderReport } from './html.js';
import { renderPlot, type PlotFormat } from './plot.js';
import { makeDirs } from '../trace/dirs.js';

export type ReportFormat = 'html' | PlotFormat;
export const REPORT_FORMATS: readonly ReportFormat[] = ['html', 'svg', 'png'];

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'plot';
}

/** Writes the page to `file` (parent directories created); returns its size in bytes. */
export async function writeHtml(doc: ReportDoc, file: string): Promise<number> {
  const html = await renderReport(doc);
  makeDirs(path.dirname(path.resolve(file)), 'report directory');
  fs.writeFileSync(file, html);
  return Buffer.byteLength(html);
}

/**
 * Writes each plot of `doc` to `dir` as SVG or PNG, with its title (and its section's, when
 * there are several directories) drawn in; returns the files written.
 */
export async function writePlots(doc: ReportDoc, dir: string, format: PlotFormat, opts: { font?: string } = {}): Promise<string[]> {
  makeDirs(dir, 'plots directory');
  const plots = plotsOf(doc);
  const width = String(plots.length).length < 2 ? 2 : String(plots.length).length;
  const files: string[] = [];
  for (const [i, { path: where, plot }] of plots.entries()) {
    const titled = { ...plot.spec, title: plot.spec.title ?? { text: plot.title, subtitle: where.length > 2 ? where[0] : undefined } };
    const name = `${String(i + 1).padStart(width, '0')}-${slug(plot.title)}.${format}`;
    const file = path.join(dir, name);
    fs.writeFileSync(file, await renderPlot(titled as typeof plot.spec, format, { ...opts, name: plot.title }));
    files.push(file);
  }
  return files;
}
