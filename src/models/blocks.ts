/**
 * Building blocks shared by the zoo's architectures: a hidden layer with its optional batch
 * normalisation and activation, the softmax output, seeds, and the stage plan of the
 * convolutional networks. Blocks are lists of layers, so a Sequential adds them in order and a
 * functional graph applies them in order.
 */
import { tf } from '../backend/tf.js';
import { CReLU } from './crelu.js';
import type { Activation } from './options.js';

type Initializer = ReturnType<typeof tf.initializers.glorotUniform>;
type BuiltinActivation = Exclude<Activation, 'crelu'>;

/** Seeds for successive weighted layers: `seed, seed + 1, …`, so one seed fixes every weight. */
export function seedCounter(seed: number): () => number {
  let next = seed;
  return () => next++;
}

/** The activation as a layer of its own (tfjs' Activation, or CReLU). */
export function activationLayer(activation: Activation): tf.layers.Layer {
  return activation === 'crelu' ? new CReLU() : tf.layers.activation({ activation });
}

/**
 * Layers after a weighted layer's linear part. Without batch normalisation a tfjs activation
 * stays inside the weighted layer (`inline`, as Keras writes an MLP); CReLU, which tfjs does not
 * have, and batch normalisation, which goes between the product and the activation (Ioffe &
 * Szegedy 2015), need layers of their own. `null`: no activation (the caller applies one later).
 */
function activationPlan(activation: Activation | null, batchNorm: boolean): { inline: BuiltinActivation; after: tf.layers.Layer[] } {
  if (!batchNorm && activation !== 'crelu') return { inline: activation ?? 'linear', after: [] };
  const after = batchNorm ? [tf.layers.batchNormalization({ axis: -1 })] : [];
  return { inline: 'linear', after: activation === null ? after : [...after, activationLayer(activation)] };
}

export interface HiddenArgs {
  activation: Activation | null;
  batchNorm: boolean;
  kernelInitializer: Initializer;
}

/** Dense → [batch norm] → activation. With batch norm the bias is dropped: BN's β replaces it. */
export function denseBlock(units: number, { activation, batchNorm, kernelInitializer }: HiddenArgs): tf.layers.Layer[] {
  const { inline, after } = activationPlan(activation, batchNorm);
  return [tf.layers.dense({ units, activation: inline, useBias: !batchNorm, kernelInitializer }), ...after];
}

export interface ConvArgs extends HiddenArgs {
  kernelSize: number;
  strides?: number;
  padding?: 'same' | 'valid';
  name?: string;
  /** On a Sequential's first layer: one example's shape. */
  inputShape?: number[];
}

/** Conv2D → [batch norm] → activation, with the same bias rule as `denseBlock`. */
export function convBlock(filters: number, args: ConvArgs): tf.layers.Layer[] {
  const { inline, after } = activationPlan(args.activation, args.batchNorm);
  const conv = tf.layers.conv2d({
    filters, kernelSize: args.kernelSize, strides: args.strides ?? 1, padding: args.padding ?? 'valid',
    activation: inline, useBias: !args.batchNorm, kernelInitializer: args.kernelInitializer,
    ...(args.name ? { name: args.name } : {}),
    ...(args.inputShape ? { inputShape: args.inputShape } : {}),
  });
  return [conv, ...after];
}

/** The classifier: dense to `classes` units with softmax (the losses are categorical). */
export function outputLayer(classes: number, seed: number): tf.layers.Layer {
  return tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: tfSeed(seed) }) });
}

/** The first layer of a fully connected Sequential: Flatten for shaped inputs, an input layer for flat ones. */
export function flatInput(inputShape: number[]): tf.layers.Layer {
  return inputShape.length > 1 ? tf.layers.flatten({ inputShape }) : tf.layers.inputLayer({ inputShape });
}

export interface Stage {
  filters: number;
  /** 2 on a stage's first block (except the first stage's): halves height and width. */
  strides: 1 | 2;
}

/**
 * The convolutional networks' plan for `depth` blocks: up to three stages of near-equal length,
 * the filters doubling (from `width`) and the resolution halving at each new stage, as in the
 * CIFAR ResNets of He et al. 2016 (16, 32, 64 filters). Block i is in stage ⌊i·S/depth⌋.
 */
export function stagePlan(depth: number, width: number): Stage[] {
  const stages = Math.min(3, depth);
  const stageOf = (i: number) => Math.floor((i * stages) / depth);
  return Array.from({ length: depth }, (_, i) => ({
    filters: width * 2 ** stageOf(i),
    strides: i > 0 && stageOf(i) !== stageOf(i - 1) ? 2 : 1,
  }));
}

/** He-normal initialiser (for ReLU-family convolutions; He et al. 2015). */
/**
 * The seed given to a tfjs initialiser. tfjs treats a seed of 0 as no seed at all (a different
 * draw on every build), so 0 is mapped to a fixed non-zero value; every other seed is its own.
 */
export function tfSeed(seed: number): number {
  return seed === 0 ? 0x9e3779b9 : seed;
}

export function heNormal(seed: number): Initializer {
  return tf.initializers.heNormal({ seed: tfSeed(seed) });
}

/** Glorot-uniform initialiser (Glorot & Bengio 2010; Keras' default). */
export function glorotUniform(seed: number): Initializer {
  return tf.initializers.glorotUniform({ seed: tfSeed(seed) });
}

/**
 * Overwrites a built layer's kernel (its first weight) with host values, for initialisations
 * tfjs has no initialiser for. The bias keeps its initial zeros.
 */
export function setKernel(layer: tf.layers.Layer, values: Float64Array): void {
  const kernel = layer.weights[0];
  tf.tidy(() => {
    kernel.write(tf.tensor(Float32Array.from(values), kernel.shape as number[]));
  });
}
