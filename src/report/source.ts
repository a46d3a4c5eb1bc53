/**
 * What a directory given to `gradcond report` holds: a comparison (compare.json) or a single
 * run (trace.jsonl or manifest.json). Anything else is a UsageError naming the directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMPARE_FILE } from '../compare/compare.js';
import { UsageError } from '../errors.js';
import { MANIFEST_FILE, TRACE_FILE } from '../trace/format.js';
import { comparisonReport, type ReportOptions } from './comparison.js';
import type { ReportDoc } from './doc.js';
import { runReport } from './run.js';
import { limitsOf } from './runPlots.js';

export type DirKind = 'comparison' | 'run';

export function dirKind(dir: string): DirKind {
  if (!fs.existsSync(dir)) throw new UsageError(`${dir}: no such directory`);
  if (!fs.statSync(dir).isDirectory()) throw new UsageError(`${dir}: not a directory (give a comparison or a run directory)`);
  if (fs.existsSync(path.join(dir, COMPARE_FILE))) return 'comparison';
  if (fs.existsSync(path.join(dir, MANIFEST_FILE))) return 'run';
  if (fs.existsSync(path.join(dir, TRACE_FILE))) throw new UsageError(`${dir}: holds a ${TRACE_FILE} but no ${MANIFEST_FILE}, which a run directory needs`);
  throw new UsageError(`${dir}: neither a comparison directory (${COMPARE_FILE}) nor a run directory (${MANIFEST_FILE} and ${TRACE_FILE})`);
}

/** The report of one directory, whichever kind it is. */
export function reportOf(dir: string, opts: ReportOptions = {}): ReportDoc {
  return dirKind(dir) === 'comparison' ? comparisonReport(dir, opts) : runReport(dir, opts);
}

/** The report of several directories: one section each (one directory: its own report). */
export function reportOfAll(dirs: readonly string[], opts: ReportOptions = {}): ReportDoc {
  if (dirs.length === 0) throw new UsageError('name at least one comparison or run directory');
  limitsOf(opts); // bad options, then every directory, are refused before any trace is read
  dirs.forEach(dirKind);
  const docs = dirs.map((d) => reportOf(d, opts));
  if (docs.length === 1) return docs[0]!;
  return {
    title: 'gradcond report',
    subtitle: `${docs.length} directories: ${dirs.map((d) => `\`${d}\``).join(', ')}`,
    sections: docs.map((d) => ({ title: d.title, text: d.subtitle, sections: d.sections })),
  };
}
