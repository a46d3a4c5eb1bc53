/**
 * BatchMatMul with transposeA/transposeB as an explicit transpose of the last two axes followed by
 * the backend's own (stock) plain product. On wasm the stock kernel's transposed paths are about
 * an order of magnitude slower than transpose + plain matMul.
 */
import { tf } from '../tf.js';
import { asTensor } from './util.js';

interface BatchMatMulArgs { transposeA?: boolean; transposeB?: boolean }

function swapLastTwo(t: tf.Tensor): tf.Tensor {
  const r = t.rank;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(t, perm);
}

/** Builds the override around `stock`, the backend's original BatchMatMul config. */
export function batchMatMulConfig(backendName: string, stock: tf.KernelConfig): tf.KernelConfig {
  const stockFunc = stock.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { inputs, attrs } = args;
    const { transposeA = false, transposeB = false } = (attrs ?? {}) as BatchMatMulArgs;
    if (!transposeA && !transposeB) return stockFunc(args);
    const extra: tf.Tensor[] = [];
    try {
      let a: tf.TensorInfo = inputs['a']!;
      let b: tf.TensorInfo = inputs['b']!;
      if (transposeA) { a = tf.tidy(() => swapLastTwo(asTensor(a))); extra.push(a as tf.Tensor); }
      if (transposeB) { b = tf.tidy(() => swapLastTwo(asTensor(b))); extra.push(b as tf.Tensor); }
      // The stock kernel returns a fresh TensorInfo that does not alias a or b.
      return stockFunc({ ...args, inputs: { a, b }, attrs: { ...(attrs ?? {}), transposeA: false, transposeB: false } });
    } finally {
      for (const t of extra) t.dispose();
    }
  };
  // Carry the stock setup/dispose so that, if the backend initialises only after the override was
  // registered, the stock kernel we delegate to still gets set up (wasm binds its C function there).
  const config: tf.KernelConfig = { kernelName: tf.BatchMatMul, backendName, kernelFunc };
  if (stock.setupFunc) config.setupFunc = stock.setupFunc;
  if (stock.disposeFunc) config.disposeFunc = stock.disposeFunc;
  return config;
}
