/**
 * A command-line corpus case and its runner: the command runs as a child process; the case
 * passes when the exit code and the one `gradcond: ` line are as expected and every input file
 * (models, data, earlier run directories) is byte-identical afterwards.
 */
import * as fs from 'node:fs';
import { describe, test } from 'node:test';
import type { Fixtures } from './fixtures.js';
import { assertFailure, assertUnchanged, cli, type CliRun, snapshot } from './harness.js';

export interface CliCase {
  name: string;
  /** The arguments after `gradcond`. */
  args: (fx: Fixtures) => string[];
  code: number;
  /** The line after "gradcond: ", or a pattern of its key part. */
  line: RegExp | string;
  env?: NodeJS.ProcessEnv;
  /** More checks once the common ones passed. */
  check?: (run: CliRun, fx: Fixtures) => void;
  /** A root cause outside the files this corpus' author owns: reported as a todo, with why. */
  todo?: string;
}

/** Base flags whose value a case's own flags replace (`--examples 64` gives way to `--examples 1e12`). */
export function withFlags(base: readonly string[], flags: readonly string[]): string[] {
  const given = new Set(flags.filter((f) => f.startsWith('--')));
  if (given.has('--epochs')) given.add('--steps');
  const out: string[] = [];
  for (let i = 0; i < base.length; i++) {
    const f = base[i]!;
    const takesValue = i + 1 < base.length && !base[i + 1]!.startsWith('--');
    if (given.has(f)) {
      if (takesValue) i++;
      continue;
    }
    out.push(f);
  }
  return [...out, ...flags];
}

/** Runs `cases` as node:test tests, `concurrency` child processes at a time. */
export function cliSuite(title: string, fixtures: () => Fixtures, cases: readonly CliCase[], concurrency = 3): void {
  describe(title, { concurrency }, () => {
    for (const c of cases) {
      test(c.name, { todo: c.todo, timeout: 180_000 }, async () => {
        const fx = fixtures();
        const before = snapshot(fx.dir);
        const run = await cli(c.args(fx), { env: c.env });
        assertFailure(run, c.code, c.line);
        assertUnchanged(fx.dir, before);
        c.check?.(run, fx);
      });
    }
  });
}

/** True when nothing exists at `p` (a refused run made no directory). */
export const absent = (p: string): boolean => !fs.existsSync(p);
