/**
 * Policies: pure reducers over plain numbers that turn the training stream (step events and
 * metric samples) into learning-rate and batch-size changes (see STYLE.md, "What this
 * suggests"). A policy never sees a tensor, an optimizer or a model:
 *
 *     const [update, next] = policy.update(event, state, hyper, knobs);
 *
 * `policyStage` makes any policy an RxJS stage (built on `scan`); `guardUpdate` is the one
 * place that refuses non-finite or non-positive knob values; `composePolicies` runs several
 * policies as one, refusing two that write the same knob.
 *
 * Policy state must be plain JSON (numbers, strings, arrays, objects, null): the trainer
 * writes it into checkpoints and restores it on resume.
 */
import { filter, map, pipe, scan, type OperatorFunction } from 'rxjs';
import { UsageError } from './errors.js';
import { logger } from './log.js';
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
  /** Why, for logs and traces. */
  reason?: string;
}

/** What a policy sees: every step event, metric sample and end of epoch, in stream order. */
export type PolicyInput = StepEvent | MetricSample | EpochEvent;

export interface Policy<S = unknown, H = unknown> {
  name: string;
  /** The knobs this policy writes; updates to any other knob are dropped. */
  knobs: readonly (keyof Knobs)[];
  /** The initial state, from the validated hyperparameters and the knobs at the start. */
  init(hyper: H, start: Knobs): S;
  /** One event in, maybe an update out, and the next state. Pure: must not mutate `state`. */
  update(event: PolicyInput, state: S, hyper: H, knobs: Knobs): [PolicyUpdate | null, S];
  /** Checks raw hyperparameters (from JSON, the CLI…); throws a UsageError listing bad fields. */
  validate(hyper: unknown): H;
}

/** A policy of any state and hyperparameter types (what registries hold). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPolicy = Policy<any, any>;

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

/** The adapter's accumulator: everything a policy stage knows after an event. */
export interface PolicyStep<S> {
  /** The guarded update this event produced, or null. */
  update: PolicyUpdate | null;
  /** The policy's state after the event (JSON; checkpointed by the trainer). */
  state: S;
  /** The knobs as the policy's updates have left them. */
  knobs: Knobs;
}

/**
 * The full reducer output per event: guarded update, state and knobs. `initial` restores a
 * saved state instead of `policy.init` (resume). The trainer uses this to checkpoint state.
 */
export function policySteps<S, H>(policy: Policy<S, H>, hyper: H, start: Knobs, initial?: S): OperatorFunction<PolicyInput, PolicyStep<S>> {
  return (source) => {
    // Per subscription: init runs when the stream is subscribed, not when the stage is built.
    const seed: PolicyStep<S> = { update: null, state: initial !== undefined ? initial : policy.init(hyper, start), knobs: start };
    return source.pipe(
      scan((acc: PolicyStep<S>, event: PolicyInput): PolicyStep<S> => {
        const [raw, state] = policy.update(event, acc.state, hyper, acc.knobs);
        const update = guardUpdate(raw, policy, event.step);
        return { update, state, knobs: applyUpdate(acc.knobs, update) };
      }, seed),
    );
  };
}

/**
 * Any policy as a stream stage: a merged stream of step events and metric samples in, the
 * guarded updates out (events that change nothing emit nothing).
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

/**
 * Several policies as one: name 'a+b', state and hyperparameters are arrays (one entry per
 * policy, in order). Every policy sees every event and the same knobs; their updates merge
 * (reasons joined by '; '). Two policies declaring the same knob is a UsageError.
 */
export function composePolicies(policies: readonly AnyPolicy[]): Policy<unknown[], unknown[]> {
  if (policies.length === 0) throw new UsageError('composePolicies needs at least one policy');
  const owner = new Map<keyof Knobs, string>();
  for (const p of policies) {
    for (const k of p.knobs) {
      const other = owner.get(k);
      if (other !== undefined) throw new UsageError(`policies '${other}' and '${p.name}' both write ${k}: compose policies that write different knobs`);
      owner.set(k, p.name);
    }
  }
  return {
    name: policies.map((p) => p.name).join('+'),
    knobs: policies.flatMap((p) => p.knobs),
    init: (hyper, start) => policies.map((p, i) => p.init(hyper[i], start)),
    update(event, state, hyper, knobs) {
      const next: unknown[] = [];
      let merged: PolicyUpdate | null = null;
      const reasons: string[] = [];
      policies.forEach((p, i) => {
        const [u, s] = p.update(event, state[i], hyper[i], knobs);
        next.push(s);
        // Each part is guarded on its own, so that one policy cannot write another's knob.
        const g = guardUpdate(u, p, event.step);
        if (g === null) return;
        const { reason, ...values } = g;
        merged = { ...(merged ?? {}), ...values };
        if (reason !== undefined) reasons.push(reason);
      });
      if (merged !== null && reasons.length) (merged as PolicyUpdate).reason = reasons.join('; ');
      return [merged, next];
    },
    validate(hyper) {
      if (hyper === undefined) return policies.map((p) => p.validate(undefined));
      if (!Array.isArray(hyper) || hyper.length !== policies.length) {
        throw new UsageError(`hyperparameters of '${policies.map((p) => p.name).join('+')}' must be an array of ${policies.length} (one per policy)`);
      }
      return policies.map((p, i) => p.validate(hyper[i]));
    },
  };
}

/** Hand check helper for `validate`: a plain object (or undefined → {}) with only `allowed` keys. */
export function hyperObject(policy: string, hyper: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (hyper === undefined || hyper === null) return {};
  if (typeof hyper !== 'object' || Array.isArray(hyper)) throw new UsageError(`policy '${policy}': hyperparameters must be an object`);
  const unknown = Object.keys(hyper).filter((k) => !allowed.includes(k));
  if (unknown.length) {
    throw new UsageError(`policy '${policy}': unknown hyperparameter(s) ${unknown.join(', ')}${allowed.length ? ` (known: ${allowed.join(', ')})` : ' (it takes none)'}`);
  }
  return hyper as Record<string, unknown>;
}
