/**
 * Timing helpers for the benchmark: median of several runs after warm-up, on a chosen clock.
 * 'wall' (the default) is what a user waits; 'cpu' is this process's CPU time (user + system),
 * which a busy shared machine disturbs far less — right for single-threaded backends (wasm,
 * cpu), wrong for multi-threaded ones, whose threads' times add up.
 */
export type Clock = 'wall' | 'cpu';

let clock: Clock = 'wall';

export function setClock(c: Clock): void {
  clock = c;
}

/** Milliseconds on the chosen clock (only differences mean anything). */
export function now(): number {
  if (clock === 'wall') return performance.now();
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

export interface Timing {
  ms: number;
  runs: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median time of `fn` over `runs` calls after `warmup` calls. */
export async function timeIt(fn: () => unknown | Promise<unknown>, { warmup = 2, runs = 7 } = {}): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    await fn();
    times.push(now() - t0);
  }
  return { ms: median(times), runs };
}
