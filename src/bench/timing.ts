/** Timing helpers for the benchmark: median of several runs after warm-up. */
export interface Timing {
  ms: number;
  runs: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median wall time of `fn` over `runs` calls after `warmup` calls. */
export async function timeIt(fn: () => unknown | Promise<unknown>, { warmup = 2, runs = 7 } = {}): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), runs };
}
