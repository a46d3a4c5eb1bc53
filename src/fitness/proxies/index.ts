/**
 * The zero-cost proxies of the NAS literature, one registry: each scores a model at its current
 * weights (normally at initialisation) from one batch, with no training. They are computed
 * here to validate gradcond's own architecture scores against them on the same candidates and
 * the same batch. Every proxy returns a finite number or null with the reason; none changes the
 * model's weights.
 */
import { tf } from '../../backend/tf.js';
import { UnsupportedError, UsageError } from '../../errors.js';
import { perExampleLoss } from '../../engine/losses.js';
import { type MetricValue, undef } from '../../metrics/result.js';
import { gradNorm } from './gradNorm.js';
import { jacov } from './jacov.js';
import { naswot } from './naswot.js';
import { params } from './params.js';
import type { Proxy } from './proxy.js';
import { snip } from './snip.js';
import { synflow } from './synflow.js';

export const PROXIES = {
  grad_norm: gradNorm,
  snip,
  synflow,
  jacov,
  naswot,
  params,
} as const satisfies Record<string, Proxy>;

export type ProxyName = keyof typeof PROXIES;
export const PROXY_NAMES = Object.keys(PROXIES) as ProxyName[];

export interface ProxyOptions {
  /** A tfjs loss name (grad_norm and snip differentiate it); default categoricalCrossentropy. */
  loss?: string;
  /**
   * Training-mode layers (BatchNormalization on batch statistics, dropout on), as the reference
   * code runs; default true. synflow skips BatchNormalization and runs in inference mode either way.
   */
  training?: boolean;
}

/** One proxy of `model` on the batch `(x, y)`. Bad arguments throw a `UsageError`. */
export function computeProxy(name: string, model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, opts: ProxyOptions = {}): MetricValue {
  const proxy = (PROXIES as Record<string, Proxy>)[name];
  if (!proxy) throw new UsageError(`unknown proxy '${name}': choose one of ${PROXY_NAMES.join(', ')}`);
  const lossName = opts.loss ?? 'categoricalCrossentropy';
  const loss = perExampleLoss(lossName);
  checkBatch(model, x, y, lossName);
  try {
    return proxy({ model, x, y, loss, training: opts.training ?? true });
  } catch (e) {
    if (e instanceof UnsupportedError) return undef(`${name}: ${e.message}`);
    throw e;
  }
}

/** Every proxy in {@link PROXY_NAMES} (or those named), by name. */
export function computeProxies(
  model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, opts: ProxyOptions & { names?: readonly string[] } = {},
): Record<string, MetricValue> {
  const names = opts.names ?? PROXY_NAMES;
  return Object.fromEntries(names.map((n) => [n, computeProxy(n, model, x, y, opts)]));
}

const sameShape = (given: number[], expected: (number | null)[]): boolean =>
  given.length === expected.length && expected.every((d, i) => d === null || d === given[i]);

const show = (shape: (number | null)[]): string => `[${shape.map((d) => d ?? '?').join(', ')}]`;

function checkBatch(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, lossName: string): void {
  const [inputs, outputs] = [model.inputs?.length ?? 0, model.outputs?.length ?? 0]; // an empty Sequential has neither
  if (inputs !== 1 || outputs !== 1) throw new UsageError(`proxies need a model with one input and one output, got ${inputs} and ${outputs}`);
  const input = model.inputs[0]!.shape.slice(1);
  if (!sameShape(x.shape.slice(1), input)) throw new UsageError(`x has example shape ${show(x.shape.slice(1))}, the model expects ${show(input)}`);
  if (x.dtype !== 'float32') throw new UsageError(`x must be float32, got ${x.dtype}`);
  if (x.shape[0] === 0) throw new UsageError('the batch is empty');
  if (y.shape[0] !== x.shape[0]) throw new UsageError(`x has ${x.shape[0]} examples but y has ${y.shape[0]}`);
  const output = model.outputs[0]!.shape.slice(1);
  if (lossName !== 'sparseCategoricalCrossentropy' && !sameShape(y.shape.slice(1), output)) {
    throw new UsageError(`y has example shape ${show(y.shape.slice(1))}, the model's output is ${show(output)}`);
  }
}
