/**
 * Saving and loading `tf.LayersModel`s in the standard format (model.json + weight files) on
 * disk, with plain @tensorflow/tfjs: its `file://` handlers live in tfjs-node, which cannot
 * install everywhere, so gradcond brings its own small IOHandler.
 *
 * Loading is strict, because a model gradcond loads is one it trains or measures: tfjs itself
 * would initialise a model.json without a weights manifest at random, and decode weight files
 * with bytes left over or missing (or NaN weights) without complaint. Here each of those is one
 * UsageError line, as is a model with more than one input or output.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import { registerCReLU } from './crelu.js';
import { makeDirs } from '../trace/dirs.js';

const WEIGHTS_FILE = 'weights.bin';

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** Writes `dir/model.json` and `dir/weights.bin`. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  makeDirs(dir, 'model directory');
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      writeFileSync(join(dir, WEIGHTS_FILE), Buffer.from(weightData));
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
      };
      writeFileSync(join(dir, 'model.json'), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

/** The parts of a weights manifest that loading relies on (tfjs' WeightsManifestConfig). */
const ManifestSchema = z.array(
  z.looseObject({
    paths: z.array(z.string().min(1)),
    weights: z.array(
      z.looseObject({
        name: z.string(),
        shape: z.array(z.number().int().nonnegative()),
        dtype: z.string(),
        quantization: z.looseObject({ dtype: z.string() }).optional(),
      }),
    ),
  }),
);
type Manifest = z.output<typeof ManifestSchema>;
type WeightSpec = Manifest[number]['weights'][number];

/** Bytes per stored element, by dtype (quantised weights are stored in the quantisation's dtype). */
const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

function storedBytes(spec: WeightSpec, path: string): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const size = BYTES[dtype];
  if (size === undefined) throw new UsageError(`${path}: weight '${spec.name}' has dtype '${dtype}', which gradcond cannot load`);
  return size * spec.shape.reduce((a, b) => a * b, 1);
}

/** A manifest group's files, concatenated, with exactly the bytes its weight list describes. */
function readGroup(group: Manifest[number], dir: string, path: string): ArrayBuffer[] {
  const buffers = group.paths.map((p) => {
    const wf = join(dir, p);
    if (!existsSync(wf)) throw new UsageError(`weight file not found: ${wf}`);
    return toArrayBuffer(readFileSync(wf));
  });
  const have = buffers.reduce((n, b) => n + b.byteLength, 0);
  const want = group.weights.reduce((n, s) => n + storedBytes(s, path), 0);
  if (have !== want) {
    const diff = have > want ? `${have - want} trailing bytes` : `${want - have} bytes missing`;
    throw new UsageError(`${path}: weight file ${group.paths.join(' + ')} holds ${have} bytes, the manifest describes ${want} (${diff})`);
  }
  return buffers;
}

function readModelJson(path: string): Omit<tf.io.ModelJSON, 'weightsManifest'> & { weightsManifest: Manifest } {
  const file = resolve(path);
  if (!existsSync(file)) throw new UsageError(`model file not found: ${path}`);
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (!json || typeof json !== 'object' || !json.modelTopology) throw new UsageError(`${path}: not a tfjs Layers model.json (no modelTopology)`);
  if (json.weightsManifest === undefined) {
    throw new UsageError(`${path}: no weightsManifest, so the model's weights are missing (tfjs would initialise them at random)`);
  }
  const manifest = ManifestSchema.safeParse(json.weightsManifest);
  if (!manifest.success) throw new UsageError(`${path}: malformed weightsManifest (${manifest.error.issues[0]!.message} at ${manifest.error.issues[0]!.path.join('.')})`);
  return { ...json, weightsManifest: manifest.data };
}

