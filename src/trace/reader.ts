/**
 * Reads a run directory written by TraceWriter (see format.ts). A trace whose last line is
 * incomplete (the process was killed mid-write) reads fine up to it, with `truncated` set; any
 * other bad line is a TraceError naming the file and line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  lifecycleEventProblem,
  metricSampleProblem,
  stepEventProblem,
  type LifecycleEvent,
  type MetricSample,
  type StepEvent,
} from '../stream/types.js';
import { MANIFEST_FILE, TRACE_FILE, TraceError, type RunManifest, type TraceRecord } from './format.js';

export interface Trace {
  dir: string;
  manifest: RunManifest;
  /**
   * Step events in file order, without the `type` tag. After a resume (a `start` event at step
   * N > 0), the replayed steps replace those ≥ N written before the kill; so do metric samples.
   */
  steps: StepEvent[];
  /** Metric samples in file order, without the `type` tag. */
  metrics: MetricSample[];
  /** Lifecycle events in file order, without the `type` tag. */
  events: LifecycleEvent[];
  /** Every record in file order, tagged, to replay the interleaving. */
  records: TraceRecord[];
  /** True when the last line was incomplete and was ignored (the writer was killed). */
  truncated: boolean;
}

const MANIFEST_FIELDS = ['config', 'seed', 'backend', 'versions', 'model', 'startTime'] as const;

/** Reads and checks `manifest.json` of a run directory. */
export function readManifest(dir: string): RunManifest {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TraceError(code === 'ENOENT' ? 'no manifest: not a run directory' : String(err), file);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TraceError(`not valid JSON (${(err as Error).message})`, file);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TraceError('the manifest must be a JSON object', file);
  }
  const missing = MANIFEST_FIELDS.filter((k) => !(k in value));
  if (missing.length > 0) throw new TraceError(`the manifest lacks ${missing.join(', ')}`, file);
  return value as RunManifest;
}

function snippet(line: string): string {
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

/** Why `x` is not a trace record, or null when it is one. */
function recordProblem(x: unknown): string | null {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return 'not a JSON object';
  const type = (x as { type?: unknown }).type;
  switch (type) {
    case 'step':
      return stepEventProblem(x);
    case 'metric':
      return metricSampleProblem(x);
    case 'event':
      return lifecycleEventProblem(x);
    default:
      return `unknown record type ${JSON.stringify(type)} (expected step, metric or event)`;
  }
}

/**
 * Parses the text of a trace.jsonl. `file` names it in errors. Blank lines are skipped; an
 * incomplete last line (no newline, not a valid record) is ignored and flagged.
 */
export function parseTrace(text: string, file: string): { records: TraceRecord[]; truncated: boolean } {
  const lines = text.split('\n');
  // With a final newline the last piece is ''; without, it is the unterminated last line.
  const tail = lines.pop() ?? '';
  const records: TraceRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new TraceError(`corrupt line, not valid JSON (${(err as Error).message}): ${snippet(line)}`, file, i + 1);
    }
    const problem = recordProblem(value);
    if (problem !== null) throw new TraceError(`bad record: ${problem}: ${snippet(line)}`, file, i + 1);
    records.push(value as TraceRecord);
  });
  let truncated = false;
  if (tail.trim() !== '') {
    // The writer ends every record with a newline, so an unterminated line was cut short,
    // unless another tool wrote the file without a final newline: keep it if it is whole.
    let value: unknown;
    try {
      value = JSON.parse(tail);
    } catch {
      value = undefined;
    }
    if (value !== undefined && recordProblem(value) === null) records.push(value as TraceRecord);
    else truncated = true;
  }
  return { records, truncated };
}

function untag<T extends { type: string }>(r: T): Omit<T, 'type'> {
  const { type: _type, ...rest } = r;
  return rest;
}

/**
 * Reads a run directory: its manifest and every complete trace record. A run killed before
 * its first record (no trace.jsonl yet) reads as empty.
 */
export function readTrace(dir: string): Trace {
  const manifest = readManifest(dir);
  const file = path.join(dir, TRACE_FILE);
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new TraceError(String(err), file);
  }
  const { records, truncated } = parseTrace(text, file);
  const trace: Trace = { dir, manifest, steps: [], metrics: [], events: [], records, truncated };
  for (const r of records) {
    if (r.type === 'step') trace.steps.push(untag(r));
    else if (r.type === 'metric') trace.metrics.push(untag(r));
    else {
      const e = untag(r);
      trace.events.push(e);
      // A resumed run replays the steps since its checkpoint: the replay replaces them.
      if (e.kind === 'start' && e.step !== undefined && e.step > 0) {
        const from = e.step;
        trace.steps = trace.steps.filter((x) => x.step < from);
        trace.metrics = trace.metrics.filter((x) => x.step < from);
      }
    }
  }
  return trace;
}
