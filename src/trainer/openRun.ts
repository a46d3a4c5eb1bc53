/**
 * Reopens an existing run directory for appending (resume). `createRun` refuses a directory
 * that holds a run; this is its counterpart for continuing one. A last line cut short by a
 * killed process is removed first (a whole record missing only its newline gets the newline),
 * so that appended records never glue onto a fragment.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TRACE_FILE } from '../trace/format.js';
import { readManifest } from '../trace/reader.js';
import { TraceWriter } from '../trace/writer.js';

export function openRun(dir: string): TraceWriter {
  const manifest = readManifest(dir); // throws a TraceError when dir is not a run
  const tracePath = path.join(dir, TRACE_FILE);
  if (fs.existsSync(tracePath)) {
    const buf = fs.readFileSync(tracePath);
    const end = buf.lastIndexOf(0x0a) + 1;
    if (end < buf.length) {
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
  }
  const parsed = Date.parse(manifest.startTime);
  return new TraceWriter(dir, Number.isFinite(parsed) ? parsed : Date.now());
}
