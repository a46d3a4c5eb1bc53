/**
 * What the per-example engine needs to know of a layer, read once. Dense and Conv2D layers have
 * per-example gradients from one batched pass (outer products of inputs and output-gradients);
 * weightless layers are applied as they are; anything else sends the model to the exact
 * per-example loop.
 */
import { tf } from '../backend/tf.js';

type Apply = (x: tf.Tensor) => tf.Tensor;

export interface DenseInfo {
  kind: 'dense';
  layer: tf.layers.Layer;
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D | null;
  activation: Apply;
}

export interface Conv2DInfo {
  kind: 'conv2d';
  layer: tf.layers.Layer;
  kernel: tf.Tensor4D;
  bias: tf.Tensor1D | null;
  activation: Apply;
  strides: [number, number];
  padding: 'valid' | 'same';
  dilations: [number, number];
}

export interface PassThroughInfo {
  kind: 'passThrough';
  layer: tf.layers.Layer;
}

export type LayerInfo = DenseInfo | Conv2DInfo | PassThroughInfo;

/** The fast path's view of a model, or why it has none. */
export type ModelPlan = { ok: true; layers: LayerInfo[] } | { ok: false; reason: string };

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [Number(v), Number(v)]);

/** Layers whose training-mode forward pass mixes examples: no per-example gradient exists. */
export function batchCoupledLayers(model: tf.LayersModel): string[] {
  return model.layers.filter((l) => l.getClassName() === 'BatchNormalization').map((l) => l.name);
}

/** A sequential chain of Dense/Conv2D/weightless layers, read for the fast path. */
export function planModel(model: tf.LayersModel): ModelPlan {
  const layers: LayerInfo[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'InputLayer') continue;
    if (layer.inboundNodes.length !== 1 || layer.inboundNodes[0].inboundLayers.length > 1) {
      return { ok: false, reason: `layer ${layer.name} is not part of a single chain` };
    }
    // The private fields are tfjs-layers' own: read, never written.
    const l = layer as unknown as Record<string, unknown> & { activation?: { apply: Apply } };
    const config = layer.getConfig();
    const weights = layer.trainableWeights.map((w) => w.read());
    if (cls === 'Dense' && layer.trainableWeights.length > 0) {
      if ((layer.input as tf.SymbolicTensor).shape.length !== 2) {
        return { ok: false, reason: `layer ${layer.name}: Dense on rank > 2 inputs has no fast path` };
      }
      layers.push({
        kind: 'dense', layer, kernel: weights[0] as tf.Tensor2D, bias: (weights[1] as tf.Tensor1D) ?? null,
        activation: (x) => l.activation!.apply(x),
      });
    } else if (cls === 'Conv2D' && layer.trainableWeights.length > 0) {
      if (config.dataFormat !== 'channelsLast') return { ok: false, reason: `layer ${layer.name}: only channelsLast convolutions have a fast path` };
      layers.push({
        kind: 'conv2d', layer, kernel: weights[0] as tf.Tensor4D, bias: (weights[1] as tf.Tensor1D) ?? null,
        activation: (x) => l.activation!.apply(x),
        strides: pair(config.strides), padding: config.padding as 'valid' | 'same', dilations: pair(config.dilationRate ?? 1),
      });
    } else if (layer.trainableWeights.length === 0 && cls !== 'BatchNormalization') {
      layers.push({ kind: 'passThrough', layer });
    } else {
      return { ok: false, reason: `layer ${layer.name} (${cls}) has no batched per-example rule` };
    }
  }
  return { ok: true, layers };
}
