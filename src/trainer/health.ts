/**
 * Gradient health: findings about a run that is going wrong without diverging, read from the
 * free per-step numbers of the step events. Each finding is reported once per episode (when its
 * condition starts to hold), not on every step while it holds:
 *
 * - `dead-gradient`: ‖h̄‖ ≤ `deadGradNorm` for `deadSteps` consecutive steps while the loss stays
 *   at or above the run's first loss. A network whose units all died (or whose softmax saturated
 *   on the wrong class, where the clipped cross-entropy has no gradient) stops learning without
 *   any NaN; the loss condition keeps a converged model (tiny loss, vanishing gradient) out. The
 *   episode ends at the first step that breaks the condition.
 * - `loss-spike`: the loss is above `spikeFactor` × the median of the last `spikeWindow` losses
 *   (judged once the window holds `spikeMinSteps`). A step whose batch is under half the previous
 *   step's (an epoch's short last batch) is neither judged nor added to the window: a few
 *   examples' loss is too noisy. The episode ends after `quietSteps` steps without a spike.
 * - `stalled-loss`: the smoothed loss (bias-corrected exponential average, weight `stallAlpha`
 *   for the newest loss) has not dropped below (1 − `stallTolerance`) × its value at the last
 *   improvement for `stallSteps` steps, and is above `stallFloor` (below it the loss is simply
 *   small). The episode ends at the next improvement.
 *
 * A pure reducer over plain numbers, like a policy: `healthStep(state, event, rules)` returns the
 * findings and the next state; the state is JSON, so checkpoints keep it.
 */
import { UsageError } from '../errors.js';
import { show } from '../validation.js';
import type { HealthFindingName, StepEvent } from '../stream/types.js';

export interface HealthRules {
  deadGradNorm: number;
  deadSteps: number;
  spikeWindow: number;
  spikeMinSteps: number;
  spikeFactor: number;
  quietSteps: number;
  stallAlpha: number;
  stallSteps: number;
  stallTolerance: number;
  stallFloor: number;
}

export const HEALTH_RULES: Readonly<HealthRules> = Object.freeze({
  deadGradNorm: 1e-12,
  deadSteps: 20,
  spikeWindow: 50,
  spikeMinSteps: 10,
  spikeFactor: 3,
  quietSteps: 10,
  stallAlpha: 0.05,
  stallSteps: 200,
  stallTolerance: 0.01,
  stallFloor: 1e-3,
});

/** Everything the rules remember between steps (JSON). */
export interface HealthState {
  /** The run's first finite loss. */
  startLoss: number | null;
  /** Consecutive dead steps, and the first of them. */
  dead: number;
  deadSince: number | null;
  /** The last spikeWindow judged losses, oldest first. */
  losses: number[];
  lastBatch: number;
  spiking: boolean;
  quiet: number;
  /** Exponential average before bias correction, and its total weight 1 − (1 − α)^t. */
  avg: number;
  weight: number;
  /** Smoothed loss at the last improvement, and its step. */
  ref: number | null;
  refStep: number;
  stalled: boolean;
}

export interface HealthFinding {
  finding: Exclude<HealthFindingName, 'diverged'>;
  /** The step (0-based) at which the finding was made. */
  step: number;
  /** One line for the console and the trace. */
  message: string;
}

export function initialHealth(): HealthState {
  return { startLoss: null, dead: 0, deadSince: null, losses: [], lastBatch: 0, spiking: false, quiet: 0, avg: 0, weight: 0, ref: null, refStep: 0, stalled: false };
}

/** The default rules with `over` applied; a UsageError for a value that is not a positive number. */
export function healthRules(over: Partial<HealthRules> = {}): HealthRules {
  if (typeof over !== 'object' || over === null || Array.isArray(over)) throw new UsageError(`health must be an object of rule overrides, got ${show(over)}`);
  const rules = { ...HEALTH_RULES, ...over };
  for (const [k, v] of Object.entries(over)) {
    if (!Object.hasOwn(HEALTH_RULES, k)) throw new UsageError(`unknown health rule '${k}': choose one of ${Object.keys(HEALTH_RULES).join(', ')}`);
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new UsageError(`health rule ${k} must be a positive number, got ${String(v)}`);
  }
  if (rules.stallAlpha > 1 || rules.stallTolerance >= 1) throw new UsageError('health rules stallAlpha must be ≤ 1 and stallTolerance < 1');
  return rules;
}

