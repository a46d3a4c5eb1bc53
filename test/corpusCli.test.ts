/**
 * Corpus, command line: bad flags (each the twin of a library call in corpusOptions.test.ts,
 * with the same line), unknown commands, and run directories that cannot be used as asked —
 * a path under /proc or under a file (these once hung for good), a directory holding a run, a
 * damaged checkpoint. Each runs `gradcond` as a child process and asserts the exit code, the one
 * `gradcond: ` line, that every input is byte-identical afterwards, and that a refused run wrote
 * nothing (no run directory).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { useBackend } from '../src/backend/backend.js';
import { COMMANDS, commandModuleOf } from '../src/cli/main.js';
import { absent, type CliCase, cliSuite, withFlags } from './corpus/cliCase.js';
import { buildFixtures, type Fixtures } from './corpus/fixtures.js';
import { TINY } from './corpus/harness.js';
import { OPTION_CASES } from './corpus/optionCases.js';

let fx: Fixtures;
before(async () => {
  await useBackend('cpu');
  fx = await buildFixtures('cli', { models: true, data: true, runs: true });
});
after(() => fx.cleanup());

/** A tiny training run into a fresh directory under scratch, with `flags` over the defaults. */
function trainArgs(f: Fixtures, name: string, flags: readonly string[]): { args: string[]; dir: string } {
  const dir = f.out(name.replace(/\W+/g, '-'));
  const base = withFlags([...TINY, '--steps', '2'], flags);
  return { args: ['train', ...(flags.includes('--run-dir') ? base : [...base, '--run-dir', dir])], dir };
}

/** The command lines of the option cases marked runCli: the same line as the library gives. */
const optionCases: CliCase[] = OPTION_CASES.filter((c) => c.runCli).map((c) => {
  const [command, ...flags] = c.cli!;
  let dir = '';
  return {
    name: `${command} ${flags.join(' ')}`,
    args: (f) => {
      if (command === 'probe') return ['probe', '--model', f.model('dense4'), '--data', f.file('probe.json'), '--backend', 'cpu', ...flags];
      const t = trainArgs(f, c.name, flags);
      dir = t.dir;
      return t.args;
    },
    code: 2,
    line: c.line,
    check: () => assert.ok(dir === '' || absent(dir), `a refused run made ${dir}`),
  };
});

const SCRATCH_RUN = (f: Fixtures, name: string) => f.out(name);

