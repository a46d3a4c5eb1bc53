/**
 * Saving and loading `tf.LayersModel`s in the standard format (model.json + weights.bin) on
 * disk, with plain @tensorflow/tfjs: its `file://` handlers live in tfjs-node, which cannot
 * install everywhere, so gradcond brings its own small IOHandler.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';

const WEIGHTS_FILE = 'weights.bin';

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** Writes `dir/model.json` and `dir/weights.bin`. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
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

/** Loads `path` (a model.json; weight files are resolved beside it). */
export async function loadModel(path: string): Promise<tf.LayersModel> {
  const file = resolve(path);
  if (!existsSync(file)) throw new UsageError(`model file not found: ${path}`);
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (!json || typeof json !== 'object' || !json.modelTopology) throw new UsageError(`${path}: not a tfjs Layers model.json (no modelTopology)`);
  const handler: tf.io.IOHandler = {
    load: async () => {
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of json.weightsManifest ?? []) {
        for (const p of group.paths) {
          const wf = join(dirname(file), p);
          if (!existsSync(wf)) throw new UsageError(`weight file not found: ${wf}`);
          buffers.push(toArrayBuffer(readFileSync(wf)));
        }
        specs.push(...group.weights);
      }
      return tf.io.getModelArtifactsForJSON(json, async () => [specs, tf.io.concatenateArrayBuffers(buffers)]);
    },
  };
  try {
    return await tf.loadLayersModel(handler);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${path}: cannot load the model (${(err as Error).message.split('\n')[0]})`);
  }
}
