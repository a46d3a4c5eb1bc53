/**
 * Runs a policy beside the conditioned optimizer: the policy reads the optimizer's streams
 * (steps, metric samples, epoch ends) through the `policySteps` adapter, its learning-rate
 * changes are applied to the optimizer between steps, its batch-size changes are published for
 * the batch source, and every change is a `PolicyDecision`. The knobs live in the adapter's
 * output and nowhere else.
 */
import { type Observable, Subject, type Subscription, tap } from 'rxjs';
import { resolvePolicy } from '../../policies/index.js';
import { UsageError } from '../errors.js';
import { SAMPLED_GROUPS, type SampledGroup } from '../metrics/registry.js';
import { type AnyPolicy, type Knobs, type PolicyInput, applyUpdate, initialUpdate, isEpochInput, policySteps } from '../policy.js';
import type { PolicyDecision } from '../stream/types.js';
import type { PolicyChoice } from './options.js';

export class PolicyRunner {
  readonly name: string;
  /** The metric groups the policy reads (turned on and given the budget first). */
  readonly reads: SampledGroup[];
  readonly writesBatchSize: boolean;
  knobs: Knobs;
  state: unknown;
  private readonly policy: AnyPolicy;
  private readonly hyper: unknown;
  private readonly decisions = new Subject<PolicyDecision>();
  private source: Observable<PolicyInput> | null = null;
  private apply: ((lr: number) => void) | null = null;
  private sub: Subscription | null = null;
  /** The knobs the subscription starts from (before the opening update, which policySteps applies). */
  private start: Knobs;

  constructor(choice: PolicyChoice, start: Knobs) {
    const { name, options } = typeof choice === 'string' ? { name: choice, options: undefined } : choice;
    this.policy = resolvePolicy(name);
    this.hyper = this.policy.validate(options);
    this.name = this.policy.name;
    const reads = (this.policy as { reads?: readonly string[] }).reads ?? [];
    const unknown = reads.filter((g) => !(SAMPLED_GROUPS as readonly string[]).includes(g));
    if (unknown.length) throw new UsageError(`policy '${this.name}' reads unknown metric groups: ${unknown.join(', ')}`);
    this.reads = reads as SampledGroup[];
    this.writesBatchSize = this.policy.knobs.includes('batchSize');
    this.knobs = this.start = start;
    this.state = this.policy.init(this.hyper, start);
  }

  /** The knobs a fresh start opens with (e.g. a warm-up's first rate): the policy's opening update. */
  private opening(start: Knobs): Knobs {
    return applyUpdate(start, initialUpdate(this.policy, this.hyper, start));
  }

  get decisions$(): Observable<PolicyDecision> {
    return this.decisions.asObservable();
  }

  /** Subscribes the policy to `source`; learning-rate changes go to `apply`. */
  run(source: Observable<PolicyInput>, apply: (lr: number) => void): Subscription {
    this.source = source;
    this.apply = apply;
    this.open(this.start, undefined);
    this.subscribe(undefined);
    return { unsubscribe: () => this.sub?.unsubscribe() } as Subscription;
  }

  /** Starts over from `start` knobs (and a checkpointed state), before the first step. */
  restart(start: Knobs, state?: unknown): void {
    this.state = state ?? this.policy.init(this.hyper, start);
    this.open(start, state);
    if (this.source) this.subscribe(state);
  }

  /** Sets the knobs to start from: a fresh start takes the policy's opening update; a restored one its knobs as given. */
  private open(start: Knobs, state: unknown): void {
    this.start = start;
    this.knobs = state === undefined ? this.opening(start) : start;
    this.apply?.(this.knobs.learningRate);
  }

  complete(): void {
    this.sub?.unsubscribe();
    this.decisions.complete();
  }

  private subscribe(initial: unknown): void {
    this.sub?.unsubscribe();
    let last: PolicyInput | null = null;
    this.sub = this.source!.pipe(
      tap((e) => void (last = e)),
      policySteps(this.policy, this.hyper, this.start, initial),
    ).subscribe((s) => {
      this.state = s.state;
      const before = this.knobs;
      if (!s.update || (s.knobs.learningRate === before.learningRate && s.knobs.batchSize === before.batchSize)) return;
      this.knobs = s.knobs;
      if (s.knobs.learningRate !== before.learningRate) this.apply!(s.knobs.learningRate);
      const e = last!;
      // A decision takes effect after the last step done: an epoch end counts steps done, one more.
      const step = isEpochInput(e) ? Math.max(0, e.step - 1) : e.step;
      this.decisions.next({
        step, epoch: e.epoch ?? 0, wallTime: e.wallTime, policy: this.name,
        before: { ...before }, after: { ...s.knobs }, reason: s.update.reason ?? '',
      });
    });
  }
}
