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
 * complete; `readCheckpoint` takes whichever is there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../backend/tf.js';
import { loadModel, saveModel } from '../models/io.js';
import type { Knobs } from '../policy.js';
import type { JsonValue } from '../trace/format.js';

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

/** Writes `<runDir>/checkpoint/` atomically (see the module comment). */
export async function writeCheckpoint(
  runDir: string,
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  state: Omit<CheckpointState, 'format' | 'optimizer' | 'savedAt'>,
): Promise<void> {
  const final = path.join(runDir, CHECKPOINT_DIR);
  const old = path.join(runDir, `${CHECKPOINT_DIR}.old`);
  const tmp = path.join(runDir, `${CHECKPOINT_DIR}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  await saveModel(model, path.join(tmp, 'model'));

  const weights: NamedTensor[] = await optimizer.getWeights();
  const specs: WeightSpec[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  try {
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

/** The checkpoint of a run directory, or null when it has none. */
export function readCheckpoint(runDir: string): Checkpoint | null {
  for (const name of [CHECKPOINT_DIR, `${CHECKPOINT_DIR}.old`]) {
    const dir = path.join(runDir, name);
    const file = path.join(dir, STATE_FILE);
    if (!fs.existsSync(file)) continue;
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as CheckpointState;
    if (state.format !== 1) throw new Error(`${file}: unknown checkpoint format ${String(state.format)}`);
    return { dir, state };
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
  const buf = fs.readFileSync(path.join(ckpt.dir, OPTIMIZER_FILE));
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