const fmt = (x: number) => Number(x.toPrecision(4)).toString();

function deadGradient(s: HealthState, e: StepEvent, loss: number, gradNorm: number, r: HealthRules): HealthFinding | null {
  const start = s.startLoss!;
  if (!(gradNorm <= r.deadGradNorm && loss >= start)) {
    s.dead = 0;
    s.deadSince = null;
    return null;
  }
  s.dead++;
  s.deadSince ??= e.step;
  if (s.dead !== r.deadSteps) return null;
  return {
    finding: 'dead-gradient',
    step: e.step,
    message: `dead gradient: ‖h̄‖ ≤ ${r.deadGradNorm} for ${r.deadSteps} steps (since step ${s.deadSince}) with the loss at or above its starting value ${fmt(start)}: the network has stopped learning`,
  };
}

function middle(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

function lossSpike(s: HealthState, e: StepEvent, loss: number, r: HealthRules): HealthFinding | null {
  const short = e.batchSize < s.lastBatch / 2;
  s.lastBatch = e.batchSize;
  if (short) return null;
  const judged = s.losses.length >= r.spikeMinSteps;
  const m = judged ? middle(s.losses) : 0;
  s.losses.push(loss);
  if (s.losses.length > r.spikeWindow) s.losses.shift();
  if (!(judged && m > 0 && loss > r.spikeFactor * m)) {
    if (s.spiking && ++s.quiet >= r.quietSteps) s.spiking = false;
    return null;
  }
  s.quiet = 0;
  if (s.spiking) return null;
  s.spiking = true;
  return {
    finding: 'loss-spike',
    step: e.step,
    message: `loss spike at step ${e.step}: ${fmt(loss)} is more than ${r.spikeFactor} × the running median ${fmt(m)} of the last ${s.losses.length - 1} losses`,
  };
}

function stalledLoss(s: HealthState, e: StepEvent, loss: number, r: HealthRules): HealthFinding | null {
  s.avg = (1 - r.stallAlpha) * s.avg + r.stallAlpha * loss;
  s.weight = (1 - r.stallAlpha) * s.weight + r.stallAlpha;
  const smoothed = s.avg / s.weight;
  if (s.ref === null || smoothed < s.ref * (1 - r.stallTolerance)) {
    s.ref = smoothed;
    s.refStep = e.step;
    s.stalled = false;
    return null;
  }
  if (s.stalled || e.step - s.refStep < r.stallSteps || smoothed <= r.stallFloor) return null;
  s.stalled = true;
  return {
    finding: 'stalled-loss',
    step: e.step,
    message: `stalled loss: the smoothed loss ${fmt(smoothed)} has not improved by ${r.stallTolerance * 100}% in ${e.step - s.refStep} steps (since step ${s.refStep})`,
  };
}

/** One step through the rules: the findings it starts and the next state. Pure. */
export function healthStep(state: HealthState, e: StepEvent, rules: HealthRules): { findings: HealthFinding[]; state: HealthState } {
  if (e.loss === null) return { findings: [], state };
  const s: HealthState = { ...state, losses: [...state.losses] };
  s.startLoss ??= e.loss;
  // A partial step (stepMetrics > 1) has no gradient norm: the loss rules still apply.
  const dead = e.gradNorm === null ? null : deadGradient(s, e, e.loss, e.gradNorm, rules);
  const findings = [dead, lossSpike(s, e, e.loss, rules), stalledLoss(s, e, e.loss, rules)];
  return { findings: findings.filter((f): f is HealthFinding => f !== null), state: s };
}
