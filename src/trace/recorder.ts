/**
 * The recorder: the one sink of a run. It opens the run directory (manifest, trace.jsonl,
 * run.log), takes ONE stream of records — step events, metric samples, lifecycle events, policy
 * decisions, in the order they happened — and for each record appends a trace line, writes the
 * log line that record deserves (epoch ends, health findings, policy decisions, start, stop, end)
 * and folds it into the run's summary. Without a run directory it only logs and summarises.
 *
 *     const rec = openRecorder({ runDir, mode: 'new', manifest, console: true });
 *     loop.records$.subscribe(rec.record);
 *     ...
 *     const summary = rec.finish();   // summary.json
 *     rec.close();
 *
 * While open, the recorder's logger is the process-wide logger (so that the optimizer's and the
 * policies' warnings land in run.log too); `close` puts the previous one back.
 */
import * as path from 'node:path';
import type { Observable, Subscription } from 'rxjs';
import { createLogger, setLogger, type Logger } from '../log.js';
import type { EpochEvent, LifecycleEvent, PolicyDecision } from '../stream/types.js';
import { SUMMARY_FILE, TraceError, type RunManifest, type TraceRecord } from './format.js';
import { openRun, startMsOf, type OpenMode } from './openRun.js';
import { SummaryBuilder, type RunSummary } from './summary.js';
import { writeJsonAtomic, type TraceWriter } from './writer.js';

export interface RecorderOptions {
  /** The run directory; without one nothing is written (the summary is still computed). */
  runDir?: string;
  /** 'new' (default) refuses a directory holding a run, 'overwrite' replaces it, 'resume' appends. */
  mode?: OpenMode;
  /** Written for a new run; a resumed run keeps the manifest on disk. */
  manifest: RunManifest;
  /** Level of run.log and the console lines (default 'info'). */
  logLevel?: string;
  /** Also log to the console, stderr (default false: a library stays quiet). */
  console?: boolean;
  /** The metric groups the run enabled, for the summary's warnings. */
  groups?: readonly string[];
}

function knobChange(d: PolicyDecision): string {
  const parts: string[] = [];
  if (d.before.learningRate !== d.after.learningRate) parts.push(`learning rate ${d.before.learningRate} → ${d.after.learningRate}`);
  if (d.before.batchSize !== d.after.batchSize) parts.push(`batch size ${d.before.batchSize} → ${d.after.batchSize}`);
  return parts.join(', ');
}

export class Recorder {
  readonly runDir: string | undefined;
  /** The manifest in force (on disk, for a resumed run). */
  readonly manifest: RunManifest;
  /** The run's start, ms since 1970: every record's wallTime counts from it. */
  readonly startMs: number;
  /** True when the run directory held this run already (resume). */
  readonly resumed: boolean;
  private readonly writer: TraceWriter | null;
  private readonly builder = new SummaryBuilder();
  private readonly groups: readonly string[];
  private readonly log: Logger;
  private failure: { error: unknown } | null = null;
  /** The logger this recorder installed, and the one it replaced; null when it installed none. */
  private installed: { mine: Logger; previous: Logger | undefined } | null = null;

  /** Use `openRecorder`. */
  constructor(opts: RecorderOptions) {
    this.runDir = opts.runDir;
    this.groups = opts.groups ?? [];
    const opened = opts.runDir === undefined ? null : openRun(opts.runDir, opts.mode ?? 'new', opts.manifest);
    this.writer = opened?.writer ?? null;
    this.manifest = opened?.manifest ?? opts.manifest;
    this.resumed = opts.mode === 'resume' && opened !== null;
    this.startMs = startMsOf(this.manifest);
    for (const r of opened?.records ?? []) this.builder.add(r);
    if (opts.runDir !== undefined || opts.console) {
      try {
        const mine = createLogger({ level: opts.logLevel ?? 'info', runDir: opts.runDir, console: opts.console ?? false });
        this.installed = { mine, previous: setLogger(mine) };
      } catch (err) {
        this.writer?.close();
        throw err;
      }
    }
    // Without a run directory or the console asked for, the run's own lines go nowhere: a library stays quiet.
    this.log = this.installed?.mine ?? createLogger({ console: false });
  }

  /** Milliseconds since the run started. */
  readonly clock = (): number => Date.now() - this.startMs;

  /** Takes one record: trace line, log line, summary. Bound: pass it as a callback. */
  readonly record = (r: TraceRecord): void => {
    this.writer?.write(r);
    this.builder.add(r);
    if (r.type === 'event') this.logEvent(r);
    else if (r.type === 'update') this.log.info(`policy ${r.policy}: ${knobChange(r)} (${r.reason})`, { step: r.step });
  };

  /**
   * Records every record of `records$`, in order, until it completes or the subscription ends.
   * A record that cannot be recorded (a full disk, a bad record) stops the recording; `check`
   * rethrows that error where the producer can stop (RxJS would only report it asynchronously).
   */
  subscribeTo(records$: Observable<TraceRecord>): Subscription {
    return records$.subscribe((r) => {
      if (this.failure !== null) return;
      try {
        this.record(r);
      } catch (error) {
        this.failure = { error };
      }
    });
  }

  /** Throws the error that stopped the recording, if any. */
  check(): void {
    if (this.failure !== null) throw this.failure.error;
  }

  /** Epoch ends of the whole run (a resumed run's earlier ones included), in order. */
  get epochs(): readonly EpochEvent[] {
    return this.builder.epochs;
  }

  /** The summary of the run so far (the whole run, for a resumed one). */
  summary(): RunSummary {
    return this.builder.result({ groups: this.groups });
  }

  /** The summary, also written as summary.json in the run directory. */
  finish(): RunSummary {
    const s = this.summary();
    if (this.runDir !== undefined) writeJsonAtomic(path.join(this.runDir, SUMMARY_FILE), s);
    return s;
  }

  /** Closes the trace and puts the previous process-wide logger back. Idempotent. */
  close(): void {
    this.writer?.close();
    if (this.installed) {
      setLogger(this.installed.previous);
      this.installed.mine.close();
      this.installed = null;
    }
  }

  /** The event's log line; a 'diverged' finding has none, as the `stop` event after it says the same. */
  private logEvent(e: LifecycleEvent): void {
    const text = e.message ?? e.kind;
    if (e.kind === 'health' && e.finding === 'diverged') return;
    if (e.kind === 'health') this.log.warn(text, { finding: e.finding, step: e.step });
    else if (e.kind === 'stop') this.log.warn(`stopped: ${text}`, { step: e.step });
    else this.log.info(text);
  }
}

/**
 * Opens a recorder (see the module comment). A directory that cannot be opened as asked is a
 * TraceError naming it.
 */
export function openRecorder(opts: RecorderOptions): Recorder {
  try {
    return new Recorder(opts);
  } catch (err) {
    if (err instanceof TraceError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && opts.runDir !== undefined) throw new TraceError(`cannot open the run directory (${(err as Error).message})`, opts.runDir);
    throw err;
  }
}
