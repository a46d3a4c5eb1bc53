/**
 * The model zoo: the thesis' test architectures and the benchmark's reference models, by name.
 * Every builder returns a plain `tf.LayersModel` (Sequential or functional) with a softmax
 * output, which saves and loads in the standard format; `depth` and `width` scale it, `seed`
 * fixes its weights. Importing this module registers the CReLU layer with tfjs' serialisation.
 */
import type { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import type { Architecture } from './architecture.js';
import { CNN, cnn } from './cnn.js';
import { CNN_PLAIN, cnnPlain } from './cnnPlain.js';
import { FC_CRELU_LL, fcCreluLL } from './fcCreluLL.js';
import { FC_ORTHOGONAL, fcOrthogonal } from './fcOrthogonal.js';
import { MLP, mlp } from './mlp.js';
import type { ModelOptions } from './options.js';
import { RESNET, resnet } from './resnet.js';

export { cnn } from './cnn.js';
export { cnnPlain } from './cnnPlain.js';
export { CReLU, crelu, registerCReLU } from './crelu.js';
export { fcCreluLL, mirrored } from './fcCreluLL.js';
export { fcOrthogonal, orthogonalGain } from './fcOrthogonal.js';
export { mlp } from './mlp.js';
export { ACTIVATIONS, ArchitectureOptionsSchema, ModelOptionsSchema } from './options.js';
export type { Activation, ArchitectureOptions, ModelOptions, ResolvedOptions } from './options.js';
export { orthogonalMatrix } from './orthogonal.js';
export { resnet } from './resnet.js';
export type { Architecture, ArchitectureInfo } from './architecture.js';

/** The options of a zoo builder (the name it has always had). */
export type ModelSpec = ModelOptions;

/** Every architecture by name, with its description, defaults and builder. */
export const ZOO = {
  mlp: { ...MLP, build: (spec) => mlp(spec) },
  cnn: { ...CNN, build: cnn },
  'fc-orthogonal': { ...FC_ORTHOGONAL, build: fcOrthogonal },
  'fc-crelu-ll': { ...FC_CRELU_LL, build: fcCreluLL },
  'cnn-plain': { ...CNN_PLAIN, build: cnnPlain },
  resnet: { ...RESNET, build: resnet },
} as const satisfies Record<string, Architecture<tf.LayersModel>>;

export type ModelName = keyof typeof ZOO;
export const MODEL_NAMES = Object.keys(ZOO) as ModelName[];

/** Builders by name (what the CLI's `--model` choices and the benchmark look up). */
export const MODELS: Record<ModelName, (spec: ModelSpec) => tf.LayersModel> = Object.fromEntries(
  MODEL_NAMES.map((name) => [name, ZOO[name].build]),
) as Record<ModelName, (spec: ModelSpec) => tf.LayersModel>;

/** Builds the named architecture; an unknown name or a bad option is a one-line UsageError. */
export function buildModel(name: string, spec: ModelSpec): tf.LayersModel {
  if (!Object.hasOwn(ZOO, name)) throw new UsageError(`unknown model '${name}': choose one of ${MODEL_NAMES.join(', ')}`);
  return ZOO[name as ModelName].build(spec);
}

/** One line per architecture with its defaults, for `--help` and the README. */
export function describeModels(): string[] {
  return MODEL_NAMES.map((name) => {
    const { description, defaults } = ZOO[name];
    return `${name} — ${description}; defaults depth ${defaults.depth}, width ${defaults.width}, ${defaults.activation}`;
  });
}
