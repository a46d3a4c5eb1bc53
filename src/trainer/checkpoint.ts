/**
 * Checkpoints of a training run: `<runDir>/checkpoint/` holds
 *
 *     model/model.json, model/weights.bin   the model (standard tfjs format, saveModel)
 *     optimizer.bin                        the inner optimizer's weights, concatenated
 *     state.json                           CheckpointState: loop position, knobs, policy state,
 *                                          data-order RNG, optimizer weight specs
 *
 * Written atomically: everything goes to `checkpoint.tmp-<pid>/`, then the old checkpoint is
 * renamed aside, the new one renamed in, and the old one removed. A process killed at any
 * moment leaves either `checkpoint/` or (between the two renames) `checkpoint.old/`, both
 * complete; `readCheckpoint` takes whichever is there. A checkpoint is never written with a
 * non-finite weight (model or optimizer): the write is refused before anything touches the disk,
 * so the last finite checkpoint stays.
 *
 * `epoch` in the state is the 0-based index of the epoch in progress (the first epoch, shown as
 * epoch 1 everywhere else, is 0), as it has been since the first format: old checkpoints resume.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import { loadModel, saveModel } from '../models/io.js';
import type { Knobs } from '../policy.js';
import { schemaProblem } from '../stream/types.js';
import { makeDirs } from '../trace/dirs.js';
import type { JsonValue } from '../trace/format.js';
import type { HealthState } from './health.js';

export const CHECKPOINT_DIR = 'checkpoint';
const STATE_FILE = 'state.json';
const OPTIMIZER_FILE = 'optimizer.bin';

export interface WeightSpec {
  name: string;
  dtype: 'float32' | 'int32';
  shape: number[];
  /** Byte offset in optimizer.bin. */
  offset: number;
}

/** Where the loop stands; everything needed to continue the same run bit for bit. */
export interface LoopState {
  /** Optimizer steps done (the next step's global index). */
  step: number;
  /** Current epoch, 0-based. */
  epoch: number;
  /** Index, in this epoch's permutation, of the next example. */
  position: number;
  knobs: Knobs;
  /** The policy's state (JSON). */
  policyState: JsonValue;
  /** Running training-loss sum (batch-size weighted) and examples of the current epoch. */
  lossSum: number;
  examples: number;
  /** Correctly classified examples of the current epoch (absent in older checkpoints). */
  correct?: number;
  /** The health rules' memory (absent in older checkpoints: they start afresh). */
  health?: HealthState;
}

export interface CheckpointState extends LoopState {
  format: 1;
  /** The data order: epoch e uses permutation(size, mulberry32(epochSeed(seed, e))). */
  rng: { kind: 'mulberry32-per-epoch'; seed: number };
  dataSize: number;
  policy: string;
  optimizer: { className: string; weights: WeightSpec[] };
  savedAt: string;
}

export interface Checkpoint {
  dir: string;
  state: CheckpointState;
}

type NamedTensor = { name: string; tensor: tf.Tensor };

const count = z.int({ error: 'must be an integer' }).min(0, 'must be >= 0');
const finite = z.number({ error: 'must be a finite number' });
const CheckpointStateSchema = z.looseObject({
  format: z.literal(1),
  step: count,
  epoch: count,
  position: count,
  knobs: z.looseObject({ learningRate: finite.positive('must be > 0'), batchSize: count.positive('must be > 0') }),
  policyState: z.json(),
  lossSum: finite,
  examples: count,
  correct: count.optional(),
  health: z.looseObject({ startLoss: finite.nullable(), losses: z.array(finite) }).optional(),
  rng: z.looseObject({ kind: z.literal('mulberry32-per-epoch'), seed: z.int() }),
  dataSize: count,
  policy: z.string(),
  optimizer: z.looseObject({
    className: z.string(),
    weights: z.array(z.looseObject({ name: z.string(), dtype: z.enum(['float32', 'int32']), shape: z.array(count), offset: count })),
  }),
  savedAt: z.string(),
});

/** The first weight holding a non-finite value, by name, or null when all are finite. */
function nonFinite(named: readonly NamedTensor[]): string | null {
  for (const { name, tensor } of named) {
    if (tensor.dtype !== 'float32') continue;
    const data = tensor.dataSync() as Float32Array;
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return name;
  }
  return null;
}

/** Removes every checkpoint of a run directory (a run being replaced). */
export function removeCheckpoints(runDir: string): void {
  if (!fs.existsSync(runDir)) return;
  for (const f of fs.readdirSync(runDir)) {
    if (f === CHECKPOINT_DIR || f.startsWith(`${CHECKPOINT_DIR}.`)) fs.rmSync(path.join(runDir, f), { recursive: true, force: true });
  }
}

/** True when `runDir` has a checkpoint (complete or not). */
export function hasCheckpoint(runDir: string): boolean {
  return fs.existsSync(runDir) && fs.statSync(runDir).isDirectory() && fs.readdirSync(runDir).some((f) => f === CHECKPOINT_DIR || f === `${CHECKPOINT_DIR}.old`);
}