const usageCases: CliCase[] = [
  { name: 'an unknown command', args: () => ['trian', '--steps', '2'], code: 2, line: "unknown command 'trian': choose one of train, compare, experiment, fitness, report, probe, policies, worker, bench (see --help)" },
  { name: 'no command', args: () => [], code: 2, line: 'name a command: see --help' },
  { name: 'an unknown flag', args: (f) => ['train', ...TINY, '--lrr', '0.1', '--run-dir', SCRATCH_RUN(f, 'lrr')], code: 2, line: 'Unknown argument: lrr' },
  { name: 'a bad GRADCOND_LOG_LEVEL', args: (f) => ['train', ...TINY, '--steps', '2', '--run-dir', SCRATCH_RUN(f, 'env')], env: { GRADCOND_LOG_LEVEL: 'loud' }, code: 2, line: "GRADCOND_LOG_LEVEL='loud' is not a log level: choose one of error, warn, info, debug" },
  { name: 'probe without --model', args: (f) => ['probe', '--data', f.file('probe.json')], code: 2, line: 'Missing required argument: model' },
  // Run directories that cannot hold files: an error at once, before any data loads.
  { name: '--run-dir under /proc', args: () => ['train', ...TINY, '--steps', '2', '--run-dir', '/proc/gradcond-corpus/run'], code: 2, line: '/proc/gradcond-corpus/run: cannot create the run directory: no such directory can be made there (ENOENT) at /proc/gradcond-corpus' },
  { name: '--run-dir directly in /proc', args: () => ['train', ...TINY, '--steps', '2', '--run-dir', '/proc/gradcond-corpus'], code: 2, line: '/proc/gradcond-corpus: cannot create the run directory: no such directory can be made there (ENOENT)' },
  { name: '--run-dir under a file', args: (f) => ['train', ...TINY, '--steps', '2', '--run-dir', path.join(f.run('a-file'), 'run')], code: 2, line: /\/runs\/a-file\/run: cannot create the run directory: .*\/runs\/a-file is a file, not a directory$/ },
  { name: '--run-dir is a file', args: (f) => ['train', ...TINY, '--steps', '2', '--run-dir', f.run('a-file')], code: 2, line: /\/runs\/a-file: cannot create the run directory: .*\/runs\/a-file is a file, not a directory$/ },
  {
    name: 'a run directory under /proc is refused before the data is read',
    args: () => ['train', '--backend', 'cpu', '--data', 'csv', '--data-file', '/nonexistent/data.csv', '--run-dir', '/proc/gradcond-corpus'],
    code: 2, line: /^\/proc\/gradcond-corpus: cannot create the run directory/,
  },
  // A directory that holds a run: refused, saying how to continue it or replace it.
  {
    name: 'a new run on a finished one', args: (f) => ['train', ...TINY, '--steps', '2', '--run-dir', f.run('finished')], code: 2,
    line: /\/runs\/finished already holds a run \(finished after step 2\): continue it with --resume, or replace it with --overwrite$/,
  },
  { name: '--resume with no checkpoint', args: (f) => ['train', ...TINY, '--steps', '4', '--resume', '--run-dir', f.run('no-checkpoint')], code: 2, line: /^nothing to resume: .*\/runs\/no-checkpoint has no checkpoint$/ },
  { name: '--resume in an empty directory', args: (f) => ['train', ...TINY, '--steps', '4', '--resume', '--run-dir', f.run('empty')], code: 2, line: /^nothing to resume: .*\/runs\/empty has no checkpoint$/ },
  { name: '--resume in no directory', args: (f) => ['train', ...TINY, '--steps', '4', '--resume', '--run-dir', SCRATCH_RUN(f, 'none')], code: 2, line: /^nothing to resume: .* has no checkpoint$/ },
  { name: '--resume with a state file cut short', args: (f) => ['train', ...TINY, '--steps', '4', '--resume', '--run-dir', f.run('corrupt-state')], code: 2, line: /\/corrupt-state\/checkpoint\/state\.json: corrupt checkpoint state, not valid JSON \(/ },
  { name: '--resume with a state of step −4', args: (f) => ['train', ...TINY, '--steps', '4', '--resume', '--run-dir', f.run('bad-state')], code: 2, line: /\/bad-state\/checkpoint\/state\.json: corrupt checkpoint state: field 'step' must be >= 0$/ },
  { name: '--resume with an empty optimizer.bin', args: (f) => ['train', ...TINY, '--steps', '4', '--resume', '--run-dir', f.run('short-optimizer')], code: 2, line: /^cannot resume from .*\/short-optimizer\/checkpoint: .*optimizer\.bin holds 0 bytes, the state says 4: the checkpoint is damaged$/ },
  { name: '--resume with model weights cut short', args: (f) => ['train', ...TINY, '--steps', '4', '--resume', '--run-dir', f.run('short-weights')], code: 2, line: /^cannot resume from .*\/short-weights\/checkpoint: .*weights\.bin holds 100 bytes, the manifest describes \d+ \(\d+ bytes missing\)$/ },
  { name: '--resume with another seed', args: (f) => ['train', ...TINY, '--steps', '4', '--resume', '--run-dir', f.run('other-seed')], code: 2, line: 'the checkpoint was written with seed 7, not 0' },
  { name: '--resume on other data', args: (f) => ['train', ...withFlags(TINY, ['--examples', '48']), '--steps', '4', '--resume', '--run-dir', f.run('finished')], code: 2, line: 'the checkpoint was written for 64 examples, not 48' },
  // compare: the same directory rule, and its own flags.
  { name: 'compare --out under /proc', args: () => ['compare', '--policies', 'constant', '--seeds', '1', '--steps', '2', '--out', '/proc/gradcond-corpus'], code: 2, line: '/proc/gradcond-corpus: cannot create the comparison directory: no such directory can be made there (ENOENT)' },
  { name: 'compare --seeds abc', args: (f) => ['compare', '--seeds', 'abc', '--out', SCRATCH_RUN(f, 'cmp')], code: 2, line: '--seeds must be a count or a comma-separated list of non-negative integers, got "abc"' },
  { name: 'compare --policy-opt for a policy not compared', args: (f) => ['compare', '--policies', 'constant', '--policy-opt', 'plateau.patience=3', '--out', SCRATCH_RUN(f, 'cmp')], code: 2, line: "--policy-opt names 'plateau', which is not in --policies" },
];

cliSuite('corpus: bad flags on the command line (the library’s line)', () => fx, optionCases);
cliSuite('corpus: commands and run directories', () => fx, usageCases);

test('every command the command line lists is its module’s command, with its description', async () => {
  for (const entry of COMMANDS) {
    const m = await commandModuleOf(entry.load);
    assert.deepEqual([m.command, m.describe], [entry.command, entry.describe]);
  }
  assert.ok(fs.existsSync(path.join(fx.dir, 'runs', 'finished', 'checkpoint', 'state.json')));
});
