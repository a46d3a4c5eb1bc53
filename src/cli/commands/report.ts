/**
 * `gradcond report DIR...`: a comparison or run directory (several allowed, one section each) as
 * one self-contained HTML page with every plot inlined as SVG, or its plots as SVG / PNG files.
 * The report reads only the directories' files (see src/report).
 */
import * as path from 'node:path';
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { reportOfAll } from '../../report/source.js';
import { REPORT_FORMATS, type ReportFormat, writeHtml, writePlots } from '../../report/write.js';

export interface ReportArgs {
  dirs: string[];
  out: string;
  format: ReportFormat;
  'plots-dir'?: string;
  font?: string;
  'max-points': number;
}

export async function runReportCommand(args: ReportArgs): Promise<void> {
  if (args.format === 'html' && args['plots-dir'] !== undefined) throw new UsageError('--plots-dir goes with --format png or svg (the HTML page holds its plots)');
  if (args.font !== undefined && args.format !== 'png') throw new UsageError('--font goes with --format png (HTML and SVG name a font stack for the viewer)');
  // Links to run directories are relative to the page, so that the page moves with the directories.
  const linkFrom = args.format === 'html' ? path.dirname(path.resolve(args.out)) : process.cwd();
  const doc = reportOfAll(args.dirs, { maxPoints: args['max-points'], linkFrom });
  if (args.format === 'html') {
    const bytes = await writeHtml(doc, args.out);
    process.stdout.write(`report: ${args.out} (${(bytes / 1e6).toFixed(2)} MB)\n`);
    return;
  }
  const dir = args['plots-dir'] ?? `${args.out.replace(/\.html?$/i, '')}-plots`;
  const files = await writePlots(doc, dir, args.format, { font: args.font });
  process.stdout.write(`report: ${files.length} ${args.format.toUpperCase()} plot(s) in ${dir}\n`);
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <dirs..>',
  describe: 'One self-contained HTML report (or SVG / PNG plots) of comparison or run directories',
  builder: (y) =>
    y
      .positional('dirs', { type: 'string', array: true, describe: 'comparison directories (compare.json) or run directories (manifest.json + trace.jsonl)' })
      .option('out', { type: 'string', default: 'report.html', describe: 'the HTML file to write' })
      .option('format', { choices: REPORT_FORMATS, default: 'html' as ReportFormat, describe: 'html: one page; svg or png: one file per plot in --plots-dir' })
      .option('plots-dir', { type: 'string', describe: 'where --format svg|png writes the plots (default: --out without .html, plus -plots)' })
      .option('font', { type: 'string', describe: 'PNG: a .ttf/.otf font file for the text (default: DejaVu Sans, Liberation Sans or Arial, whichever is installed)' })
      .option('max-points', { type: 'number', default: 500, describe: 'most points per line: longer runs are reduced to bins of consecutive steps, median per bin' }) as never,
  handler: runReportCommand,
};
