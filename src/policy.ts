/**
 * Policies: pure reducers over plain numbers that turn the training stream (step events, metric
 * samples, ends of epochs) into learning-rate and batch-size changes. A policy never sees a
 * tensor, an optimizer or a model:
 *
 *     const [update, next] = policy.update(event, state, hyper, knobs, ctx);
 *
 * A policy declares what it is (`name`, `description`, `source`), what it writes (`knobs`),
 * what it needs (`reads`: the sampled metric groups, which the trainer turns on and gives the
 * budget first) and its options (a zod schema with defaults and descriptions; `definePolicy`
 * derives `validate` from it). State is plain JSON: the trainer checkpoints it.
 *
 * `policySteps` runs any policy over a stream (RxJS `scan`) and warns once when a signal the
 * policy reads never arrives; `guardUpdate` is the one place that refuses non-finite or
 * non-positive knob values; `composePolicies` runs several policies as one.
 *
 * Progress clock. Schedules (`step`, `cosine`) are functions of *progress*, not of the raw step
 * count. By default progress is the number of steps (and epochs) completed. A policy may keep
 * its own clock instead (`clock`): AdaScale counts scale-invariant iterations τ, which advance by
 * the gain r_t per step rather than by 1. In a composition, every policy after the clock keeper
 * reads `ctx.progress` from it. A clock keeper may also declare `learningRateScale`: it then
 * shares the learning-rate knob with the one policy composed after it that writes the rate (the
 * schedule), which runs in unscaled "base" units; the composition applies
 * `rate = learningRateScale(state) × base rate`. This is the one designed exception to "two
 * policies never write the same knob" (`adascale+cosine`: lr_t = r_t · cosine(τ_t)).
 */
import { defer, filter, map, pipe, scan, type OperatorFunction } from 'rxjs';
import type { z } from 'zod';
import { UsageError } from './errors.js';
import { logger } from './log.js';
import type { SampledGroup } from './metrics/registry.js';
import type { EpochEvent, MetricSample, StepEvent } from './stream/types.js';

/** The hyperparameters a policy may change between steps. */
export interface Knobs {
  learningRate: number;
  batchSize: number;
}

export const KNOB_NAMES = ['learningRate', 'batchSize'] as const satisfies readonly (keyof Knobs)[];

/** What a policy asks for; absent fields stay as they are. */
export interface PolicyUpdate {
  learningRate?: number;
  batchSize?: number;
  /** Why: what the policy saw and what it did, for logs and traces. */
  reason?: string;
}

/** What a policy sees: every step event, metric sample and end of epoch, in stream order. */
export type PolicyInput = StepEvent | MetricSample | EpochEvent;

/** How far training has come, in the units schedules count (steps and epochs completed). */
export interface Progress {
  steps: number;
  epochs: number;
}

/** What a composition tells its parts beyond the event: the progress clock. */
export interface PolicyContext {
  progress: Progress;
}

export interface Policy<S = unknown, H = unknown> {
  name: string;
  /** One line: what the policy does. */
  description?: string;
  /** The paper or code it implements (the citation). */
  source?: string;
  /** The knobs this policy writes; updates to any other knob are dropped. */
  knobs: readonly (keyof Knobs)[];
  /** The sampled metric groups it acts on (step and epoch events always arrive). */
  reads?: readonly SampledGroup[];
  /** Its options: a strict zod object with defaults and `.describe()` texts. */
  options?: z.ZodType<H>;
  /** The initial state, from the validated hyperparameters and the knobs at the start. */
  init(hyper: H, start: Knobs): S;
  /** One event in, maybe an update out, and the next state. Pure: must not mutate `state`. */
  update(event: PolicyInput, state: S, hyper: H, knobs: Knobs, ctx?: PolicyContext): [PolicyUpdate | null, S];
  /** Checks raw hyperparameters (from JSON, the CLI…); throws a UsageError naming the bad option. */
  validate(hyper: unknown): H;
  /** Knobs wanted before the first step (e.g. the first rate of a warm-up); the trainer applies them. */
  initialUpdate?(hyper: H, start: Knobs): PolicyUpdate | null;
  /** This policy keeps the progress clock (see the module comment): its progress after an event. */
  clock?(state: S): Progress;
  /** This policy scales the rate of the schedule composed after it: the factor it applies now. */
  learningRateScale?(state: S): number;
  /** A signal the policy has been waiting for in vain (e.g. val_loss without validation data), or null. */
  waitingFor?(state: S, hyper: H): string | null;
}

