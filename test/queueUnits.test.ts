/**
 * The queue's parts that need no Redis: URLs and their redaction, bundles (round trip, hostile
 * paths, damage, limits), job validation, a job's paths against the worker's data directory, and
 * checkpoint snapshots of a run directory being written.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, describe, test } from 'node:test';
import { UsageError } from '../src/errors.js';
import { BundleError, digestOf, indexOf, pack, readDir, replaceDir, unpack } from '../src/queue/bundle.js';
import { dataFileSet, modelFileSet } from '../src/queue/files.js';
import { jobIdOf, parseJob, progressOf } from '../src/queue/jobs.js';
import { insideDataDir } from '../src/queue/localize.js';
import { parseRedisUrl, PASSWORD_ENV, redactUrl, scrub } from '../src/queue/redisUrl.js';
import { readSnapshot, watchCheckpoints } from '../src/queue/snapshots.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcond-queue-units-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SPEC = {
  id: 'constant-s0',
  model: { zoo: 'mlp', options: { depth: 1, width: 8 } },
  data: { name: 'synthetic', examples: 64, inputShape: [4], classes: 2 },
  optimizer: 'sgd',
  learningRate: 0.1,
  batchSize: 16,
  policy: { name: 'constant' },
  seed: 0,
  budget: { kind: 'steps', value: 3 },
};

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected an error');
}

describe('Redis URLs', () => {
  test('the password is parsed, decoded and never shown', () => {
    const t = parseRedisUrl('rediss://alice:p%40ss%2Fw0rd@example.org:6380/2', {});
    assert.deepEqual(t.options, { host: 'example.org', port: 6380, db: 2, username: 'alice', password: 'p@ss/w0rd', maxRetriesPerRequest: null, tls: { servername: 'example.org' } });
    assert.equal(t.display, 'rediss://alice:***@example.org:6380/2');
    assert.ok(t.secrets.includes('p@ss/w0rd') && t.secrets.includes('p%40ss%2Fw0rd'));
    assert.equal(scrub('AUTH p@ss/w0rd failed (p%40ss%2Fw0rd)', t.secrets), 'AUTH *** failed (***)');
  });

  test('defaults: port 6379, database 0, no TLS, no password', () => {
    const t = parseRedisUrl('redis://127.0.0.1', {});
    assert.deepEqual(t.options, { host: '127.0.0.1', port: 6379, db: 0, maxRetriesPerRequest: null });
    assert.equal(t.display, 'redis://127.0.0.1');
    assert.deepEqual(t.secrets, []);
  });

  test(`the password may come from ${PASSWORD_ENV}, and the display says so without showing it`, () => {
    const t = parseRedisUrl('redis://h:1', { [PASSWORD_ENV]: 'from-env' });
    assert.equal(t.options.password, 'from-env');
    assert.ok(!t.display.includes('from-env') && t.display.includes(PASSWORD_ENV));
    assert.deepEqual(t.secrets, ['from-env']);
  });

  test('redaction works on URLs that do not parse, with @ and / in the password', () => {
    assert.equal(redactUrl('redis://:se@cr/et@host:1'), 'redis://:***@host:1');
    assert.equal(redactUrl('redis://user:x y@h'), 'redis://user:***@h');
    assert.equal(redactUrl('redis://host:6379/0'), 'redis://host:6379/0');
  });

  test('bad URLs are one-line UsageErrors that never show the password', () => {
    for (const [url, words] of [
      ['http://u:hunter2@h', 'redis:// or rediss://'],
      ['redis://u:hunter2@h/db', 'database number'],
      ['redis://u:hunter2@h?tls=1', 'query parameters'],
      ['redis://u:hunter2@h:99999', 'not a URL'],
      ['not a url hunter2', 'not a URL'],
    ] as const) {
      const err = thrown(() => parseRedisUrl(url, {}));
      assert.ok(err instanceof UsageError, url);
      assert.ok(err.message.includes(words), `${url}: ${err.message}`);
      assert.ok(!err.message.includes('hunter2') && !err.message.includes('\n'), err.message);
    }
  });
});

describe('bundles', () => {
  const files = [
    { path: 'trace.jsonl', data: Buffer.from('{"type":"step"}\n') },
    { path: 'checkpoint/model/weights.bin', data: Buffer.from(Float32Array.from([1.5, -2, 3e-8]).buffer) },
    { path: 'empty', data: Buffer.alloc(0) },
  ];

  test('round trip: the same paths and bytes, sorted; the digest ignores order', () => {
    const back = unpack(pack(files));
    assert.deepEqual(back.map((f) => f.path), ['checkpoint/model/weights.bin', 'empty', 'trace.jsonl']);
    for (const f of files) assert.ok(back.find((b) => b.path === f.path)!.data.equals(f.data), f.path);
    assert.equal(digestOf(indexOf(files)), digestOf(indexOf([...files].reverse())));
    assert.notEqual(digestOf(indexOf(files)), digestOf(indexOf([{ ...files[0]!, data: Buffer.from('x') }, ...files.slice(1)])));
    const e = indexOf(files)[0]!;
    assert.equal(e.sha256, createHash('sha256').update('{"type":"step"}\n').digest('hex'));
  });

  test('paths that leave the directory are refused, packing and unpacking', () => {
    for (const bad of ['../x', '/etc/passwd', 'a/../../x', '..', '']) {
      assert.ok(thrown(() => pack([{ path: bad, data: Buffer.from('x') }])) instanceof BundleError, bad);
    }
    // A hand-made bundle whose index names ../escape.
    const data = Buffer.from('evil');
    const index = Buffer.from(JSON.stringify([{ path: '../escape', size: 4, sha256: createHash('sha256').update(data).digest('hex') }]));
    const head = Buffer.alloc(8);
    head.write('GCB1');
    head.writeUInt32BE(index.length, 4);
    const err = thrown(() => unpack(zlib.gzipSync(Buffer.concat([head, index, data]))));
    assert.ok(err instanceof BundleError && err.message.includes('leaves its directory'), err.message);
  });

  test('damage is found: a changed byte, a cut, not a bundle', () => {
    const raw = zlib.gunzipSync(pack(files));
    const flipped = Buffer.from(raw);
    flipped[flipped.length - 1]! ^= 1;
    assert.match(thrown(() => unpack(zlib.gzipSync(flipped))).message, /does not match its SHA-256/);
    assert.match(thrown(() => unpack(zlib.gzipSync(raw.subarray(0, raw.length - 3)))).message, /cut short/);
    assert.match(thrown(() => unpack(Buffer.from('plain text'))).message, /damaged bundle/);
  });

  test('limits: too many bytes or files are refused with the size, never cut', () => {
    const limits = { packed: 1000, unpacked: 100, files: 2 };
    assert.match(thrown(() => pack([{ path: 'a', data: Buffer.alloc(101) }], limits)).message, /more than the 0\.0 MiB a bundle may hold uncompressed/);
    assert.match(thrown(() => pack(files, limits)).message, /3 files is more than the 2/);
    const random = randomBytes(2000); // incompressible
    assert.match(thrown(() => pack([{ path: 'r', data: random }], { ...limits, unpacked: 1e6 })).message, /compressed is more than/);
    assert.ok(thrown(() => unpack(pack([{ path: 'a', data: Buffer.alloc(5000) }]), limits)) instanceof BundleError);
  });

  test('readDir skips what it is told to, and replaceDir swaps a directory whole', () => {
    const dir = path.join(tmp, 'run');
    fs.mkdirSync(path.join(dir, 'checkpoint.tmp-1'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'checkpoint.tmp-1', 'x'), 'partial');
    fs.writeFileSync(path.join(dir, 'old'), 'old');
    assert.deepEqual(readDir(dir, (r) => r.startsWith('checkpoint.')).map((f) => f.path), ['old']);
    replaceDir(files, dir);
    assert.deepEqual(readDir(dir).map((f) => f.path), ['checkpoint/model/weights.bin', 'empty', 'trace.jsonl']);
  });
});

describe('jobs', () => {
  const job = { format: 1, spec: SPEC, resume: false, files: {} };

  test('a valid job parses, with the run spec defaults filled', () => {
    const j = parseJob(job);
    assert.equal(j.spec.id, 'constant-s0');
    assert.equal(j.spec.loss, 'categoricalCrossentropy');
    assert.equal(jobIdOf('0123456789abcdef', j.spec.id), '0123456789abcdef.constant-s0');
  });

  test("a bad spec is refused with the run spec's own reason", () => {
    const err = thrown(() => parseJob({ ...job, spec: { ...SPEC, learningRate: -1 } }));
    assert.ok(err instanceof UsageError);
    assert.match(err.message, /learningRate/);
    assert.match(thrown(() => parseJob({ ...job, spec: { ...SPEC, code: 'process.exit()' } })).message, /code/);
    assert.match(thrown(() => parseJob({ ...job, format: 2 })).message, /job data format/);
    assert.match(thrown(() => parseJob({ ...job, files: { data: { sha256: 'ab', main: 'd.csv', bytes: 1 } } })).message, /SHA-256/);
    const sha = 'a'.repeat(64);
    assert.match(thrown(() => parseJob({ ...job, files: { data: { sha256: sha, main: 'd.csv', bytes: 1 } } })).message, /reads no file/);
    assert.match(thrown(() => parseJob({ ...job, files: { data: { sha256: sha, main: '../d.csv', bytes: 1 } } })).message, /plain file name/);
  });

  test('progress from the queue is used only when it has the shape of a run\'s progress', () => {
    const p = { id: 'a', step: 3, epoch: 1, loss: null, learningRate: 0.1, batchSize: 8, fraction: 0.5 };
    assert.deepEqual(progressOf(p), p);
    assert.equal(progressOf(42), null);
    assert.equal(progressOf({ ...p, fraction: 'half' }), null);
  });
});

describe("paths against the worker's data directory", () => {
  const root = path.join(tmp, 'data');
  fs.mkdirSync(path.join(root, 'fashion'), { recursive: true });
  fs.writeFileSync(path.join(root, 'set.csv'), 'a,label\n1,0\n');
  fs.writeFileSync(path.join(tmp, 'secret.csv'), 'a,label\n1,0\n');
  fs.symlinkSync(path.join(tmp, 'secret.csv'), path.join(root, 'link.csv'));

  test('inside: relative or absolute, resolved', () => {
    assert.equal(insideDataDir('set.csv', 'data file', root), fs.realpathSync(path.join(root, 'set.csv')));
    assert.equal(insideDataDir(path.join(root, 'fashion'), 'dir', root), fs.realpathSync(path.join(root, 'fashion')));
  });

  test('outside, through .., or through a symbolic link, or missing: refused in one line', () => {
    for (const [p, why] of [
      ['../secret.csv', 'outside'],
      [path.join(tmp, 'secret.csv'), 'outside'],
      ['link.csv', 'outside'],
      ['/etc/passwd', 'outside'],
      ['nope.csv', 'does not exist'],
    ] as const) {
      const err = thrown(() => insideDataDir(p, 'data file', root));
      assert.ok(err instanceof UsageError && err.message.includes(why), `${p}: ${err.message}`);
    }
  });

  test('a model travels with the weight files its manifest names, and only those inside its directory', () => {
    const dir = path.join(tmp, 'model');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.alloc(8));
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['weights.bin'], weights: [] }] }));
    assert.deepEqual(modelFileSet(path.join(dir, 'model.json')).files.map((f) => f.path), ['model.json', 'weights.bin']);
    fs.writeFileSync(path.join(dir, 'evil.json'), JSON.stringify({ weightsManifest: [{ paths: ['../../secret.csv'], weights: [] }] }));
    assert.match(thrown(() => modelFileSet(path.join(dir, 'evil.json'))).message, /outside the model's directory/);
    const set = dataFileSet(path.join(tmp, 'secret.csv'));
    assert.equal(set.main, 'secret.csv');
    assert.match(thrown(() => dataFileSet(path.join(tmp, 'absent.csv'))).message, /cannot read the data file/);
  });
});

describe('checkpoint snapshots', () => {
  test('a snapshot holds a complete checkpoint and never the trainer\'s temporary directories', () => {
    const dir = path.join(tmp, 'snap');
    fs.mkdirSync(path.join(dir, 'checkpoint'), { recursive: true });
    assert.equal(readSnapshot(dir), null, 'no checkpoint, no snapshot');
    fs.writeFileSync(path.join(dir, 'checkpoint', 'state.json'), '{"step":5}');
    fs.mkdirSync(path.join(dir, 'checkpoint.tmp-9'));
    fs.writeFileSync(path.join(dir, 'checkpoint.tmp-9', 'state.json'), '{"step":6}');
    fs.writeFileSync(path.join(dir, 'trace.jsonl'), '{}\n');
    assert.deepEqual(readSnapshot(dir)!.map((f) => f.path), ['checkpoint/state.json', 'trace.jsonl']);
  });

  test('each new checkpoint is sent once, with the run directory', async () => {
    const dir = path.join(tmp, 'watch');
    fs.mkdirSync(path.join(dir, 'checkpoint'), { recursive: true });
    const sent: string[] = [];
    const errors: Error[] = [];
    const w = watchCheckpoints(dir, async (b) => void sent.push(unpack(b).find((f) => f.path === 'checkpoint/state.json')!.data.toString()), { intervalMs: 20, onError: (e) => errors.push(e) });
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
    for (const step of [10, 20]) {
      fs.writeFileSync(path.join(dir, 'checkpoint', `state.json.tmp`), `{"step":${step}}`);
      fs.renameSync(path.join(dir, 'checkpoint', 'state.json.tmp'), path.join(dir, 'checkpoint', 'state.json'));
      await wait(150);
    }
    await w.stop();
    assert.deepEqual(sent, ['{"step":10}', '{"step":20}']);
    assert.deepEqual(errors, []);
  });
});
