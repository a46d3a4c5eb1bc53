/**
 * The batched pass's view of a model: its graph of layer calls (any directed acyclic graph with
 * one input and one output: chains, residual blocks, branches that merge, nested models), in an
 * order where every call comes after the calls that feed it, each weighted call bound to its rule.
 * Or why there is none, so that the engine takes the exact loop and says why.
 */
import { tf } from '../../backend/tf.js';
import { ruleFor } from './table.js';
import { type BoundLayer, type Unsupported, isUnsupported, unsupported } from './rule.js';

type GraphNode = tf.layers.Layer['inboundNodes'][number];

/**
 * One layer call: the ids of the symbolic tensors it reads and writes. An 'alias' step only
 * renames (outputs[i] is inputs[i]): it joins a nested model's graph to the call of that model.
 */
export type PlanStep =
  | { kind: 'weighted'; layer: tf.layers.Layer; bound: BoundLayer; inputs: number[]; outputs: number[] }
  | { kind: 'weightless'; layer: tf.layers.Layer; inputs: number[]; outputs: number[] }
  | { kind: 'alias'; inputs: number[]; outputs: number[] };

export type ModelPlan =
  | {
      ok: true;
      /** Symbolic ids of the model's input and output. */
      input: number;
      output: number;
      /** Topological order. */
      steps: PlanStep[];
      /** Indices into `steps` of the weighted calls, in `model.trainableWeights` order. */
      blockOrder: number[];
    }
  | { ok: false; reason: string; /** No exact path exists at all (see Unsupported). */ fatal?: boolean };

/** The model's layers, those of nested models included. */
function allLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.flatMap((l) => (l instanceof tf.LayersModel ? [l, ...allLayers(l)] : [l]));
}

/** Layers whose training-mode forward pass mixes the examples: no per-example gradient exists. */
export function batchCoupledLayers(model: tf.LayersModel): string[] {
  return allLayers(model).filter((l) => l.getClassName() === 'BatchNormalization').map((l) => l.name);
}

/** The calls that lead to `output`, each once, inputs before the calls that read them. */
function topologicalCalls(output: tf.SymbolicTensor): GraphNode[] {
  const order: GraphNode[] = [];
  const seen = new Set<GraphNode>();
  const visit = (t: tf.SymbolicTensor): void => {
    const node = t.sourceLayer.inboundNodes[t.nodeIndex]!;
    if (seen.has(node)) return;
    seen.add(node);
    for (const input of node.inputTensors) visit(input);
    order.push(node);
  };
  visit(output);
  return order;
}

/**
 * Binds one call, or says why it cannot take the batched pass. A layer none of whose weights the
 * model trains (frozen, or in a frozen model) is weightless here.
 */
function planStep(node: GraphNode, trained: ReadonlySet<tf.LayerVariable>): PlanStep | Unsupported {
  const layer = node.outboundLayer;
  const inputs = node.inputTensors.map((t) => t.id);
  const outputs = node.outputTensors.map((t) => t.id);
  if (!layer.trainableWeights.some((w) => trained.has(w))) return { kind: 'weightless', layer, inputs, outputs };
  const cls = layer.getClassName();
  const rule = ruleFor(cls);
  if (!rule) return unsupported(`layer ${layer.name} (${cls}) has no batched per-example rule`);
  if (inputs.length !== 1 || outputs.length !== 1) return unsupported(`layer ${layer.name} (${cls}) has several inputs or outputs`);
  const bound = rule.bind({ layer, inputShape: node.inputTensors[0]!.shape, outputShape: node.outputTensors[0]!.shape });
  if (isUnsupported(bound)) return bound;
  return { kind: 'weighted', layer, bound, inputs, outputs };
}

/**
 * The weighted calls in `model.trainableWeights` order, or null when their variables, laid end to
 * end, are not exactly that list (then the blocks could not be concatenated into θ's layout).
 */
function orderBlocks(model: tf.LayersModel, steps: PlanStep[]): number[] | null {
  const position = new Map(model.trainableWeights.map((w, i) => [w, i]));
  const weighted = steps.flatMap((s, i) => (s.kind === 'weighted' ? [i] : []));
  const first = (i: number) => position.get((steps[i] as Extract<PlanStep, { kind: 'weighted' }>).bound.variables[0]!) ?? -1;
  weighted.sort((p, q) => first(p) - first(q));
  const laid = weighted.flatMap((i) => (steps[i] as Extract<PlanStep, { kind: 'weighted' }>).bound.variables);
  const same = laid.length === model.trainableWeights.length && laid.every((v, i) => v === model.trainableWeights[i]);
  return same ? weighted : null;
}

/** What planning one graph shares with the graphs of the models nested in it. */
interface PlanContext {
  trained: ReadonlySet<tf.LayerVariable>;
  weighted: Set<tf.layers.Layer>;
  steps: PlanStep[];
}

/**
 * Appends the calls from `input` to `output` to `ctx.steps`; a nested model that the model trains
 * is planned in place (its calls join the graph through alias steps), once.
 */
function planGraph(input: tf.SymbolicTensor, output: tf.SymbolicTensor, ctx: PlanContext): Unsupported | null {
  for (const node of topologicalCalls(output)) {
    const layer = node.outboundLayer;
    if (node.inboundLayers.length === 0) {
      if (node.outputTensors[0]!.id !== input.id) return unsupported(`input layer ${layer.name} is not the model's input`);
      continue; // the graph's input: the batch itself, or the nested model's argument
    }
    const trainsLayer = layer.trainableWeights.some((w) => ctx.trained.has(w));
    if (trainsLayer && (ctx.weighted.has(layer))) return unsupported(`layer ${layer.name} is called more than once (shared weights)`);
    if (trainsLayer) ctx.weighted.add(layer);
    if (layer instanceof tf.LayersModel && trainsLayer) {
      if (layer.inputs.length !== 1 || layer.outputs.length !== 1) return unsupported(`nested model ${layer.name} has several inputs or outputs`);
      ctx.steps.push({ kind: 'alias', inputs: [node.inputTensors[0]!.id], outputs: [layer.inputs[0]!.id] });
      const inner = planGraph(layer.inputs[0]!, layer.outputs[0]!, ctx);
      if (inner) return inner;
      ctx.steps.push({ kind: 'alias', inputs: [layer.outputs[0]!.id], outputs: [node.outputTensors[0]!.id] });
      continue;
    }
    const step = planStep(node, ctx.trained);
    if (isUnsupported(step)) return step;
    ctx.steps.push(step);
  }
  return null;
}

/** The plan for a one-input, one-output model (the caller checks the counts). */
export function planModel(model: tf.LayersModel): ModelPlan {
  const [input] = model.inputs;
  const [output] = model.outputs;
  const ctx: PlanContext = { trained: new Set(model.trainableWeights), weighted: new Set(), steps: [] };
  const failed = planGraph(input!, output!, ctx);
  if (failed) return { ok: false, reason: failed.unsupported, ...(failed.fatal ? { fatal: true } : {}) };
  const blockOrder = orderBlocks(model, ctx.steps);
  if (!blockOrder) return { ok: false, reason: 'the trainable weights are not laid out layer by layer in call order' };
  return { ok: true, input: input!.id, output: output!.id, steps: ctx.steps, blockOrder };
}
