/**
 * Sweeps across machines, end to end, on a real Redis (redis-server started here, on 127.0.0.1 at
 * a free port, with its own data directory): a comparison through the queue equals the same
 * comparison run locally bit for bit (final weights, optimizer state, test numbers); a worker
 * killed mid-run loses no run; a partial run continues on a worker from its checkpoint; a bad job
 * is refused with its reason and not retried; the password never reaches an output, a file or a
 * Redis key; queued jobs survive a Redis restart (append-only file).
 *
 * Workers are `gradcond worker` processes. Runs are tiny (CSV or synthetic data, a small MLP, 30
 * steps, metrics every 5 steps), so that their numbers are deterministic.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { tf } from '../src/backend/tf.js';
import { useBackend } from '../src/backend/backend.js';
import { compare, type ComparisonFile } from '../src/compare/compare.js';
import { type CompareSpecInput, parseCompareSpec, planRuns } from '../src/compare/compareSpec.js';
import { executeRun } from '../src/compare/executeRun.js';
import { outcomeOf } from '../src/compare/outcome.js';
import type { Finished, Progress } from '../src/compare/pool.js';
import { buildModel } from '../src/models/zoo.js';
import { saveModel } from '../src/models/io.js';
import { unpack } from '../src/queue/bundle.js';
import { JOB_FORMAT, JOB_NAME, keys } from '../src/queue/jobs.js';
import { queueRunner } from '../src/queue/submit.js';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0;
const SKIP = HAVE_REDIS ? false : 'redis-server is not installed (Debian: apt-get install redis-server)';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-queue-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(ok: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what()}`);
    await sleep(50);
  }
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** A redis-server of our own; `args` override the defaults (no persistence). */
async function startRedis(dir: string, args: string[] = [], port?: number): Promise<RedisServer> {
  fs.mkdirSync(dir, { recursive: true });
  const p = port ?? (await freePort());
  const proc = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => void (out += d.toString()));
  await until(() => out.includes('Ready to accept connections'), 15_000, () => `redis-server did not start: ${out}`);
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** The CLI commands of this change, run the way gradcond's main runs them (one error line, an exit code). */
const CLI = `
const root = ${JSON.stringify(ROOT)};
const yargs = (await import('yargs')).default;
const { workerCommand } = await import(root + '/src/cli/commands/worker.ts');
const { compareCommand } = await import(root + '/src/cli/commands/compare.ts');
const { exitReport } = await import(root + '/src/cli/exit.ts');
try {
  await yargs(process.argv.slice(1)).command(workerCommand).command(compareCommand).strict()
    .fail((msg, err) => { throw err ?? new Error(msg); }).parseAsync();
} catch (err) {
  const r = exitReport(err);
  process.stderr.write('gradcond: ' + r.line + '\\n');
  process.exitCode = r.code;
}`;

