/**
 * gradcond's kernel overrides: faster or missing tfjs kernels, built only from existing tfjs ops,
 * registered on the `wasm` and `cpu` backends.
 */
import { tf } from './tf.js';
import { batchMatMulConfig } from './kernels/batchMatMul.js';
import { conv2dBackpropFilterConfig } from './kernels/conv2dBackpropFilter.js';
import { conv2dBackpropInputConfig } from './kernels/conv2dBackpropInput.js';

/** A tfjs kernel name, e.g. 'Conv2DBackpropFilter'. */
export type OverrideName = string;
export type OverrideBackend = 'wasm' | 'cpu';

export interface OverrideInfo {
  kernelName: OverrideName;
  /** Backends it is installed on (where measured faster than stock, or where stock is missing). */
  backends: OverrideBackend[];
  why: string;
}

/** Every override and where it is installed. */
export const OVERRIDES: readonly OverrideInfo[] = [
  {
    kernelName: 'Conv2DBackpropFilter',
    backends: ['wasm', 'cpu'],
    why: 'wasm has no Conv2DBackpropFilter (cannot train convolutions); cpu\'s is a naive loop ' +
      '(batch 64, 28x28x1 -> 3x3x16: 920 ms stock vs 60 ms). Computed as ONE conv2d with batch and ' +
      'channels swapped (dilation = forward stride).',
  },
  {
    kernelName: 'Conv2DBackpropInput',
    backends: ['wasm'],
    why: 'wasm\'s stock kernel is a naive loop (batch 64, 26x26x16 -> 3x3x32: 143 ms stock vs 15 ms; ' +
      '2x faster even at stride 2): ' +
      'computed as conv2d of the (stride-dilated) padded dy with the flipped, in/out-swapped filter. ' +
      'Not on cpu, where the stock kernel is ~2x faster than cpu\'s conv2d.',
  },
  {
    kernelName: 'BatchMatMul',
    backends: ['wasm'],
    why: 'wasm\'s transposeA/transposeB paths are ~10x slower than explicit transpose + plain matMul ' +
      '(the dense-layer gradients use them).',
  },
];

type Factory = (backend: string, stock: tf.KernelConfig | undefined) => tf.KernelConfig | undefined;

const FACTORIES: Record<string, Factory> = {
  Conv2DBackpropFilter: (b) => conv2dBackpropFilterConfig(b),
  Conv2DBackpropInput: (b) => conv2dBackpropInputConfig(b),
  // Needs the stock kernel for the plain product.
  BatchMatMul: (b, stock) => (stock ? batchMatMulConfig(b, stock) : undefined),
};

/** Per backend: kernel name -> the stock config it replaced (undefined if there was none). */
const installed = new Map<string, Map<string, tf.KernelConfig | undefined>>();

/** Names of the overrides that apply to `backend` (empty for e.g. 'tensorflow' or 'webgl'). */
export function overridesFor(backend: string): OverrideName[] {
  return OVERRIDES.filter((o) => (o.backends as string[]).includes(backend)).map((o) => o.kernelName);
}

/** Kernel names currently installed on `backend`. */
export function installedOverrides(backend: string): OverrideName[] {
  return [...(installed.get(backend)?.keys() ?? [])];
}

/**
 * Registers the overrides for `backend` (those listed for it in OVERRIDES, or only `only` of
 * them) and returns the kernel names installed on it. Idempotent: installing again changes
 * nothing and returns the same names.
 */
export function installOverrides(backend: string, only?: readonly OverrideName[]): OverrideName[] {
  let saved = installed.get(backend);
  for (const name of overridesFor(backend)) {
    if (only && !only.includes(name)) continue;
    if (saved?.has(name)) continue;
    const stock = tf.getKernel(name, backend);
    const config = FACTORIES[name]!(backend, stock);
    if (!config) continue;
    if (stock) tf.unregisterKernel(name, backend);
    tf.registerKernel(config);
    if (!saved) installed.set(backend, (saved = new Map()));
    saved.set(name, stock);
  }
  return installedOverrides(backend);
}

/** Restores the stock kernels of `backend` exactly (unregisters ours where there was none). */
export function removeOverrides(backend: string): void {
  const saved = installed.get(backend);
  if (!saved) return;
  for (const [name, stock] of saved) {
    if (tf.getKernel(name, backend)) tf.unregisterKernel(name, backend);
    if (stock) tf.registerKernel(stock);
  }
  installed.delete(backend);
}
