/**
 * Runs a model's layer graph by hand, layer by layer, so that a proxy can compute a layer
 * differently (synflow drops BatchNormalization; synflow and jacov drop the final softmax) or
 * look at every layer's output (naswot reads the ReLU codes). Works for Sequential and
 * functional models: it follows the symbolic tensors from the output back to the input, the
 * same graph `model.apply` executes.
 */
import { tf } from '../../backend/tf.js';
import { UnsupportedError } from '../../errors.js';

type Layer = tf.layers.Layer;

export interface GraphRun {
  training: boolean;
  /** Computes `layer` on `inputs` in another way; undefined: the layer's own computation. */
  replace?: (layer: Layer, inputs: tf.Tensor[]) => tf.Tensor | undefined;
  /** Sees each layer's output, once per layer call, in execution order. */
  observe?: (layer: Layer, output: tf.Tensor) => void;
}

/** The model's output on `x`. Call inside `tf.tidy` (intermediate tensors are left to it). */
export function runGraph(model: tf.LayersModel, x: tf.Tensor, run: GraphRun): tf.Tensor {
  const values = new Map<number, tf.Tensor>([[model.inputs[0]!.id, x]]);
  const evaluate = (symbolic: tf.SymbolicTensor): tf.Tensor => {
    const known = values.get(symbolic.id);
    if (known) return known;
    const layer = symbolic.sourceLayer as Layer;
    if (layer instanceof tf.LayersModel) {
      throw new UnsupportedError(`layer ${layer.name} is a nested model: build the model from its layers directly`);
    }
    const inputs = symbolic.inputs.map(evaluate);
    const result = run.replace?.(layer, inputs) ?? layer.apply(inputs.length === 1 ? inputs[0]! : inputs, { training: run.training });
    const outputs = (Array.isArray(result) ? result : [result]) as tf.Tensor[];
    layer.inboundNodes[symbolic.nodeIndex]!.outputTensors.forEach((s, i) => values.set(s.id, outputs[i]!));
    outputs.forEach((o) => run.observe?.(layer, o));
    return values.get(symbolic.id)!;
  };
  return evaluate(model.outputs[0]!);
}

/** Replaces BatchNormalization by the identity, as the synflow reference does. */
export function skipBatchNorm(layer: Layer, inputs: tf.Tensor[]): tf.Tensor | undefined {
  return layer.getClassName() === 'BatchNormalization' ? inputs[0] : undefined;
}

/** The first rule that computes the layer wins. */
export function combine(...rules: NonNullable<GraphRun['replace']>[]): NonNullable<GraphRun['replace']> {
  return (layer, inputs) => {
    for (const rule of rules) {
      const out = rule(layer, inputs);
      if (out) return out;
    }
    return undefined;
  };
}
