/**
 * A layer rule: how the per-example engine recognises one kind of weighted layer, runs its
 * linear part with a zero "probe" added (so that the gradient with respect to the probe is every
 * example's output-gradient δ_i), and turns what the pass saved into a {@link LayerBlock}.
 * One file per layer kind, one line in the table (table.ts), as BackPACK's extensions are
 * organised (Dangel, Kunstner & Hennig, "BackPACK: Packing more into backprop", ICLR 2020).
 */
import { tf } from '../../backend/tf.js';
import type { LayerBlock } from './block.js';

/**
 * Why one layer has no exact batched rule; the engine then takes the exact loop and says why.
 * `fatal`: no path exists (tfjs itself cannot differentiate the layer), so the engine refuses.
 */
export interface Unsupported {
  readonly unsupported: string;
  readonly fatal?: boolean;
}

export const unsupported = (why: string, fatal = false): Unsupported => ({ unsupported: why, ...(fatal ? { fatal } : {}) });

export function isUnsupported(x: object): x is Unsupported {
  return 'unsupported' in x;
}

/** One call of a layer in the model's graph, as the rule sees it. */
export interface LayerCall {
  layer: tf.layers.Layer;
  /** Symbolic input shape, batch axis first (null where unknown). */
  inputShape: readonly (number | null)[];
  /** Symbolic output shape, batch axis first. */
  outputShape: readonly (number | null)[];
}

/** A rule bound to one layer: what the batched pass runs for it. */
export interface BoundLayer {
  /** Its trainable variables, in the order its block lays out h_i's columns. */
  readonly variables: readonly tf.LayerVariable[];
  /** Shapes of one example's probes (without the batch axis), one per linear output. */
  readonly probeShapes: readonly number[][];
  /**
   * The layer's forward pass with `probes[k]` added to its k-th linear output. `saved` are the
   * tensors `block` needs after the backward pass (the engine keeps them past its tidy).
   */
  forward(input: tf.Tensor, probes: readonly tf.Tensor[]): { output: tf.Tensor; saved: tf.Tensor[] };
  /** The block, from the saved tensors and the gradients of the probes (δ); it owns them all. */
  block(saved: tf.Tensor[], deltas: tf.Tensor[]): LayerBlock;
}

export interface LayerRule {
  /** Names the rule in blocks and reasons. */
  readonly kind: string;
  /** tfjs class names (`layer.getClassName()`) it handles. */
  readonly classNames: readonly string[];
  /** Reads one call of the layer (weights, config), or says why this instance is not covered. */
  bind(call: LayerCall): BoundLayer | Unsupported;
}

// ---- helpers shared by the rules -------------------------------------------------------------

type Apply = (x: tf.Tensor) => tf.Tensor;

/** The layer's activation (a tfjs-layers field, read, never written); identity when it has none. */
export function activationOf(layer: tf.layers.Layer): Apply {
  const act = (layer as unknown as { activation?: { apply: Apply } | null }).activation;
  return act ? (x) => act.apply(x) : (x) => x;
}

/** A layer's own LayerVariable field by name (tfjs-layers' fields: read, never written). */
export function variableField(layer: tf.layers.Layer, name: string): tf.LayerVariable | null {
  return ((layer as unknown as Record<string, unknown>)[name] as tf.LayerVariable | null | undefined) ?? null;
}

/** A config value that is a number or a pair, as a pair. */
export function pair(v: unknown): [number, number] {
  return Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)];
}

/** The shape without the batch axis, or null when any dimension is unknown. */
export function exampleShape(shape: readonly (number | null)[]): number[] | null {
  const rest = shape.slice(1);
  return rest.every((d): d is number => typeof d === 'number') ? rest : null;
}

/** tfjs 4.x has no gradient for dilated convolutions: neither the batched pass nor the loop can run. */
export function dilationUnsupported(layer: tf.layers.Layer, dilations: [number, number]): Unsupported | null {
  if (dilations[0] === 1 && dilations[1] === 1) return null;
  return unsupported(`layer ${layer.name}: tfjs has no gradient for convolutions with dilation ${dilations.join('×')}`, true);
}

/**
 * The backward pass through a layer needs `kernel` on the current backend (stock wasm has no
 * DepthwiseConv2dNativeBackpropInput, so it cannot train depthwise convolutions at all).
 */
export function missingKernel(layer: tf.layers.Layer, kernel: string): Unsupported | null {
  const backend = tf.getBackend();
  if (tf.getKernel(kernel, backend)) return null;
  return unsupported(`layer ${layer.name}: backend ${backend} has no ${kernel} kernel, so tfjs cannot differentiate it`, true);
}

/** The number of entries of a variable (0 for none). */
export function sizeOf(v: tf.LayerVariable | null): number {
  return v ? v.shape.reduce((p: number, q) => p * (q ?? 0), 1) : 0;
}
