/** What a training run records about itself when it starts: the manifest. */
import * as fs from 'node:fs';
import { tf } from '../backend/tf.js';
import type { Dataset } from '../data/dataset.js';
import { TRACE_FORMAT, type JsonValue, type LayerSummary, type RunManifest } from '../trace/format.js';
import type { TrainOptions } from './options.js';

let cachedVersion: string | undefined;
/** gradcond's version, from its package.json (found from src/ or dist/src/). */
export function gradcondVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'gradcond' && pkg.version) return (cachedVersion = pkg.version);
    } catch {
      // try the next
    }
  }
  return (cachedVersion = 'unknown');
}

/** One entry per layer: name, class, parameter count, output shape. */
export function modelSummary(model: tf.LayersModel): LayerSummary[] {
  return model.layers.map((l) => {
    let outputShape: JsonValue | undefined;
    try {
      outputShape = l.outputShape as JsonValue;
    } catch {
      outputShape = undefined; // a layer used more than once has no single output shape
    }
    return { name: l.name, className: l.getClassName(), params: l.countParams(), ...(outputShape !== undefined ? { outputShape } : {}) };
  });
}

function describeData(d: Dataset): JsonValue {
  return { name: d.name, size: d.size, inputShape: d.inputShape, classes: d.classes };
}

/** The JSON-safe configuration recorded in the manifest (callbacks and signals left out). */
function configOf(data: Dataset, opts: TrainOptions, policyName: string, policyOptions: unknown): JsonValue {
  const { signal: _s, onStep: _o, onEpoch: _e, validation, config, metrics, ...rest } = opts;
  return JSON.parse(
    JSON.stringify({
      ...rest,
      policy: { name: policyName, options: policyOptions ?? null },
      optimizer: opts.optimizer ?? 'sgd',
      loss: opts.loss ?? 'categoricalCrossentropy',
      seed: opts.seed ?? 0,
      metrics: metrics ?? {},
      data: describeData(data),
      validation: validation ? describeData(validation) : null,
      extra: config ?? null,
    }),
  ) as JsonValue;
}

/** The manifest of a run starting now. */
export function runManifest(model: tf.LayersModel, data: Dataset, opts: TrainOptions, policyName: string, policyOptions: unknown): RunManifest {
  return {
    config: configOf(data, opts, policyName, policyOptions),
    seed: opts.seed ?? 0,
    backend: tf.getBackend(),
    versions: { gradcond: gradcondVersion(), tfjs: tf.version.tfjs, node: process.version },
    model: modelSummary(model),
    startTime: new Date().toISOString(),
    traceFormat: TRACE_FORMAT,
  };
}
