/**
 * The one place that turns an error into what a command-line user sees: one line on stderr and
 * an exit code. Bad input (UsageError, a run directory or trace that cannot be used) exits 2; a
 * run that diverged exits 1; anything unexpected exits 1 too, with a clear first line, and its
 * stack only with `--log-level debug` or `GRADCOND_DEBUG=1`.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, sigint: 130, sigterm: 143 } as const;

// UnsupportedError: a model the engine cannot measure (the user's model, so bad input).
const USAGE = new Set(['UsageError', 'TraceError', 'ZodError', 'UnsupportedError']);
const FAILED_RUN = new Set(['TrainingDiverged', 'NonFiniteStep']);

/** A kernel the backend lacks, named with the backend to use instead. */
function kernelMessage(message: string): string | null {
  const m = /Kernel '(\w+)' not registered for backend '(\w+)'/.exec(message);
  if (!m) return null;
  const other = m[2] === 'cpu' ? 'wasm' : 'cpu';
  return `the ${m[2]} backend has no '${m[1]}' kernel, which this model needs: run with --backend ${other}`;
}

export interface ExitReport {
  code: number;
  /** The line to print after "gradcond: ". */
  line: string;
  /** The stack, for debug output. */
  stack?: string;
}

/** What the CLI prints and returns for `err`. */
export function exitReport(err: unknown): ExitReport {
  const e = err instanceof Error ? err : new Error(String(err));
  // tf.data rethrows an error from inside a data set's generator with this prefix added.
  const first = (e.message || e.name).split('\n')[0]!.trim().replace(/^Error thrown while iterating through a dataset: /, '');
  if (USAGE.has(e.name)) return { code: EXIT.usage, line: first };
  if (FAILED_RUN.has(e.name)) return { code: EXIT.failed, line: first };
  const signal = (e as { signal?: string }).signal;
  if (e.name === 'Interrupted' && signal) return { code: signal === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint, line: first };
  const kernel = kernelMessage(e.message);
  if (kernel) return { code: EXIT.usage, line: kernel };
  if (e instanceof RangeError && /call stack/.test(e.message)) {
    return { code: EXIT.usage, line: 'the input is nested too deeply to read (maximum call stack size exceeded)' };
  }
  if ((e as NodeJS.ErrnoException).code && (e as NodeJS.ErrnoException).syscall) {
    const io = e as NodeJS.ErrnoException;
    return { code: EXIT.usage, line: `${io.syscall} ${io.path ?? ''}: ${io.code}`.replace(/\s+:/, ':') };
  }
  return { code: EXIT.failed, line: `unexpected error: ${first}`, stack: e.stack };
}

/**
 * Writes what the user sees for `err` — "gradcond: <line>", then the stack only when asked for
 * (`debug`), else a hint that it can be — and returns the exit code.
 */
export function printError(err: unknown, debug: boolean, write: (text: string) => void): number {
  const report = exitReport(err);
  const hint = report.stack && !debug ? ' (GRADCOND_DEBUG=1 shows the stack)' : '';
  write(`gradcond: ${report.line}${hint}\n`);
  if (report.stack && debug) write(`${report.stack}\n`);
  return report.code;
}

/** Whether the user asked for stacks. */
export function debugWanted(argv: readonly string[]): boolean {
  if (process.env.GRADCOND_DEBUG === '1') return true;
  const i = argv.indexOf('--log-level');
  return argv.includes('--log-level=debug') || (i >= 0 && argv[i + 1] === 'debug');
}