/** A policy of the registry: every declaration present. */
export type RegisteredPolicy<S = unknown, H = unknown> = Policy<S, H> &
  Required<Pick<Policy<S, H>, 'description' | 'source' | 'reads' | 'options'>>;

/** A policy of any state and hyperparameter types (what registries hold). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPolicy = Policy<any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRegisteredPolicy = RegisteredPolicy<any, any>;

/** True for step events. */
export function isStepInput(e: PolicyInput): e is StepEvent {
  return !('group' in e) && !('kind' in e);
}

/** True for metric samples. */
export function isMetricInput(e: PolicyInput): e is MetricSample {
  return 'group' in e;
}

/** True for the end of an epoch. */
export function isEpochInput(e: PolicyInput): e is EpochEvent {
  return 'kind' in e && e.kind === 'epoch';
}

/**
 * Progress by the default clock: after step event t, t + 1 steps are done; after the end of
 * epoch e, e epochs are. `ctx.progress` (a composed clock) wins when given.
 */
export function progressOf(event: PolicyInput, ctx?: PolicyContext): Progress {
  if (ctx) return ctx.progress;
  if (isEpochInput(event)) return { steps: event.step, epochs: event.epoch };
  return { steps: event.step + 1, epochs: Math.max(0, event.epoch - 1) };
}

// ---------------------------------------------------------------------------------------------
// Options: validation from the zod schema.

/** One zod issue as "option 'x' …", naming the option and the value given. */
function issueText(issue: z.core.$ZodIssue, raw: unknown, known: readonly string[]): string {
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length ? ` in '${issue.path.join('.')}'` : '';
    return `unknown option(s) ${issue.keys.join(', ')}${where}${known.length ? ` (known: ${known.join(', ')})` : ' (it takes none)'}`;
  }
  if (issue.code === 'custom') {
    // Cross-option rules name their options; inside a nested object, give the full names.
    const prefix = issue.path.slice(0, -1).join('.');
    return prefix ? issue.message.replace(/'(\w+)'/g, `'${prefix}.$1'`) : issue.message;
  }
  if (issue.path.length === 0) return `options must be an object (${issue.message})`;
  const name = issue.path.join('.');
  let given: unknown = raw;
  for (const k of issue.path) given = given !== null && typeof given === 'object' ? (given as Record<PropertyKey, unknown>)[k] : undefined;
  if (given === undefined) return `option '${name}' is required (${issue.message})`;
  return `option '${name}' = ${typeof given === 'string' ? JSON.stringify(given) : String(given)}: ${issue.message}`;
}

/**
 * `validate` for a policy with an options schema: undefined or null means "all defaults"; the
 * first problem becomes a one-line UsageError naming the policy and the option.
 */
