/**
 * Writes a run directory: `manifest.json` once, atomically, then one `trace.jsonl` line per
 * record, each appended with a single synchronous write so that a process killed at any
 * moment (even SIGKILL) leaves a trace valid up to its last complete line. See format.ts.
 *
 *     const trace = createRun('runs/mnist-adam-s1', manifest);
 *     optimizer.metrics$.subscribe(trace.metric);   // methods are bound: pass them as callbacks
 *     trace.event({ kind: 'end' });
 *     trace.close();
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  lifecycleEventProblem,
  metricSampleProblem,
  policyDecisionProblem,
  stepEventProblem,
  type LifecycleEvent,
  type MetricSample,
  type PolicyDecision,
  type StepEvent,
} from '../stream/types.js';
import { makeDirs } from './dirs.js';
import { MANIFEST_FILE, TRACE_FILE, TraceError, type RunManifest, type TraceRecord } from './format.js';

export interface CreateRunOptions {
  /**
   * Replace a run already in the directory (its trace is emptied). Without it, a directory
   * that already holds a manifest or a trace is an error, so that two runs never mix.
   */
  overwrite?: boolean;
}

/** JSON text with non-finite numbers as null (JSON.stringify's own rule, made explicit). */
function toJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), space);
}

/** Writes all of `buf` to `fd`, at the end of the file when `fd` was opened with 'a'. */
function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

/**
 * Writes `value` as pretty JSON to `file` atomically: a temporary file in the same directory,
 * flushed, then renamed over `file`. Readers see the old content or the new, never a part.
 */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    writeAll(fd, Buffer.from(toJson(value, 2) + '\n'));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** A record without its `type` tag (the tag is the writer's to add, first on the line). */
function untag<T extends { type: string }>(r: T): Omit<T, 'type'> {
  const { type: _type, ...rest } = r;
  return rest;
}

/** A lifecycle event to write; `wallTime` defaults to the time since the manifest's startTime. */
export type LifecycleInput = Omit<LifecycleEvent, 'wallTime'> & { wallTime?: number };

/** An open run directory. Create with `createRun`. */
export class TraceWriter {
  /** The run directory. */
  readonly dir: string;
  readonly manifestPath: string;
  readonly tracePath: string;
  private fd: number | null;
  private readonly startMs: number;
  private count = 0;

  /** Use `createRun`; this constructor expects the directory and manifest to exist. */
  constructor(dir: string, startMs: number) {
    this.dir = dir;
    this.manifestPath = path.join(dir, MANIFEST_FILE);
    this.tracePath = path.join(dir, TRACE_FILE);
    this.startMs = startMs;
    this.fd = fs.openSync(this.tracePath, 'a');
  }

  /** Records written by this writer so far. */
  get records(): number {
    return this.count;
  }

  get closed(): boolean {
    return this.fd === null;
  }

  /** Appends a step event. */
  readonly step = (e: StepEvent): void => {
    this.check(stepEventProblem(e), 'step');
    this.append({ type: 'step', ...e });
  };

  /** Appends a metric sample; non-finite values become null with a reason. */
  readonly metric = (s: MetricSample): void => {
    this.check(metricSampleProblem(s), 'metric');
    let values = s.values;
    let reasons = s.reasons;
    for (const [k, v] of Object.entries(s.values)) {
      if (typeof v === 'number' && !Number.isFinite(v)) {
        if (values === s.values) [values, reasons] = [{ ...s.values }, { ...s.reasons }];
        values[k] = null;
        reasons[k] ??= `non-finite value (${v})`;
      }
    }
    this.append({ type: 'metric', ...s, values, reasons });
  };

  /** Appends a lifecycle event (start, epoch, end, stop, health). */
  readonly event = (e: LifecycleInput): void => {
    const full: LifecycleEvent = { ...e, wallTime: e.wallTime ?? Date.now() - this.startMs };
    this.check(lifecycleEventProblem(full), 'event');
    this.append({ type: 'event', ...full });
  };

  /** Appends a policy decision (a knob changed). */
  readonly update = (d: PolicyDecision): void => {
    this.check(policyDecisionProblem(d), 'update');
    this.append({ type: 'update', ...d });
  };

  /** Appends any record, after checking its shape. */
  readonly write = (r: TraceRecord): void => {
    switch (r.type) {
      case 'step':
        return this.step(untag(r));
      case 'metric':
        return this.metric(untag(r));
      case 'event':
        return this.event(untag(r));
      case 'update':
        return this.update(untag(r));
      default:
        throw new TraceError(`unknown record type '${(r as { type: unknown }).type}'`, this.tracePath);
    }
  };

  /** Flushes the trace to disk and closes it. Idempotent; writing afterwards is an error. */
  readonly close = (): void => {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  };

  private check(problem: string | null, kind: string): void {
    if (problem !== null) throw new TraceError(`refusing to write a bad ${kind} record: ${problem}`, this.tracePath);
  }

  private append(record: TraceRecord): void {
    if (this.fd === null) throw new TraceError('trace is closed', this.tracePath);
    writeAll(this.fd, Buffer.from(toJson(record) + '\n'));
    this.count++;
  }
}

/**
 * Creates the run directory (and its parents), writes `manifest.json` atomically and opens
 * `trace.jsonl` for appending. Throws a TraceError when the directory already holds a run,
 * unless `overwrite`.
 */
export function createRun(dir: string, manifest: RunManifest, opts: CreateRunOptions = {}): TraceWriter {
  makeDirs(dir, 'run directory');
  const manifestPath = path.join(dir, MANIFEST_FILE);
  const tracePath = path.join(dir, TRACE_FILE);
  const existing = [manifestPath, tracePath].find((f) => fs.existsSync(f));
  if (existing !== undefined) {
    if (!opts.overwrite) {
      throw new TraceError('the run directory already holds a run; choose a new directory or overwrite it', existing);
    }
    fs.rmSync(tracePath, { force: true });
  }
  writeJsonAtomic(manifestPath, manifest);
  const parsed = Date.parse(manifest.startTime);
  return new TraceWriter(dir, Number.isFinite(parsed) ? parsed : Date.now());
}
