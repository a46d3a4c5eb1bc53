/**
 * The corpus' harness: run the command line as a user does (a child process), run a library
 * call and see what the command line would make of its error (`exitReport`), and prove that
 * nothing earlier changed (every file of a directory, byte for byte).
 *
 * Every case asserts three things: the exit code; the one `gradcond: ` line on stderr that says
 * what went wrong (its key part); and that the files it must not touch are byte-identical.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitReport } from '../../src/cli/exit.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliRun {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from start to exit. */
  ms: number;
  /** Milliseconds from the (first) signal sent to the exit, when one was sent. */
  stopMs: number | null;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  /** Kill the process after this many ms (a hang fails the case instead of the suite). */
  timeoutMs?: number;
  /**
   * Send `signal` once stderr or stdout matches `when`; with `again`, send `again` as soon as
   * the first signal is acknowledged on stderr.
   */
  kill?: { signal: NodeJS.Signals; when: RegExp; again?: NodeJS.Signals; delayMs?: number };
}

/** Runs `gradcond ...args` as a child process, as a user would (`node --import tsx src/cli/main.ts`). */
export function cli(args: readonly string[], opts: CliOptions = {}): Promise<CliRun> {
  return script('src/cli/main.ts', args, opts);
}

/** Runs a TypeScript file of the repository (`node --import tsx <file> ...args`) as a child process. */
export function script(file: string, args: readonly string[], opts: CliOptions = {}): Promise<CliRun> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, file), ...args], {
    cwd: ROOT,
    env: { ...process.env, GRADCOND_DEBUG: '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let killedAt: number | null = null;
  let again = false;
  let armed = false;
  const watch = () => {
    const k = opts.kill;
    if (!k) return;
    if (killedAt === null && !armed && (k.when.test(stderr) || k.when.test(stdout))) {
      armed = true;
      const fire = () => {
        killedAt = performance.now();
        child.kill(k.signal);
      };
      if (k.delayMs) setTimeout(fire, k.delayMs);
      else fire();
    } else if (killedAt !== null && k.again && !again && /stopping after this step/.test(stderr)) {
      again = true;
      child.kill(k.again);
    }
  };
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    watch();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    watch();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const now = performance.now();
      resolve({ code, signal, stdout, stderr, ms: now - t0, stopMs: killedAt === null ? null : now - killedAt });
    }),
  );
}

/** The `gradcond: ` lines of stderr (progress lines of a long probe included), without log lines. */
export function gradcondLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('gradcond: '));
}

/**
 * Asserts a failed command: the exit code, exactly one `gradcond: ` line on stderr (the last
 * line of stderr) matching `line`, and no stack trace.
 */
export function assertFailure(run: CliRun, code: number, line: RegExp | string): void {
  const context = `exit ${run.code} (signal ${run.signal})\nstderr:\n${run.stderr}\nstdout:\n${run.stdout.slice(-2000)}`;
  assert.equal(run.code, code, context);
  const lines = gradcondLines(run.stderr);
  assert.equal(lines.length, 1, `expected one "gradcond: " line:\n${context}`);
  const last = run.stderr.trimEnd().split('\n').at(-1)!;
  assert.equal(last, lines[0], `the error is the last line of stderr:\n${context}`);
  const text = last.slice('gradcond: '.length);
  if (typeof line === 'string') assert.equal(text, line, context);
  else assert.match(text, line, context);
  assert.doesNotMatch(run.stderr, /^\s+at /m, `no stack trace:\n${context}`);
}

/** What the command line makes of `err`: its exit code and line. */
export function reportOf(err: unknown): { code: number; line: string } {
  const r = exitReport(err);
  return { code: r.code, line: r.line };
}

/**
 * Runs a library call that must fail, and asserts what the command line would print for its
 * error: exit code, one line matching `line`. Returns the error.
 */
export async function assertRefused(run: () => unknown, code: number, line: RegExp | string): Promise<unknown> {
  let error: unknown = null;
  try {
    await run();
  } catch (err) {
    error = err;
  }
  assert.ok(error !== null, 'expected an error, got none');
  const r = reportOf(error);
  assert.ok(!r.line.includes('\n'), `one line: ${r.line}`);
  assert.equal(r.code, code, `exit code for: ${r.line}`);
  if (typeof line === 'string') assert.equal(r.line, line);
  else assert.match(r.line, line);
  return error;
}

/** Every file under `p` (or `p` itself) → its SHA-256: two equal snapshots mean nothing changed. */
export function snapshot(p: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (q: string) => {
    const st = fs.statSync(q);
    if (st.isDirectory()) for (const f of fs.readdirSync(q).sort()) walk(path.join(q, f));
    else out.set(path.relative(p, q) || '.', createHash('sha256').update(fs.readFileSync(q)).digest('hex'));
  };
  walk(p);
  return out;
}

/** Asserts that `p` holds exactly what `before` recorded. */
export function assertUnchanged(p: string, before: Map<string, string>): void {
  assert.deepEqual([...snapshot(p)], [...before], `${p} changed`);
}

/** Runs `f` over `items`, at most `n` at a time. */
export async function inParallel<T, R>(items: readonly T[], n: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!);
      }
    }),
  );
  return out;
}

/** Tiny-run flags: a 784-8-10 MLP on 64 synthetic examples, cpu backend, no metric groups. */
export const TINY = ['--backend', 'cpu', '--data', 'synthetic', '--examples', '64', '--val-examples', '16', '--batch-size', '16', '--width', '8', '--depth', '1', '--groups', 'none'];