export function optionsValidator<T extends z.ZodType>(policy: string, schema: T): (raw: unknown) => z.output<T> {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  const known = shape ? Object.keys(shape) : [];
  return (raw) => {
    const input = raw === undefined || raw === null ? {} : raw;
    const r = schema.safeParse(input);
    if (r.success) return r.data;
    // Unknown names first: a misspelt option also looks like a missing required one.
    const issues = [...r.error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
    throw new UsageError(`policy '${policy}': ${issueText(issues[0], input, known)}`);
  };
}

/** A registered policy from its declarations: `validate` comes from the options schema. */
export function definePolicy<S, O extends z.ZodType>(
  spec: Omit<RegisteredPolicy<S, z.output<O>>, 'validate' | 'options'> & { options: O },
): RegisteredPolicy<S, z.output<O>> {
  return { ...spec, options: spec.options as unknown as z.ZodType<z.output<O>>, validate: optionsValidator(spec.name, spec.options) };
}

// ---------------------------------------------------------------------------------------------
// The guard and the adapter.

function validKnob(knob: keyof Knobs, v: number): string | null {
  if (!Number.isFinite(v)) return `${knob} ${v} is not finite`;
  if (v <= 0) return `${knob} ${v} is not positive`;
  if (knob === 'batchSize' && !Number.isInteger(v)) return `batchSize ${v} is not an integer`;
  return null;
}

/**
 * The guard between a policy and the trainer: drops every field of `update` that is not a
 * finite positive number (an integer for the batch size) or that the policy did not declare
 * in `knobs`, with a warning naming the policy and the reason. Null when nothing is left.
 */
export function guardUpdate(update: PolicyUpdate | null, policy: Pick<Policy, 'name' | 'knobs'>, step?: number): PolicyUpdate | null {
  if (update === null) return null;
  const out: PolicyUpdate = {};
  let any = false;
  for (const knob of KNOB_NAMES) {
    const v = update[knob];
    if (v === undefined) continue;
    const problem = !policy.knobs.includes(knob)
      ? `it does not declare the knob ${knob}`
      : typeof v !== 'number'
        ? `${knob} ${String(v)} is not a number`
        : validKnob(knob, v);
    if (problem !== null) {
      logger().warn(`policy update dropped: ${problem}`, { policy: policy.name, step, reason: update.reason });
      continue;
    }
    out[knob] = v;
    any = true;
  }
  if (!any) return null;
  if (update.reason !== undefined) out.reason = update.reason;
  return out;
}

/** The knobs after applying a (guarded) update. */
export function applyUpdate(knobs: Knobs, update: PolicyUpdate | null): Knobs {
  if (update === null) return knobs;
  return {
    learningRate: update.learningRate ?? knobs.learningRate,
    batchSize: update.batchSize ?? knobs.batchSize,
  };
}

/** The policy's guarded opening update (applied before the first step), or null. */
export function initialUpdate<H>(policy: Policy<unknown, H>, hyper: H, start: Knobs): PolicyUpdate | null {
  return guardUpdate(policy.initialUpdate?.(hyper, start) ?? null, policy);
}

/** The progress clock of a policy (or of the clock keeper inside a composition), or null. */
export function policyProgress<S>(policy: Policy<S, unknown>, state: S): Progress | null {
  return policy.clock ? policy.clock(state) : null;
}

/** The adapter's accumulator: everything a policy stage knows after an event. */
export interface PolicyStep<S> {
  /** The guarded update this event produced, or null. */
  update: PolicyUpdate | null;
  /** The policy's state after the event (JSON; checkpointed by the trainer). */
  state: S;
  /** The knobs as the policy's updates have left them. */
  knobs: Knobs;
}

/** Step events after which a policy that has not seen a group it reads says so. */
export const SIGNAL_WAIT_STEPS = 200;

/**
 * Watches one subscription's stream for the signals a policy needs: after SIGNAL_WAIT_STEPS step
 * events without a sample of a group in `reads` it warns once per group, and the first time
 * `waitingFor` names a missing signal it warns once, through the logger.
 */
function signalWatch<S, H>(policy: Policy<S, H>, hyper: H): (event: PolicyInput, state: S) => void {
  const seen = new Set<string>();
  const warned = new Set<string>();
  let steps = 0;
  const warn = (key: string, message: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    logger().warn(message, { policy: policy.name });
  };
  return (event, state) => {
    if (isMetricInput(event)) seen.add(event.group);
    else if (isStepInput(event)) steps++;
    if (steps >= SIGNAL_WAIT_STEPS) {
      for (const g of policy.reads ?? []) {
        if (!seen.has(g)) warn(`group:${g}`, `policy '${policy.name}' reads the metric group '${g}', but no sample of it arrived in ${steps} steps: turn the group on, or the policy cannot act on it`);
      }
    }
    const waiting = policy.waitingFor?.(state, hyper) ?? null;
    if (waiting !== null) warn('wait', `policy '${policy.name}' is waiting: ${waiting}`);
  };
}

/**
 * The full reducer output per event: guarded update, state and knobs. `initial` restores a
 * saved state instead of `policy.init` (resume); a fresh start applies the policy's opening
 * update (`initialUpdate`) to the starting knobs. Everything is per subscription.
 */
export function policySteps<S, H>(policy: Policy<S, H>, hyper: H, start: Knobs, initial?: S): OperatorFunction<PolicyInput, PolicyStep<S>> {
  return (source) =>
    defer(() => {
      const fresh = initial === undefined;
      const state = fresh ? policy.init(hyper, start) : initial;
      const knobs = fresh ? applyUpdate(start, initialUpdate(policy as Policy<unknown, H>, hyper, start)) : start;
      const watch = signalWatch(policy, hyper);
      const seed: PolicyStep<S> = { update: null, state, knobs };
      return source.pipe(
        scan((acc: PolicyStep<S>, event: PolicyInput): PolicyStep<S> => {
          const [raw, next] = policy.update(event, acc.state, hyper, acc.knobs);
          const update = guardUpdate(raw, policy, event.step);
          watch(event, next);
          return { update, state: next, knobs: applyUpdate(acc.knobs, update) };
        }, seed),
      );
    });
}

/**
 * Any policy as a stream stage: a merged stream of step events, metric samples and epoch ends
 * in, the guarded updates out (events that change nothing emit nothing).
 *
 *     merge(opt.steps$, opt.metrics$).pipe(policyStage(policy, hyper, {learningRate, batchSize}))
 */
export function policyStage<S, H>(policy: Policy<S, H>, hyper: H, start: Knobs, initial?: S): OperatorFunction<PolicyInput, PolicyUpdate> {
  return pipe(
    policySteps(policy, hyper, start, initial),
    map((s) => s.update),
    filter((u): u is PolicyUpdate => u !== null),
  );
}

// ---------------------------------------------------------------------------------------------
// Composition.

/** The state of a composition: one state per part, and the schedule's unscaled rate. */
export interface ComposedState {
  parts: unknown[];
  /** The learning rate the schedule after a scaler last set, before the scaler's factor. */
  baseLearningRate: number;
}

/** Where the clock keeper and the learning-rate scaler sit in a composition (validated). */
interface CompositionPlan {
  clock: number | null;
  scaler: number | null;
}

function composeError(message: string): never {
  throw new UsageError(message);
}

/** Checks knob ownership, allowing a scaler to share the rate with one schedule after it. */
function planComposition(policies: readonly AnyPolicy[]): CompositionPlan {
  const indices = (pred: (p: AnyPolicy) => boolean) => policies.flatMap((p, i) => (pred(p) ? [i] : []));
  const clocks = indices((p) => p.clock !== undefined);
  const scalers = indices((p) => p.learningRateScale !== undefined);
  if (clocks.length > 1) composeError(`policies '${policies[clocks[0]].name}' and '${policies[clocks[1]].name}' both keep the progress clock: compose at most one`);
  const scaler = scalers.length ? scalers[0] : null;
  for (const knob of KNOB_NAMES) {
    let writers = indices((p) => p.knobs.includes(knob));
    if (knob === 'learningRate' && scaler !== null) {
      const before = writers.find((i) => i < scaler);
      if (before !== undefined) composeError(`put '${policies[scaler].name}' before '${policies[before].name}': a learning-rate scaler scales the rate of the policy composed after it`);
      writers = writers.filter((i) => i !== scaler); // it may share the rate with one schedule after it
    }
    if (writers.length < 2) continue;
    composeError(`policies '${policies[writers[0]].name}' and '${policies[writers[1]].name}' both write ${knob}: compose policies that write different knobs`);
  }
  return { clock: clocks.length ? clocks[0] : null, scaler };
}

/** One event through the parts, in order; each sees the knobs as earlier parts left them. */
function runParts(
  policies: readonly AnyPolicy[],
  plan: CompositionPlan,
  event: PolicyInput,
  state: ComposedState,
  hyper: unknown[],
  knobs: Knobs,
  ctx: PolicyContext | undefined,
): { parts: unknown[]; values: Omit<PolicyUpdate, 'reason'>; reasons: string[]; base: number } {
  const parts: unknown[] = [];
  const reasons: string[] = [];
  let values: Omit<PolicyUpdate, 'reason'> = {};
  let view = knobs;
  let base = state.baseLearningRate;
  let clock = ctx;
  policies.forEach((p, i) => {
    // The schedule after a scaler works in base units; everyone else sees the rate in force.
    const scaled = plan.scaler !== null && i > plan.scaler && p.knobs.includes('learningRate');
    const [raw, s] = p.update(event, state.parts[i], hyper[i], scaled ? { ...view, learningRate: base } : view, clock);
    parts.push(s);
    if (i === plan.clock) clock = { progress: p.clock!(s) };
    const g = guardUpdate(raw, p, event.step);
    if (g === null) return;
    const { reason, ...v } = g;
    if (reason !== undefined) reasons.push(reason);
    if ((scaled || i === plan.scaler) && v.learningRate !== undefined) {
      if (scaled) base = v.learningRate; // the schedule's rate, in base units
      delete v.learningRate; // the composition sets the scaled rate below
    }
    values = { ...values, ...v };
    view = applyUpdate(view, v);
  });
  return { parts, values, reasons, base };
}

/**
 * Several policies as one: name 'a+b'; hyperparameters an array (one entry per policy, in
 * order) or an object keyed by policy name. Every policy sees every event, in order, with the
 * knobs as the policies before it left them (put batch-size policies before a learning-rate
 * scaler). Updates merge; reasons are joined by '; '. Two policies writing the same knob is a
 * UsageError, except a learning-rate scaler followed by one schedule (see the module comment).
 */
export function composePolicies(policies: readonly AnyPolicy[]): Policy<ComposedState, unknown[]> {
  if (policies.length === 0) throw new UsageError('composePolicies needs at least one policy');
  const plan = planComposition(policies);
  const name = policies.map((p) => p.name).join('+');
  const scaleOf = (parts: unknown[]) => (plan.scaler === null ? 1 : policies[plan.scaler].learningRateScale!(parts[plan.scaler]));
  const composed: Policy<ComposedState, unknown[]> = {
    name,
    description: policies.map((p) => p.description ?? p.name).join('; then '),
    source: policies.map((p) => p.source ?? p.name).join('; '),
    knobs: [...new Set(policies.flatMap((p) => p.knobs))],
    reads: [...new Set(policies.flatMap((p) => p.reads ?? []))],
    init(hyper, start) {
      const opening = plan.scaler === null ? undefined : policies.slice(plan.scaler + 1).find((p) => p.knobs.includes('learningRate'));
      const base = opening?.initialUpdate?.(hyper[policies.indexOf(opening)], start)?.learningRate ?? start.learningRate;
      return { parts: policies.map((p, i) => p.init(hyper[i], start)), baseLearningRate: base };
    },
    update(event, state, hyper, knobs, ctx) {
      const { parts, values, reasons, base } = runParts(policies, plan, event, state, hyper, knobs, ctx);
      const out: PolicyUpdate = { ...values };
      if (plan.scaler !== null) {
        const scale = scaleOf(parts);
        const lr = scale * base;
        if (lr !== knobs.learningRate) {
          out.learningRate = lr;
          const p4 = (x: number) => Number(x.toPrecision(4));
          reasons.push(`rate = ${p4(scale)} × ${p4(base)}: lr ${p4(knobs.learningRate)} → ${p4(lr)}`);
        }
      }
      const any = out.learningRate !== undefined || out.batchSize !== undefined;
      if (any && reasons.length) out.reason = reasons.join('; ');
      return [any ? out : null, { parts, baseLearningRate: base }];
    },
    validate: (hyper) => validateParts(policies, name, hyper),
    initialUpdate(hyper, start) {
      let knobs = start;
      let out: PolicyUpdate | null = null;
      policies.forEach((p, i) => {
        const u = guardUpdate(p.initialUpdate?.(hyper[i], knobs) ?? null, p);
        if (u === null) return;
        out = { ...(out ?? {}), ...u };
        knobs = applyUpdate(knobs, u);
      });
      return out;
    },
    waitingFor: (state, hyper) => policies.reduce<string | null>((w, p, i) => w ?? p.waitingFor?.(state.parts[i], hyper[i]) ?? null, null),
  };
  if (plan.clock !== null) composed.clock = (state) => policies[plan.clock!].clock!(state.parts[plan.clock!]);
  return composed;
}

/** A composition's hyperparameters: an array, one per part, or an object keyed by part name. */
function validateParts(policies: readonly AnyPolicy[], name: string, hyper: unknown): unknown[] {
  if (hyper === undefined || hyper === null) return policies.map((p) => p.validate(undefined));
  if (Array.isArray(hyper)) {
    if (hyper.length !== policies.length) throw new UsageError(`hyperparameters of '${name}' must be an array of ${policies.length} (one per policy)`);
    return policies.map((p, i) => p.validate(hyper[i]));
  }
  if (typeof hyper !== 'object') throw new UsageError(`hyperparameters of '${name}' must be an array of ${policies.length} (one per policy) or an object keyed by policy name`);
  const byName = hyper as Record<string, unknown>;
  const unknown = Object.keys(byName).filter((k) => !policies.some((p) => p.name === k));
  if (unknown.length) throw new UsageError(`'${name}' has no part named ${unknown.join(', ')} (parts: ${policies.map((p) => p.name).join(', ')})`);
  return policies.map((p) => p.validate(byName[p.name]));
}