/** Why gradcond cannot train `model`, or null. */
function untrainable(model: tf.LayersModel): string | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    const names = (ns: string[]) => ns.map((n) => `'${n}'`).join(', ');
    const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
    return `gradcond trains models with one input and one output; this one has ${count(model.inputs.length, 'input')} (${names(model.inputNames)}) and ${count(model.outputs.length, 'output')} (${names(model.outputNames)})`;
  }
  if (model.trainableWeights.length === 0) return 'the model has no trainable weights';
  for (const w of model.weights) {
    const values = w.read().dataSync() as Float32Array | Int32Array;
    let bad = 0;
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) bad++;
    if (bad > 0) return `weight '${w.originalName}' has ${bad} non-finite values (NaN or ±Infinity) of ${values.length}`;
  }
  return null;
}

const shapeText = (shape: readonly (number | null)[]) => `[${shape.join(', ')}]`;

/**
 * Sets every weight of `model` from the decoded weight data, after checking that the manifest
 * names exactly the model's weights, each with the model's shape.
 */
function setWeights(model: tf.LayersModel, specs: tf.io.WeightsManifestEntry[], data: ArrayBuffer, path: string): void {
  const decoded = tf.io.decodeWeights(data, specs);
  try {
    const byName = new Map(model.weights.map((w) => [w.originalName, w]));
    const missing = [...byName.keys()].filter((name) => !(name in decoded));
    if (missing.length > 0) {
      const names = missing.length > 5 ? [...missing.slice(0, 5), '…'] : missing;
      throw new UsageError(`${path}: the weights manifest lacks ${missing.length} of the model's ${byName.size} weights (${names.join(', ')})`);
    }
    for (const [name, t] of Object.entries(decoded)) {
      const w = byName.get(name);
      if (!w) throw new UsageError(`${path}: the weights manifest names '${name}', which the model does not have`);
      if (shapeText(w.shape) !== shapeText(t.shape)) {
        throw new UsageError(`${path}: weight '${name}' has shape ${shapeText(t.shape)} in the manifest but ${shapeText(w.shape)} in the model`);
      }
    }
    for (const [name, t] of Object.entries(decoded)) byName.get(name)!.write(t);
  } finally {
    tf.dispose(Object.values(decoded));
  }
}

/**
 * Loads `path` (a model.json; weight files are resolved beside it) for training or measuring:
 * refused, with one UsageError line, unless every weight is present, finite and exactly
 * described, and the model has one input and one output. The model is built from its topology
 * (its initialisers run once), then each weight is set from the files: so no refusal leaves a
 * half-loaded model's tensors behind.
 */
export async function loadModel(path: string): Promise<tf.LayersModel> {
  registerCReLU();
  const json = readModelJson(path);
  const dir = dirname(resolve(path));
  const data = tf.io.concatenateArrayBuffers(json.weightsManifest.flatMap((group) => readGroup(group, dir, path)));
  const specs = json.weightsManifest.flatMap((group) => group.weights) as tf.io.WeightsManifestEntry[];
  let model: tf.LayersModel;
  // A scope: a topology that fails half-built (an unknown layer) leaves its intermediate tensors
  // here, not behind; the model's weights are variables, which no scope disposes.
  const variablesBefore = new Set(Object.keys(tf.engine().registeredVariables));
  tf.engine().startScope();
  try {
    const { modelTopology, format, trainingConfig, userDefinedMetadata } = json;
    model = await tf.loadLayersModel({ load: async () => ({ modelTopology, format, trainingConfig, userDefinedMetadata }) });
  } catch (err) {
    // The layers built before the one that failed made variables: dispose them too.
    for (const [name, v] of Object.entries(tf.engine().registeredVariables)) if (!variablesBefore.has(name)) v.dispose();
    throw new UsageError(`${path}: cannot build the model (${(err as Error).message.split('\n')[0]})`);
  } finally {
    tf.engine().endScope();
  }
  try {
    setWeights(model, specs, data, path);
    const problem = untrainable(model);
    if (problem) throw new UsageError(`${path}: ${problem}`);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