/** Writes `<runDir>/checkpoint/` atomically (see the module comment). */
export async function writeCheckpoint(
  runDir: string,
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  state: Omit<CheckpointState, 'format' | 'optimizer' | 'savedAt'>,
): Promise<void> {
  const badWeight = nonFinite(model.weights.map((w) => ({ name: w.name, tensor: w.read() })));
  if (badWeight !== null) throw new Error(`refusing to write a checkpoint: the model weight '${badWeight}' holds a non-finite value`);
  const final = path.join(runDir, CHECKPOINT_DIR);
  const old = path.join(runDir, `${CHECKPOINT_DIR}.old`);
  const tmp = path.join(runDir, `${CHECKPOINT_DIR}.tmp-${process.pid}`);
  const weights: NamedTensor[] = await optimizer.getWeights();
  const specs: WeightSpec[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  try {
    const badState = nonFinite(weights);
    if (badState !== null) throw new Error(`refusing to write a checkpoint: the optimizer's '${badState}' holds a non-finite value`);
    fs.rmSync(tmp, { recursive: true, force: true });
    makeDirs(tmp, 'checkpoint directory');
    await saveModel(model, path.join(tmp, 'model'));
    for (const { name, tensor } of weights) {
      const dtype = tensor.dtype === 'int32' ? 'int32' : 'float32';
      const data = dtype === 'int32' ? Int32Array.from(tensor.dataSync()) : Float32Array.from(tensor.dataSync());
      const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      specs.push({ name, dtype, shape: tensor.shape, offset });
      chunks.push(buf);
      offset += buf.length;
    }
  } finally {
    // Optimizers return fresh tensors (the iteration count) and their own variables: free
    // only the former.
    for (const { tensor } of weights) if (!(tensor instanceof tf.Variable)) tensor.dispose();
  }
  fs.writeFileSync(path.join(tmp, OPTIMIZER_FILE), Buffer.concat(chunks));
  const full: CheckpointState = {
    format: 1,
    ...state,
    optimizer: { className: optimizer.getClassName(), weights: specs },
    savedAt: new Date().toISOString(),
  };
  const stateFile = path.join(tmp, STATE_FILE);
  const fd = fs.openSync(stateFile, 'w');
  try {
    fs.writeSync(fd, JSON.stringify(full, null, 2) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }

  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(final)) fs.renameSync(final, old);
  fs.renameSync(tmp, final);
  fs.rmSync(old, { recursive: true, force: true });
}

/** Reads and checks a state.json; a UsageError naming the file when it is not a valid state. */
function readState(file: string): CheckpointState {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: corrupt checkpoint state, not valid JSON (${(err as Error).message})`);
  }
  const problem = schemaProblem(CheckpointStateSchema, value);
  if (problem !== null) throw new UsageError(`${file}: corrupt checkpoint state: ${problem}`);
  return value as CheckpointState;
}

/**
 * The checkpoint of a run directory, or null when it has none. A state file that cannot be
 * read or is not a checkpoint state is a UsageError naming it.
 */
export function readCheckpoint(runDir: string): Checkpoint | null {
  for (const name of [CHECKPOINT_DIR, `${CHECKPOINT_DIR}.old`]) {
    const dir = path.join(runDir, name);
    const file = path.join(dir, STATE_FILE);
    if (!fs.existsSync(file)) continue;
    return { dir, state: readState(file) };
  }
  return null;
}

/** Loads the checkpoint's model weights into `model` (same architecture). */
export async function restoreModel(ckpt: Checkpoint, model: tf.LayersModel): Promise<void> {
  const saved = await loadModel(path.join(ckpt.dir, 'model', 'model.json'));
  try {
    const values = saved.getWeights();
    const target = model.getWeights();
    const mismatch =
      values.length !== target.length ||
      values.some((v, i) => v.shape.length !== target[i].shape.length || v.shape.some((d, j) => d !== target[i].shape[j]));
    if (mismatch) {
      throw new Error(
        `the checkpoint's model (${values.map((v) => `[${v.shape}]`).join(' ')}) does not match this model (${target.map((v) => `[${v.shape}]`).join(' ')})`,
      );
    }
    model.setWeights(values);
  } finally {
    saved.dispose();
  }
}

/** Loads the checkpoint's optimizer weights into a fresh optimizer of the same class. */
export async function restoreOptimizer(ckpt: Checkpoint, optimizer: tf.Optimizer): Promise<void> {
  const { className, weights: specs } = ckpt.state.optimizer;
  if (className !== optimizer.getClassName()) {
    throw new Error(`the checkpoint was written by a ${className} optimizer, not ${optimizer.getClassName()}`);
  }
  const file = path.join(ckpt.dir, OPTIMIZER_FILE);
  const buf = fs.readFileSync(file);
  const need = specs.reduce((end, s) => Math.max(end, s.offset + 4 * s.shape.reduce((a, b) => a * b, 1)), 0);
  if (buf.length < need) throw new Error(`${file} holds ${buf.length} bytes, the state says ${need}: the checkpoint is damaged`);
  const weights: NamedTensor[] = specs.map((s) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const bytes = buf.subarray(s.offset, s.offset + 4 * size);
    const copy = new Uint8Array(bytes); // aligned copy
    const data = s.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
    return { name: s.name, tensor: tf.tensor(data, s.shape, s.dtype) };
  });
  try {
    await optimizer.setWeights(weights);
  } finally {
    // setWeights copies into the optimizer's own variables.
    tf.dispose(weights.map((w) => w.tensor));
  }
}
