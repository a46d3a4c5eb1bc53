/**
 * When to sample each metric group: a fixed cadence (every k steps), or an overhead budget —
 * metrics may take at most a fraction of the run's wall time, measured online. Under a budget,
 * a group runs only when its expected cost (the last measured duration, or before any
 * measurement a prior of its declared passes × the current step time) still fits:
 * metricMs + cost ≤ budget · (elapsedMs + cost). Groups take turns, least recently sampled
 * first, and a cheap group never overtakes an expensive one that is waiting.
 */
import type { SampleGroup } from '../metrics/registry.js';

/** Prior cost of a group in training steps (its declared extra passes), before measuring it. */
const PRIOR_STEPS: Record<SampleGroup, number> = {
  step: 0,
  weightPerturbation: 2,
  perExample: 1.5,
  inputGradient: 1,
  inputPerturbation: 12,
  multiBatch: 1,
};

export type Cadence = { kind: 'every'; every: Partial<Record<SampleGroup, number>> } | { kind: 'budget'; fraction: number };

export class MetricScheduler {
  private metricMs = 0;
  private readonly costMs = new Map<SampleGroup, number>();
  private readonly lastStep = new Map<SampleGroup, number>();

  constructor(
    readonly groups: readonly SampleGroup[],
    readonly cadence: Cadence,
  ) {}

  /** The groups to sample at `step`, given the run's elapsed wall time and step time. */
  due(step: number, elapsedMs: number, stepMs: number): SampleGroup[] {
    if (this.cadence.kind === 'every') {
      const every = this.cadence.every;
      return this.groups.filter((g) => {
        const k = every[g];
        return k !== undefined && k > 0 && step % k === 0;
      });
    }
    const { fraction } = this.cadence;
    const order = [...this.groups].sort((a, b) => (this.lastStep.get(a) ?? -1) - (this.lastStep.get(b) ?? -1));
    const chosen: SampleGroup[] = [];
    let planned = 0;
    for (const g of order) {
      const cost = this.costMs.get(g) ?? PRIOR_STEPS[g] * stepMs;
      // Round robin: a cheaper group never jumps ahead of one waiting longer.
      if (this.metricMs + planned + cost > fraction * (elapsedMs + planned + cost)) break;
      chosen.push(g);
      planned += cost;
    }
    return chosen;
  }

  /** Records what a group cost when it ran. */
  record(group: SampleGroup, step: number, ms: number): void {
    this.metricMs += ms;
    const prev = this.costMs.get(group);
    this.costMs.set(group, prev === undefined ? ms : 0.7 * prev + 0.3 * ms);
    this.lastStep.set(group, step);
  }

  /** Total milliseconds spent on metrics so far. */
  get spentMs(): number {
    return this.metricMs;
  }
}
