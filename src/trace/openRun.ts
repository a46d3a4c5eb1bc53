/**
 * Opening a run directory for a run that writes it: a new run (refusing a directory that already
 * holds one), a replacement (`overwrite`), or the continuation of a run (`resume`), which appends
 * to the trace after removing a last line cut short by a killed process (a whole record missing
 * only its newline gets the newline), so that appended records never glue onto a fragment.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LOG_FILE } from '../log.js';
import { MANIFEST_FILE, SUMMARY_FILE, TRACE_FILE, TraceError, type RunManifest, type TraceRecord } from './format.js';
import { parseTrace, readManifest } from './reader.js';
import { createRun, TraceWriter } from './writer.js';

export type OpenMode = 'new' | 'overwrite' | 'resume';

export interface OpenedRun {
  writer: TraceWriter;
  /** The manifest in force: the one given (new, overwrite) or the one on disk (resume). */
  manifest: RunManifest;
  /** The records already in the trace (resume), in file order; empty otherwise. */
  records: TraceRecord[];
}

/** Milliseconds since 1970 of the manifest's start (now when it does not parse). */
export function startMsOf(manifest: RunManifest): number {
  const parsed = Date.parse(manifest.startTime);
  return Number.isFinite(parsed) ? parsed : Date.now();
}

/** True when `dir` holds a run (a manifest or a trace). */
export function holdsRun(dir: string): boolean {
  return [MANIFEST_FILE, TRACE_FILE].some((f) => fs.existsSync(path.join(dir, f)));
}

/** Where the run in `dir` stands, in a few words, from its trace ("stopped at step 13"). */
export function describeRun(dir: string): string {
  let records: TraceRecord[];
  try {
    records = parseTrace(fs.readFileSync(path.join(dir, TRACE_FILE), 'utf8'), TRACE_FILE).records;
  } catch {
    return 'its trace is missing or unreadable';
  }
  let last: string | undefined;
  let step: number | undefined;
  for (const r of records) {
    if (r.type === 'step') step = r.step;
    else if (r.type === 'event' && r.kind !== 'epoch' && r.kind !== 'health') last = r.kind;
  }
  const after = step === undefined ? 'before its first step' : `after step ${step}`;
  if (last === 'end') return `finished ${after}`;
  if (last === 'stop') return `stopped ${after}`;
  return `ended without an end event ${after}: killed?`;
}

/** Cuts an incomplete last line off the trace (see the module comment). */
function repairTail(tracePath: string): void {
  if (!fs.existsSync(tracePath)) return;
  const buf = fs.readFileSync(tracePath);
  const end = buf.lastIndexOf(0x0a) + 1;
  if (end === buf.length) return;
  let whole = false;
  try {
    JSON.parse(buf.subarray(end).toString('utf8'));
    whole = true;
  } catch {
    whole = false;
  }
  if (whole) fs.appendFileSync(tracePath, '\n');
  else fs.truncateSync(tracePath, end);
}

/** Reopens an existing run for appending, with the records it holds. */
function resumeRun(dir: string): OpenedRun {
  const manifest = readManifest(dir); // throws a TraceError when dir is not a run
  const tracePath = path.join(dir, TRACE_FILE);
  repairTail(tracePath);
  const text = fs.existsSync(tracePath) ? fs.readFileSync(tracePath, 'utf8') : '';
  const { records } = parseTrace(text, tracePath);
  return { writer: new TraceWriter(dir, startMsOf(manifest)), manifest, records };
}

/**
 * Opens `dir` for a run: see the module comment. A new run in a directory that holds one is a
 * TraceError whose message names both ways out (resume, overwrite); `overwrite` also removes the
 * old run.log and summary.json (checkpoints are the trainer's to remove).
 */
export function openRun(dir: string, mode: OpenMode, manifest: RunManifest): OpenedRun {
  if (mode === 'resume') return resumeRun(dir);
  if (mode === 'new' && holdsRun(dir)) {
    throw new TraceError(`already holds a run (${describeRun(dir)}): continue it with --resume, or replace it with --overwrite`, dir);
  }
  if (mode === 'overwrite') for (const f of [LOG_FILE, SUMMARY_FILE]) fs.rmSync(path.join(dir, f), { force: true });
  return { writer: createRun(dir, manifest, { overwrite: mode === 'overwrite' }), manifest, records: [] };
}
