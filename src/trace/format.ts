/**
 * The on-disk format of a run directory, shared by the writer and the reader.
 *
 *     <run>/manifest.json   RunManifest, written once, atomically (temp file + rename)
 *     <run>/trace.jsonl     one JSON object per line, appended as the run goes:
 *                           {"type":"step",   ...StepEvent}
 *                           {"type":"metric", ...MetricSample}
 *                           {"type":"event",  ...LifecycleEvent}
 *                           {"type":"update", ...PolicyDecision}
 *     <run>/run.log         (optional) JSON-lines log, see src/log.ts
 *     <run>/summary.json    (trainer runs) RunSummary, written when the run ends
 *     <run>/checkpoint/     (trainer runs) the latest checkpoint
 *
 * Every line is written with one synchronous write of the whole line and its newline, so a
 * process killed at any moment leaves a trace that is valid up to its last complete line.
 */
import type { LifecycleEvent, MetricSample, PolicyDecision, StepEvent } from '../stream/types.js';

export const MANIFEST_FILE = 'manifest.json';
export const TRACE_FILE = 'trace.jsonl';
export const SUMMARY_FILE = 'summary.json';
/**
 * The trace format this code writes. 2: epochs are 1-based and policy decisions are `update`
 * records. A manifest without `traceFormat` is format 1 (epochs counted from 0 in steps, metric
 * samples and events; no `update` records); it reads the same way.
 */
export const TRACE_FORMAT = 2;

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One layer of a model summary. */
export interface LayerSummary {
  name: string;
  className: string;
  /** Trainable and non-trainable parameter count. */
  params: number;
  outputShape?: JsonValue;
}

/** What was run, written once when the run starts. */
export interface RunManifest {
  /** The full run configuration, as given (CLI options, experiment definition…). */
  config: JsonValue;
  /** Seed of the run; null when unseeded. */
  seed: number | null;
  /** The tfjs backend in use ('wasm', 'cpu', 'tensorflow'…). */
  backend: string;
  versions: { gradcond: string; tfjs: string; node: string };
  /** Model summary: the text of `model.summary()`, or a layer list. */
  model: string | LayerSummary[];
  /** Start of the run, ISO 8601. */
  startTime: string;
  /** The trace format (TRACE_FORMAT); absent in format 1. */
  traceFormat?: number;
}

export type StepRecord = { type: 'step' } & StepEvent;
export type MetricRecord = { type: 'metric' } & MetricSample;
export type EventRecord = { type: 'event' } & LifecycleEvent;
export type UpdateRecord = { type: 'update' } & PolicyDecision;
/** One line of trace.jsonl. */
export type TraceRecord = StepRecord | MetricRecord | EventRecord | UpdateRecord;
export const RECORD_TYPES = ['step', 'metric', 'event', 'update'] as const;

/** A trace or run directory that cannot be written or read, with where. */
export class TraceError extends Error {
  override name = 'TraceError';
  /** The file concerned. */
  readonly file: string;
  /** 1-based line number in `file`, when the problem is one line. */
  readonly line: number | undefined;

  constructor(message: string, file: string, line?: number) {
    super(line === undefined ? `${file}: ${message}` : `${file}:${line}: ${message}`);
    this.file = file;
    this.line = line;
  }
}
