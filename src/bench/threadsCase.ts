/**
 * Bench rows: one training step of the case's model and batch on the wasm backend with one
 * thread (tfjs' own single-threaded build) and with `threads` threads (the threaded build), both
 * running in this process as separate backends. Each first trains for `warmupS` seconds: V8
 * compiles wasm in tiers, and the threaded build's steps keep getting faster for a few hundred
 * steps. Then the two alternate round by round, so that a load change on the machine hits both
 * alike; the speed-up is the median of the per-round ratios.
 *
 * On a shared machine the ratio says more about the other users than about threads: Linux gives
 * each session (autogroup) a fair share of the CPUs, and a session held to one core gains nothing
 * from a second thread and loses to its synchronisation.
 */
import { tf } from '../backend/tf.js';
import { defaultThreads } from '../backend/backend.js';
import { registerWasmVariant } from '../backend/wasmRegistry.js';
import { perExampleLoss } from '../engine/losses.js';
import type { BenchCase, BenchContext } from './bench.js';
import { median } from './timing.js';
import { trainStep } from './trainStep.js';

export interface ThreadsCaseOptions {
  /** Threads of the threaded backend (default: the machine's cores, at most 8). */
  threads?: number;
  /** Alternations of the two backends; each times `ctx.runs` steps after one warm-up step. */
  rounds?: number;
  /** Seconds of training on each backend before the rounds (default 2). */
  warmupS?: number;
}

interface Variant {
  name: string;
  /** Threads it actually runs on (1 where the threaded build could not start). */
  threads: number;
  /** Per-round median step time, ms. */
  rounds: number[];
}

const loss = perExampleLoss('categoricalCrossentropy');

/** Trains on backend `name` for `seconds` (at least one step). */
async function warmUp(name: string, ctx: BenchContext, opt: tf.Optimizer, seconds: number): Promise<void> {
  await tf.setBackend(name);
  const end = performance.now() + seconds * 1000;
  do trainStep(ctx.model, opt, loss, ctx.x, ctx.y);
  while (performance.now() < end);
}

/** Median step time of `runs` steps on backend `name`, after one warm-up step (which also moves the weights there). */
async function roundOn(name: string, ctx: BenchContext, opt: tf.Optimizer): Promise<number> {
  await tf.setBackend(name);
  trainStep(ctx.model, opt, loss, ctx.x, ctx.y);
  const times: number[] = [];
  for (let i = 0; i < ctx.runs; i++) {
    const t0 = performance.now();
    trainStep(ctx.model, opt, loss, ctx.x, ctx.y);
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** The rows, for the wasm backend only (other backends get none). */
export function threadsCase({ threads = defaultThreads(), rounds = 5, warmupS = 2 }: ThreadsCaseOptions = {}): BenchCase {
  return async (ctx) => {
    if (ctx.backend !== 'wasm') return [];
    const variants: Variant[] = [];
    for (const [name, n] of [['wasm-1-thread', 1], [`wasm-${threads}-threads`, threads]] as const) {
      variants.push({ name, threads: await registerWasmVariant(name, n), rounds: [] });
    }
    const opt = tf.train.sgd(0.01);
    try {
      for (const v of variants) await warmUp(v.name, ctx, opt, warmupS);
      for (let r = 0; r < rounds; r++) {
        for (const v of variants) v.rounds.push(await roundOn(v.name, ctx, opt));
      }
    } finally {
      opt.dispose();
      await tf.setBackend(ctx.backend);
    }
    const [one, many] = variants as [Variant, Variant];
    const speedup = median(one.rounds.map((ms, i) => ms / many.rounds[i]!));
    return [
      { what: 'train step, wasm 1 thread', ms: median(one.rounds), note: `tfjs' single-threaded build; ${rounds} rounds × ${ctx.runs} steps` },
      {
        what: `train step, wasm ${many.threads} threads`,
        ms: median(many.rounds),
        note: `${speedup.toFixed(2)}× the 1-thread step (median of per-round ratios)` +
          (many.threads < threads ? `; ${threads} threads requested, threaded build unavailable` : ''),
      },
    ];
  };
}
