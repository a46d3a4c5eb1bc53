/**
 * Reads a run directory written by TraceWriter (see format.ts). A trace whose last line is
 * incomplete (the process was killed mid-write) reads fine up to it, with `truncated` set; any
 * other bad line is a TraceError naming the file and line.
 *
 * Records are checked with the zod schemas of src/stream/types.ts. Older traces read too: step
 * events without `gradDotPrevGrad` / `gradDotPrevUpdate` get them as null.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import {
  LifecycleEventSchema,
  MetricSampleSchema,
  PolicyDecisionSchema,
  schemaProblem,
  StepEventSchema,
  type LifecycleEvent,
  type MetricSample,
  type PolicyDecision,
  type StepEvent,
} from '../stream/types.js';
import { MANIFEST_FILE, RECORD_TYPES, TRACE_FILE, TraceError, type RunManifest, type TraceRecord } from './format.js';

/** A run's records as one history: what a resumed run replayed replaces what it had written. */
export interface TraceView {
  /** Step events in order, without the `type` tag. */
  steps: StepEvent[];
  /** Metric samples in order, without the `type` tag. */
  metrics: MetricSample[];
  /** Lifecycle events in order, without the `type` tag (every start, stop and end is kept). */
  events: LifecycleEvent[];
  /** Policy decisions in order, without the `type` tag. */
  updates: PolicyDecision[];
}

export interface Trace extends TraceView {
  dir: string;
  manifest: RunManifest;
  /** Every record in file order, tagged, to replay the interleaving (nothing removed). */
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

const SCHEMAS: Record<TraceRecord['type'], z.ZodType> = {
  step: StepEventSchema,
  metric: MetricSampleSchema,
  event: LifecycleEventSchema,
  update: PolicyDecisionSchema,
};

/** `x` as a trace record (older fields filled in), or why it is not one. */
export function parseRecord(x: unknown): { record: TraceRecord } | { problem: string } {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return { problem: 'not a JSON object' };
  const type = (x as { type?: unknown }).type;
  if (!(RECORD_TYPES as readonly unknown[]).includes(type)) {
    return { problem: `unknown record type ${JSON.stringify(type)} (expected ${RECORD_TYPES.join(', ')})` };
  }
  const schema = SCHEMAS[type as TraceRecord['type']];
  const result = schema.safeParse(x);
  return result.success ? { record: result.data as TraceRecord } : { problem: schemaProblem(schema, x)! };
}

/** One line as a record, or undefined when it is not valid JSON or not a record. */
function tryRecord(line: string): TraceRecord | undefined {
  try {
    const parsed = parseRecord(JSON.parse(line));
    return 'record' in parsed ? parsed.record : undefined;
  } catch {
    return undefined;
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
    const parsed = parseRecord(value);
    if ('problem' in parsed) throw new TraceError(`bad record: ${parsed.problem}: ${snippet(line)}`, file, i + 1);
    records.push(parsed.record);
  });
  let truncated = false;
  if (tail.trim() !== '') {
    // The writer ends every record with a newline, so an unterminated line was cut short,
    // unless another tool wrote the file without a final newline: keep it if it is whole.
    const record = tryRecord(tail);
    if (record !== undefined) records.push(record);
    else truncated = true;
  }
  return { records, truncated };
}

function untag<T extends { type: string }>(r: T): Omit<T, 'type'> {
  const { type: _type, ...rest } = r;
  return rest;
}

/**
 * Drops what a resume at step `from` replays: steps, metric samples, policy decisions and health
 * findings of steps ≥ `from`, and epoch ends after it. (Steps done = `from` at the checkpoint, so
 * an epoch that ended exactly there, and the decisions of step `from` − 1, were in it.)
 */
function cutAt(view: TraceView, from: number): void {
  view.steps = view.steps.filter((x) => x.step < from);
  view.metrics = view.metrics.filter((x) => x.step < from);
  view.updates = view.updates.filter((x) => x.step < from);
  view.events = view.events.filter(
    (e) => e.step === undefined || (e.kind === 'epoch' ? e.step <= from : e.kind === 'health' ? e.step < from : true),
  );
}

/**
 * The records of a trace as one history. A `start` event at step N (a resume from a checkpoint
 * of N steps) is followed by a replay of what the killed process did after N: the replay
 * replaces it. Pure: a report or a remote worker gets the same view from the same records.
 */
export function traceView(records: readonly TraceRecord[]): TraceView {
  const view: TraceView = { steps: [], metrics: [], events: [], updates: [] };
  for (const r of records) {
    if (r.type === 'step') view.steps.push(untag(r));
    else if (r.type === 'metric') view.metrics.push(untag(r));
    else if (r.type === 'update') view.updates.push(untag(r));
    else {
      const e = untag(r);
      if (e.kind === 'start' && e.step !== undefined) cutAt(view, e.step);
      view.events.push(e);
    }
  }
  return view;
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
  return { dir, manifest, ...traceView(records), records, truncated };
}
