/**
 * The concatenated ReLU as a serialisable tfjs layer: `CReLU(x) = [relu(x), relu(−x)]` along the
 * last axis, so it doubles the features (or channels) it is applied to and loses nothing of its
 * input: `relu(x) − relu(−x) = x`. That identity is what lets a mirrored kernel `[W; −W]` after it
 * act as `W` (the looks-linear initialisation, see fcCreluLL.ts).
 *
 * Shang, Sohn, Almeida & Lee, "Understanding and Improving Convolutional Neural Networks via
 * Concatenated Rectified Linear Units", ICML 2016.
 */
import { tf } from '../backend/tf.js';

type LayerArgs = ConstructorParameters<typeof tf.layers.Layer>[0];
type Shape = (number | null)[];

export class CReLU extends tf.layers.Layer {
  /** The name saved in model.json and looked up when a model is loaded. */
  static className = 'CReLU';

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const last = shape[shape.length - 1];
    return [...shape.slice(0, -1), last === null ? null : 2 * last];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.concat([tf.relu(x), tf.relu(tf.neg(x))], -1);
    });
  }

  /** No options of its own: the base layer's name, trainable flag and dtype. */
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig() };
  }
}

/**
 * Registers `CReLU` with tfjs' serialisation map so that models containing it load. Registering
 * a serialisable class is what tfjs expects of custom layers; doing it twice is harmless.
 */
export function registerCReLU(): void {
  tf.serialization.registerClass(CReLU);
}

registerCReLU();

/** A CReLU layer (the factory style of `tf.layers`). */
export function crelu(args: LayerArgs = {}): CReLU {
  return new CReLU(args);
}
