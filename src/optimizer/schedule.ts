/**
 * When to sample each metric group: a fixed cadence (every k steps), or an overhead budget —
 * metrics may take at most a fraction of the run's wall time, measured online.
 *
 * Under a budget:
 * - every group is sampled once early (one new group per step from step 1 on, whatever it
 *   costs), so that no run ends without a sample of each: a fixed cost, not charged to the
 *   budget (the run's summary reports all metric time), which also measures each group's cost;
 * - groups a policy reads are `priority` groups: they share `priorityShare` (default ¾) of the
 *   budget among themselves, the other groups the rest (all of it when there are no priority
 *   groups, or no others), so that a policy gets its signal without starving the trace;
 * - within a pool every group has an equal share, and runs when its expected cost (its measured
 *   durations, smoothed; before any, its declared prior × the step time) still fits:
 *   spent_g + cost ≤ share_g · fraction · (elapsed + cost). So a cheap group is sampled often
 *   and an expensive one rarely, each for the same time: the cheap ones' traces stay dense.
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
}

export class MetricScheduler {
  private metricMs = 0;
  /** Per group: budgeted milliseconds spent (every sample but the first). */
  private readonly chargedMs = new Map<SampledGroup, number>();
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
      { groups: priority, share },
      { groups: others, share: priority.length ? 1 - share : 1 },
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
    const share = (pool.share * fraction) / pool.groups.length;
    return pool.groups.filter((g) => {
      const cost = this.costMs.get(g) ?? GROUPS[g].priorSteps * stepMs;
      return (this.chargedMs.get(g) ?? 0) + cost <= share * (elapsedMs + cost);
    });
  }

  /** Records what a group cost when it ran; a group's first sample is not charged to the budget. */
  record(group: SampledGroup, step: number, ms: number): void {
    this.metricMs += ms;
    if (this.lastStep.has(group)) this.chargedMs.set(group, (this.chargedMs.get(group) ?? 0) + ms);
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
