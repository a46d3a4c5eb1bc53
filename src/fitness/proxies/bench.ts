/**
 * What each proxy costs, as a multiple of one ordinary training step (forward, backward, SGD
 * update) on the same model and batch. Steps and proxies are timed in alternation and each
 * proxy's cost is the median of its per-round ratios, so that a machine whose speed drifts
 * (shared cores) moves both sides of each ratio together.
 */
import { tf } from '../../backend/tf.js';
import { median } from '../../bench/timing.js';
import { trainStep } from '../../bench/trainStep.js';
import { perExampleLoss } from '../../engine/losses.js';
import { PROXY_NAMES, type ProxyName, computeProxy } from './index.js';

export interface ProxyCost {
  name: ProxyName;
  /** Median wall time of one call. */
  ms: number;
  /** Median over rounds of (this proxy's time / the round's training-step time). */
  steps: number;
}

const wallMs = (fn: () => unknown): number => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};

export function proxyCosts(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, { rounds = 9, warmup = 2 } = {}): { stepMs: number; rows: ProxyCost[] } {
  const loss = perExampleLoss('categoricalCrossentropy');
  const optimizer = tf.train.sgd(0.01);
  const weights = model.weights.map((w) => w.read() as tf.Variable);
  const saved = weights.map((w) => w.clone());
  const steps: number[] = [];
  const times = new Map<ProxyName, number[]>(PROXY_NAMES.map((n) => [n, []]));
  for (let r = 0; r < warmup + rounds; r++) {
    const step = wallMs(() => trainStep(model, optimizer, loss, x, y));
    // The training step moved the weights: the proxies see the model as given.
    weights.forEach((w, i) => w.assign(saved[i]!));
    if (r >= warmup) steps.push(step);
    for (const name of PROXY_NAMES) {
      const ms = wallMs(() => computeProxy(name, model, x, y));
      if (r >= warmup) times.get(name)!.push(ms);
    }
  }
  tf.dispose(saved);
  optimizer.dispose();
  const rows = PROXY_NAMES.map((name) => {
    const ms = times.get(name)!;
    return { name, ms: median(ms), steps: median(ms.map((t, i) => t / steps[i]!)) };
  });
  return { stepMs: median(steps), rows };
}
