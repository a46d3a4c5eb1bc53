/**
 * What the registry knows of an architecture (name, one-line description, defaults, what inputs
 * and activations it takes) and the one function that turns a user's options into the
 * complete, checked options a builder receives.
 */
import { UsageError } from '../errors.js';
import { parseOptions } from '../validation.js';
import { ModelOptionsSchema, type Activation, type ModelOptions, type ResolvedOptions } from './options.js';

export interface ArchitectureInfo {
  name: string;
  /** One line, for `--help` and the README; says what depth and width mean here. */
  description: string;
  /** Defaults that train on 28×28×1 Fashion-MNIST in a few epochs. */
  defaults: { depth: number; width: number; activation: Activation };
  activations: readonly Activation[];
  /** 'image' needs `[height, width, channels]` inputs; 'any' flattens what it gets. */
  input: 'image' | 'any';
  /** A further constraint on the options, as the message to refuse them with. */
  check?: (o: ResolvedOptions) => string | null;
}

/** An architecture: its description and its builder (a plain, serialisable `tf.LayersModel`). */
export interface Architecture<M = unknown> extends ArchitectureInfo {
  build(spec: ModelOptions): M;
}

/** Validates `spec` for `arch` and fills in its defaults; every refusal is one UsageError line. */
export function resolveOptions(arch: ArchitectureInfo, spec: ModelOptions): ResolvedOptions {
  const o = parseOptions(ModelOptionsSchema, spec, `model '${arch.name}'`, Object.keys(ModelOptionsSchema.shape));
  const resolved: ResolvedOptions = {
    inputShape: o.inputShape,
    classes: o.classes,
    depth: o.depth ?? arch.defaults.depth,
    width: o.width ?? arch.defaults.width,
    seed: o.seed ?? 0,
    batchNorm: o.batchNorm ?? false,
    activation: o.activation ?? arch.defaults.activation,
  };
  if (!arch.activations.includes(resolved.activation)) {
    throw new UsageError(`model '${arch.name}' takes activation ${arch.activations.join(' or ')}, not '${resolved.activation}'`);
  }
  if (arch.input === 'image' && o.inputShape.length !== 3) {
    throw new UsageError(
      `model '${arch.name}' needs image inputs [height, width, channels], got inputShape [${o.inputShape.join(', ')}]; fully connected models take any shape`,
    );
  }
  const problem = arch.check?.(resolved);
  if (problem) throw new UsageError(`model '${arch.name}': ${problem}`);
  return resolved;
}
