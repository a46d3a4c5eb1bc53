/**
 * When to sample each metric group: a fixed cadence (every k steps), or an overhead budget —
 * metrics may take at most a fraction of the run's wall time, measured online.
 *
 * Under a budget:
 * - every group is sampled once early (one new group per step from step 1 on, whatever it
 *   costs), so that no run ends without a sample of each; the time spent is paid back later;
 * - then a group runs only when its expected cost (the last measured durations, smoothed, or
 *   before any measurement its declared prior × the current step time) still fits:
 *   spent + cost ≤ share · fraction · (elapsed + cost);
 * - groups a policy reads are `priority` groups: they share `priorityShare` (default ¾) of the
 *   budget among themselves, the other groups the rest (all of it when there are no priority
 *   groups, or no others), so that a policy gets its signal without starving the trace;
 * - within each pool groups take turns, least recently sampled first, and a cheap group never
 *   overtakes an expensive one that is waiting.
 * Time is passed in (elapsed and step milliseconds), so the scheduler is deterministic under test.
 */
import { GROUPS, type SampledGroup } from '../metrics/registry.js';

export type Cadence = { kind: 'every'; every: Partial<Record<SampledGroup, number>> } | { kind: 'budget'; fraction: number };

export interface SchedulerOptions {
  /** Groups a policy reads: sampled first, from their own share of the budget. */
  priority?: readonly SampledGroup[];
  /** The share of the budget the priority groups use when there are others (default 0.75). */
  priorityShare?: number;
}

interface Pool {
  groups: SampledGroup[];
  share: number;
  spentMs: number;
}

export class MetricScheduler {
  private metricMs = 0;
  private readonly costMs = new Map<SampledGroup, number>();
  private readonly lastStep = new Map<SampledGroup, number>();
  private readonly pools: Pool[];

  constructor(
    readonly groups: readonly SampledGroup[],
    readonly cadence: Cadence,
    opts: SchedulerOptions = {},
  ) {
    const priority = groups.filter((g) => opts.priority?.includes(g));
    const others = groups.filter((g) => !priority.includes(g));
    const share = priority.length && others.length ? (opts.priorityShare ?? 0.75) : 1;
    this.pools = [
      { groups: priority, share, spentMs: 0 },
      { groups: others, share: priority.length ? 1 - share : 1, spentMs: 0 },
    ].filter((p) => p.groups.length > 0);
  }

  /** The groups to sample at `step`, given the run's elapsed wall time and step time. */
  due(step: number, elapsedMs: number, stepMs: number): SampledGroup[] {
    if (this.cadence.kind === 'every') {
      const every = this.cadence.every;
      return this.groups.filter((g) => {
        const k = every[g];
        return k !== undefined && k > 0 && step % k === 0;
      });
    }
    const first = this.pools.flatMap((p) => p.groups).find((g) => !this.lastStep.has(g));
    if (first !== undefined) return step >= 1 ? [first] : [];
    return this.pools.flatMap((pool) => this.dueIn(pool, this.cadence.kind === 'budget' ? this.cadence.fraction : 0, elapsedMs, stepMs));
  }

  private dueIn(pool: Pool, fraction: number, elapsedMs: number, stepMs: number): SampledGroup[] {
    const order = [...pool.groups].sort((a, b) => this.lastStep.get(a)! - this.lastStep.get(b)!);
    const chosen: SampledGroup[] = [];
    let planned = 0;
    for (const g of order) {
      const cost = this.costMs.get(g) ?? GROUPS[g].priorSteps * stepMs;
      // Round robin: a cheaper group never jumps ahead of one waiting longer.
      if (pool.spentMs + planned + cost > pool.share * fraction * (elapsedMs + planned + cost)) break;
      chosen.push(g);
      planned += cost;
    }
    return chosen;
  }

  /** Records what a group cost when it ran. */
  record(group: SampledGroup, step: number, ms: number): void {
    this.metricMs += ms;
    const pool = this.pools.find((p) => p.groups.includes(group));
    if (pool) pool.spentMs += ms;
    const prev = this.costMs.get(group);
    this.costMs.set(group, prev === undefined ? ms : 0.7 * prev + 0.3 * ms);
    this.lastStep.set(group, step);
  }

  /** Total milliseconds spent on metrics so far. */
  get spentMs(): number {
    return this.metricMs;
  }

  /** The step at which `group` was last sampled, if ever. */
  lastSampled(group: SampledGroup): number | undefined {
    return this.lastStep.get(group);
  }
}