interface Cli {
  proc: ChildProcess;
  output(): string;
  exit: Promise<number | string>;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Cli {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => void (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => void (out += d.toString()));
  const exit = new Promise<number | string>((r) => proc.once('exit', (code, signal) => r(signal ?? code ?? -1)));
  return { proc, output: () => out, exit };
}

function startWorkerCli(url: string, name: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Cli {
  const dataDir = path.join(tmp, `${name}-data`); // empty: files must come by hash
  fs.mkdirSync(dataDir, { recursive: true });
  const args = ['worker', '--queue', url, '--concurrency', '1', '--data-dir', dataDir, '--cache-dir', path.join(tmp, `${name}-cache`), '--stall-seconds', '2', ...extra];
  return cli(args, env);
}

async function stopCli(c: Cli): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
  await c.exit;
  clearTimeout(t);
}

/** A small classification CSV: 3 classes, 4 features, deterministic. */
function writeCsv(file: string): void {
  let a = 12345;
  const rand = () => ((a = (a * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const rows = ['f0,f1,f2,f3,label'];
  for (let i = 0; i < 300; i++) {
    const label = i % 3;
    rows.push([0, 1, 2, 3].map((j) => (rand() + (j === label ? 1.5 : 0)).toFixed(5)).join(',') + `,${label}`);
  }
  fs.writeFileSync(file, `${rows.join('\n')}\n`);
}

const csvFile = path.join(tmp, 'submitter', 'points.csv');
fs.mkdirSync(path.dirname(csvFile), { recursive: true });
writeCsv(csvFile);
const SPEC: CompareSpecInput = {
  policies: [{ name: 'constant' }, { name: 'step' }],
  seeds: [0],
  model: { zoo: 'mlp', options: { depth: 1, width: 16 } },
  data: { name: 'csv', file: csvFile },
  optimizer: 'sgd',
  learningRate: 0.1,
  batchSize: 32,
  budget: { kind: 'steps', value: 30 },
  metrics: { every: 5, groups: 'none' },
};
const spec = () => parseCompareSpec(SPEC);

const read = (dir: string, rel: string) => fs.readFileSync(path.join(dir, rel));

/** Two run directories end the same, bit for bit: weights, optimizer state, test numbers, outcome. */
function assertSameRun(id: string, got: string, want: string): void {
  for (const rel of ['checkpoint/model/weights.bin', 'checkpoint/optimizer.bin', 'test.json']) {
    assert.ok(read(got, rel).equals(read(want, rel)), `${id}: ${rel} differs`);
  }
  const [a, b] = [outcomeOf(id, got), outcomeOf(id, want)];
  assert.deepEqual([a.status, a.steps, a.finalLoss, a.testAccuracy, a.testLoss], [b.status, b.steps, b.finalLoss, b.testAccuracy, b.testLoss], id);
  assert.equal(a.steps, 30);
}

interface QueueRun {
  file: ComparisonFile;
  progress: Progress[];
  finished: Finished[];
}

async function queuedCompare(url: string, dir: string, onProgress: (p: Progress) => void = () => {}, opts: { resume?: boolean } = {}): Promise<QueueRun> {
  const progress: Progress[] = [];
  const finished: Finished[] = [];
  const file = await compare(spec(), dir, {
    jobs: 1,
    resume: opts.resume ?? false,
    runner: queueRunner({ url, compareDir: dir, pollMs: 300 }),
    onProgress: (p) => {
      progress.push(p);
      onProgress(p);
    },
    onFinished: (f) => void finished.push(f),
  });
  return { file, progress, finished };
}

describe('sweeps through a queue on Redis', { skip: SKIP }, () => {
  let redis: RedisServer;
  let localDir: string;
  let local: ComparisonFile;

  before(async () => {
    redis = await startRedis(path.join(tmp, 'redis-main'));
    localDir = path.join(tmp, 'local');
    local = await compare(spec(), localDir, { jobs: 2 });
  });
  after(async () => redis && (await redis.stop()));

  test('two workers give the comparison a local run gives, bit for bit; the CSV travels by hash', async () => {
    const workers = [startWorkerCli(redis.url, 'w1'), startWorkerCli(redis.url, 'w2')];
    try {
      const dir = path.join(tmp, 'queued');
      const r = await queuedCompare(redis.url, dir);
      assert.deepEqual(r.finished.map((f) => f.error), [null, null]);
      for (const run of planRuns(spec())) {
        assertSameRun(run.spec.id, path.join(dir, 'runs', run.spec.id), path.join(localDir, 'runs', run.spec.id));
        assert.ok(r.progress.some((p) => p.id === run.spec.id), `progress of ${run.spec.id} reached the submitter`);
      }
      assert.deepEqual(r.file.runs.map((x) => [x.id, x.status]), local.runs.map((x) => [x.id, x.status]));
      assert.deepEqual(r.file.display!.columns, local.display!.columns);
      // The CSV reached each worker that ran a run through its cache, byte for byte.
      const cached = ['w1', 'w2'].flatMap((w) => {
        const d = path.join(tmp, `${w}-cache`, 'files');
        return fs.existsSync(d) ? fs.readdirSync(d).map((h) => path.join(d, h, 'points.csv')) : [];
      });
      assert.ok(cached.length >= 1);
      for (const c of cached) assert.ok(fs.readFileSync(c).equals(fs.readFileSync(csvFile)));
      // Collected results leave nothing behind in Redis but the shared file set.
      const client = new Redis(redis.port, '127.0.0.1');
      assert.deepEqual(await client.keys('gradcond:gradcond:*'), []);
      assert.equal((await client.keys('gradcond:file:*')).length, 1);
      client.disconnect();
    } finally {
      await Promise.all(workers.map(stopCli));
    }
  });

  test('a worker killed mid-run (SIGKILL) loses no run: another takes it over', async () => {
    const a = startWorkerCli(redis.url, 'killed');
    let b = null as Cli | null;
    let killedAt = null as Progress | null;
    try {
      const dir = path.join(tmp, 'killed');
      const r = await queuedCompare(redis.url, dir, (p) => {
        if (killedAt) return;
        killedAt = p;
        a.proc.kill('SIGKILL');
        b = startWorkerCli(redis.url, 'rescuer');
      });
      assert.equal(await a.exit, 'SIGKILL');
      assert.ok(killedAt !== null && killedAt.fraction < 1, 'killed mid-run');
      assert.deepEqual(r.finished.map((f) => f.error), [null, null]);
      for (const run of planRuns(spec())) assertSameRun(run.spec.id, path.join(dir, 'runs', run.spec.id), path.join(localDir, 'runs', run.spec.id));
    } finally {
      await stopCli(a);
      if (b) await stopCli(b);
    }
  });

  test('a partial run sent with --resume continues on a worker from its checkpoint, ending as if uninterrupted', async () => {
    await useBackend('wasm');
    const dir = path.join(tmp, 'resumed');
    const [first] = planRuns(spec());
    const runDir = path.join(dir, 'runs', first!.spec.id);
    const before = tf.memory().numTensors;
    const stop = new AbortController();
    await executeRun(first!.spec, runDir, { signal: stop.signal, onProgress: (p) => p.step === 11 && stop.abort() });
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    const state = JSON.parse(read(runDir, 'checkpoint/state.json').toString()) as { step: number };
    assert.ok(state.step > 0 && state.step < 30, `stopped mid-run at step ${state.step}`);
    // The comparison directory as a local comparison interrupted there would have left it.
    fs.writeFileSync(path.join(dir, 'compare.json'), JSON.stringify({ format: 1, spec: spec(), runs: [], table: null, display: null, startedAt: new Date().toISOString(), finishedAt: null }));
    const w = startWorkerCli(redis.url, 'resumer');
    try {
      const r = await queuedCompare(redis.url, dir, () => {}, { resume: true });
      assert.deepEqual(r.finished.map((f) => f.error), [null, null]);
      const starts = r.progress.filter((p) => p.id === first!.spec.id).map((p) => p.step);
      assert.ok(Math.min(...starts) >= state.step, `the resumed run started at step ${Math.min(...starts)}, its checkpoint is at ${state.step}`);
      for (const run of planRuns(spec())) assertSameRun(run.spec.id, path.join(dir, 'runs', run.spec.id), path.join(localDir, 'runs', run.spec.id));
    } finally {
      await stopCli(w);
    }
  });

  test('a bad job is refused with its reason, once, not retried; so is a path outside the data directory', async () => {
    const w = startWorkerCli(redis.url, 'refuser');
    const queue = new Queue('gradcond', { connection: { host: '127.0.0.1', port: redis.port } });
    const client = new Redis(redis.port, '127.0.0.1');
    try {
      const good = planRuns(spec())[0]!.spec;
      const cases: { id: string; spec: unknown; files?: object; reason: RegExp }[] = [
        { id: 'bad-lr', spec: { ...good, id: 'bad-lr', learningRate: -1 }, reason: /^refused: run spec: learningRate/ },
        { id: 'bad-code', spec: { ...good, id: 'bad-code', code: 'require("child_process")' }, reason: /refused: .*code/ },
        { id: 'outside', spec: { ...good, id: 'outside', data: { ...good.data, file: '/etc/passwd' } }, reason: /refused: data file \/etc\/passwd lies outside this worker's data directory/ },
        { id: 'model-outside', spec: { ...good, id: 'model-outside', data: { name: 'synthetic', examples: 64, inputShape: [4], classes: 3 }, model: { path: '/etc/hostname' } }, reason: /refused: model file \/etc\/hostname lies outside this worker's data directory/ },
        { id: 'no-file', spec: good, files: { data: { sha256: 'f'.repeat(64), main: 'x.csv', bytes: 1 } }, reason: /refused: file set ffffffffffff… is not in Redis/ },
      ];
      for (const c of cases) {
        await queue.add(JOB_NAME, { format: JOB_FORMAT, spec: c.spec, resume: false, files: c.files ?? {} }, { jobId: `t.${c.id}`, attempts: 3, backoff: { type: 'fixed', delay: 100 } });
      }
      for (const c of cases) {
        let state = '';
        await until(async () => (state = await queue.getJobState(`t.${c.id}`)) === 'failed', 60_000, () => `${c.id} is ${state}`);
        const job = (await queue.getJob(`t.${c.id}`))!;
        assert.match(job.failedReason, c.reason, c.id);
        assert.equal(job.attemptsMade, 1, `${c.id}: not retried`);
        const files = unpack((await client.getBuffer(keys.result('gradcond', `t.${c.id}`)))!);
        assert.deepEqual(files.map((f) => f.path), ['failure.json']);
        assert.equal(JSON.parse(files[0]!.data.toString()).message, job.failedReason);
      }
    } finally {
      await queue.close();
      client.disconnect();
      await stopCli(w);
    }
  });
  test('a saved model travels by hash: model.json and its weights reach the worker byte for byte', async () => {
    const modelDir = path.join(tmp, 'submitter', 'model');
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const model = buildModel('mlp', { inputShape: [4], classes: 3, depth: 1, width: 8, seed: 3 });
    await saveModel(model, modelDir);
    model.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    const w = startWorkerCli(redis.url, 'model');
    try {
      const task = { ...planRuns(spec())[0]!.spec, id: 'saved', model: { path: path.join(modelDir, 'model.json') } };
      const dir = path.join(tmp, 'saved-model');
      const finished: Finished[] = [];
      await queueRunner({ url: redis.url, compareDir: dir, pollMs: 300 })([{ spec: task, dir: path.join(dir, 'runs', 'saved'), resume: false }], () => {}, (f) => void finished.push(f));
      assert.deepEqual(finished, [{ id: 'saved', error: null }]);
      const status = outcomeOf('saved', path.join(dir, 'runs', 'saved')).status;
      assert.ok(status === 'done' || status === 'dead', status); // it trained to its end
      const cache = path.join(tmp, 'model-cache', 'files');
      const sets = fs.readdirSync(cache).map((h) => path.join(cache, h)).filter((d) => fs.existsSync(path.join(d, 'model.json')));
      assert.equal(sets.length, 1);
      for (const f of fs.readdirSync(modelDir)) assert.ok(read(sets[0]!, f).equals(read(modelDir, f)), f);
    } finally {
      await stopCli(w);
    }
  });

  test('an interrupted submitter re-attaches with --resume: finished results wait in Redis, nothing runs twice', async () => {
    const out = path.join(tmp, 'reattach');
    const args = ['compare', '--queue', redis.url, '--out', out, '--policies', 'constant,step', '--seeds', '1', '--data', 'synthetic', '--examples', '128', '--depth', '1', '--width', '8', '--steps', '10', '--every', '5', '--groups', 'none', '--json'];
    const first = cli(args);
    const queue = new Queue('gradcond', { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      const ids = () => {
        const { token } = JSON.parse(fs.readFileSync(path.join(out, 'queue.json'), 'utf8')) as { token: string };
        return ['constant-s0', 'step-s0'].map((r) => `${token}.${r}`);
      };
      const states = async () => Promise.all(ids().map((id) => queue.getJobState(id)));
      await until(async () => fs.existsSync(path.join(out, 'queue.json')) && (await states()).every((st) => st === 'waiting'), 60_000, () => first.output());
      first.proc.kill('SIGKILL');
      await first.exit;
      const w = startWorkerCli(redis.url, 'reattach');
      try {
        await until(async () => (await states()).every((st) => st === 'completed'), 90_000, () => w.output());
        const second = cli([...args, '--resume']);
        assert.equal(await second.exit, 0, second.output());
        const file = JSON.parse(second.output().split('\n').find((l) => l.startsWith('{"format"'))!) as ComparisonFile;
        assert.deepEqual(file.runs.map((r) => [r.id, r.status, r.error]), [['constant-s0', 'done', null], ['step-s0', 'done', null]]);
        assert.equal(w.output().match(/run started/g)?.length, 2, 'each run ran once');
        assert.deepEqual(await states(), ['unknown', 'unknown'], 'collected jobs are removed');
      } finally {
        await stopCli(w);
      }
    } finally {
      await queue.close();
    }
  });
});


/** Every string in Redis, whatever its type, as one text. */
async function everythingIn(client: Redis): Promise<string> {
  const parts: string[] = [];
  for (const key of await client.keys('*')) {
    parts.push(key);
    const type = await client.type(key);
    if (type === 'string') parts.push((await client.getBuffer(key))!.toString('latin1'));
    else if (type === 'hash') parts.push(JSON.stringify(await client.hgetall(key)));
    else if (type === 'list') parts.push(JSON.stringify(await client.lrange(key, 0, -1)));
    else if (type === 'set') parts.push(JSON.stringify(await client.smembers(key)));
    else if (type === 'zset') parts.push(JSON.stringify(await client.zrange(key, 0, -1)));
    else if (type === 'stream') parts.push(JSON.stringify(await client.xrange(key, '-', '+')));
  }
  return parts.join('\n');
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('the password stays secret', { skip: SKIP }, () => {
  test('it reaches no output, log, file or Redis key; a wrong one fails in one line without showing it', async () => {
    const password = `pw-${process.pid}-s3cr3t`;
    const server = await startRedis(path.join(tmp, 'redis-auth'), ['--requirepass', password]);
    const url = `redis://:${encodeURIComponent(password)}@127.0.0.1:${server.port}`;
    const out = path.join(tmp, 'secret-compare');
    const worker = startWorkerCli(url, 'auth', ['--log-level', 'debug']);
    const envWorker = startWorkerCli(`redis://127.0.0.1:${server.port}`, 'auth-env', [], { GRADCOND_REDIS_PASSWORD: password });
    const wrong = startWorkerCli(`redis://:wrong-${password}@127.0.0.1:${server.port}`, 'auth-wrong');
    try {
      const sub = cli(['compare', '--queue', url, '--out', out, '--policies', 'constant,step', '--seeds', '1', '--data', 'synthetic', '--examples', '128', '--depth', '1', '--width', '8', '--steps', '10', '--every', '5', '--groups', 'none', '--json']);
      assert.equal(await sub.exit, 0, sub.output());
      const file = JSON.parse(sub.output().split('\n').find((l) => l.startsWith('{"format"'))!) as ComparisonFile;
      assert.deepEqual(file.runs.map((r) => r.error), [null, null]);
      assert.equal(await wrong.exit, 2);
      assert.match(wrong.output(), /^gradcond: cannot (reach|use) Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+.*WRONGPASS/m);
      await Promise.all([stopCli(worker), stopCli(envWorker)]);
      const client = new Redis({ port: server.port, host: '127.0.0.1', password });
      const texts = [
        ['submitter output', sub.output()],
        ['worker output', worker.output()],
        ['worker (env) output', envWorker.output()],
        ['wrong worker output', wrong.output()],
        ['Redis keys', await everythingIn(client)],
        ...[out, path.join(tmp, 'auth-cache'), path.join(tmp, 'auth-env-cache')].flatMap(filesUnder).map((f) => [f, fs.readFileSync(f).toString('latin1')]),
      ];
      client.disconnect();
      assert.ok(texts.length > 10, 'outputs and files were written');
      assert.match(worker.output(), /redis:\/\/:\*\*\*@127\.0\.0\.1/, 'the worker says where it works, redacted');
      for (const [where, text] of texts) {
        assert.ok(!text!.includes(password) && !text!.includes(encodeURIComponent(password)), `the password appears in ${where}`);
      }
    } finally {
      await Promise.all([stopCli(worker), stopCli(envWorker), stopCli(wrong)]);
      await server.stop();
    }
  });
});

describe('Redis restarts', { skip: SKIP }, () => {
  test('queued jobs survive a restart (append-only file); the submitter and a worker carry on', async () => {
    const dataDir = path.join(tmp, 'redis-aof');
    const args = ['--appendonly', 'yes', '--appendfsync', 'always'];
    let server = await startRedis(dataDir, args);
    const port = server.port;
    const dir = path.join(tmp, 'restart');
    const submitted = queuedCompare(server.url, dir);
    const queue = new Queue('gradcond', { connection: { host: '127.0.0.1', port } });
    let count = 0;
    await until(async () => (count = await queue.count()) === 2, 60_000, () => `${count} jobs queued`);
    await queue.close();
    await server.stop();
    server = await startRedis(dataDir, args, port);
    const w = startWorkerCli(server.url, 'after-restart');
    try {
      const r = await submitted;
      assert.deepEqual(r.finished.map((f) => f.error), [null, null]);
      for (const run of planRuns(spec())) assert.equal(outcomeOf(run.spec.id, path.join(dir, 'runs', run.spec.id)).steps, 30);
    } finally {
      await stopCli(w);
      await server.stop();
    }
  });
});

const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;

/** A CA and a certificate for 127.0.0.1 that it signed, made with openssl. */
function makeCertificates(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const run = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=gradcond test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'san.ext');
}

describe('TLS (rediss://)', { skip: SKIP || (HAVE_OPENSSL ? false : 'openssl is not installed') }, () => {
  test("a run goes through a TLS-only Redis; a certificate the worker does not trust is refused", async () => {
    const certs = path.join(tmp, 'certs');
    makeCertificates(certs);
    const port = await freePort();
    const c = (f: string) => path.join(certs, f);
    const server = await startRedis(path.join(tmp, 'redis-tls'), ['--port', '0', '--tls-port', String(port), '--tls-cert-file', c('server.crt'), '--tls-key-file', c('server.key'), '--tls-ca-cert-file', c('ca.crt'), '--tls-auth-clients', 'no'], port);
    const url = `rediss://127.0.0.1:${port}`;
    const trust = { NODE_EXTRA_CA_CERTS: c('ca.crt') };
    const untrusting = startWorkerCli(url, 'tls-untrusting');
    const w = startWorkerCli(url, 'tls', [], trust);
    try {
      assert.equal(await untrusting.exit, 2);
      assert.match(untrusting.output(), /^gradcond: cannot use Redis at rediss:\/\/127\.0\.0\.1:\d+: .*certificate/m);
      const out = path.join(tmp, 'tls-compare');
      const sub = cli(['compare', '--queue', url, '--out', out, '--policies', 'constant', '--seeds', '1', '--data', 'synthetic', '--examples', '128', '--depth', '1', '--width', '8', '--steps', '10', '--every', '5', '--groups', 'none', '--json'], trust);
      assert.equal(await sub.exit, 0, sub.output());
      const file = JSON.parse(sub.output().split('\n').find((l) => l.startsWith('{"format"'))!) as ComparisonFile;
      assert.deepEqual(file.runs.map((r) => [r.id, r.error]), [['constant-s0', null]]);
      assert.equal(outcomeOf('constant-s0', path.join(out, 'runs', 'constant-s0')).steps, 10);
    } finally {
      await Promise.all([stopCli(w), stopCli(untrusting)]);
      await server.stop();
    }
  });
});
