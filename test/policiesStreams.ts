/**
 * Synthetic training streams for the policy tests: event builders, a runner over the real
 * adapter (`policySteps`), and a closed-loop "world" whose signals follow the knobs the policy
 * sets (a quadratic-like loss surface, per-example noise of a known scale, a linear step time).
 */
import { from, Subject } from 'rxjs';
import { applyUpdate, initialUpdate, policySteps, type AnyPolicy, type Knobs, type PolicyInput, type PolicyStep } from '../src/policy.js';
import type { EpochEvent, MetricSample, StepEvent } from '../src/stream/types.js';

export function stepEvent(step: number, over: Partial<StepEvent> = {}): StepEvent {
  return {
    step,
    epoch: 1,
    wallTime: step,
    batchSize: 64,
    learningRate: 0.1,
    loss: 1,
    gradNorm: 1,
    paramNorm: 10,
    updateNorm: 0.1,
    kappaWStep: null,
    gradDotPrevGrad: step === 0 ? null : 0.2,
    gradDotPrevUpdate: step === 0 ? null : -0.02,
    stepMs: 5,
    ...over,
  };
}

export function sampleEvent(step: number, group: string, values: Record<string, number | null>, over: Partial<MetricSample> = {}): MetricSample {
  const reasons: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v === null) reasons[k] = 'test: undefined here';
  return { step, epoch: 1, wallTime: step, batchSize: 64, learningRate: 0.1, group, values, reasons, durationMs: 1, ...over };
}

export function epochEvent(epoch: number, step: number, over: Partial<EpochEvent> = {}): EpochEvent {
  return { kind: 'epoch', wallTime: step, epoch, step, loss: 1, accuracy: 0.5, valLoss: 1, valAccuracy: 0.5, ...over };
}

/** Runs `events` through the real adapter, synchronously; one PolicyStep per event. */
export function runPolicy(policy: AnyPolicy, hyper: unknown, start: Knobs, events: readonly PolicyInput[], initial?: unknown): PolicyStep<unknown>[] {
  const out: PolicyStep<unknown>[] = [];
  from(events).pipe(policySteps(policy, hyper, start, initial)).subscribe((s) => out.push(s));
  return out;
}

/** The updates a run produced (nulls dropped), with the step of the event that caused each. */
export function updatesOf(steps: readonly PolicyStep<unknown>[], events: readonly PolicyInput[]): { step: number; kind: string; update: NonNullable<PolicyStep<unknown>['update']> }[] {
  return steps.flatMap((s, i) => (s.update ? [{ step: events[i].step, kind: 'group' in events[i] ? (events[i] as MetricSample).group : 'kind' in events[i] ? 'epoch' : 'step', update: s.update }] : []));
}

/** How the synthetic world answers, at step t with the knobs in force. */
export interface World {
  /** Steps per epoch. */
  epochSteps: number;
  /** A sample of every group every this many steps. */
  every: number;
  /** Every this many samples, all values are null. */
  nullEvery: number;
  /** tr Σ and ‖G‖² of the per-example gradients (B = their ratio). */
  traceSigma: number;
  gradSq: number;
}

export const WORLD: World = { epochSteps: 40, every: 5, nullEvery: 7, traceSigma: 500, gradSq: 0.5 };

/** The line-search step α*(t) of the synthetic surface: it shrinks as training sharpens. */
export function lineStep(t: number): number {
  return 0.4 * Math.exp(-t / 200) + 0.02;
}

/** The events of step t at knobs k (the step, then its samples, then maybe an epoch end). */
export function worldEvents(world: World, t: number, k: Knobs, prevLr: number): PolicyInput[] {
  const b = k.batchSize;
  const lr = k.learningRate;
  const loss = 0.3 + 2 * Math.exp(-t / 150);
  const events: PolicyInput[] = [
    stepEvent(t, {
      epoch: Math.floor(t / world.epochSteps) + 1,
      batchSize: b,
      learningRate: lr,
      loss,
      updateNorm: lr,
      gradDotPrevUpdate: t === 0 ? null : -0.2 * prevLr,
      stepMs: 2 + 0.05 * b,
    }),
  ];
  if (t % world.every === 0) {
    const blank = (t / world.every) % world.nullEvery === world.nullEvery - 1;
    const v = (x: number) => (blank ? null : x);
    const B = world.traceSigma / world.gradSq;
    const a = lineStep(t);
    const common = { epoch: Math.floor(t / world.epochSteps) + 1, batchSize: b, learningRate: lr };
    events.push(
      sampleEvent(t, 'update', { descentRatio: v(1 - lr / (2 * a)), cosSimWUpdate: v(Math.max(-1, 1 - lr / (4 * a))), localSmoothness: v(1 / a), kappaWUpdate: v(2) }, common),
      sampleEvent(
        t,
        'perExample',
        {
          traceSigma: v(world.traceSigma),
          gradSqEstimate: v(world.gradSq),
          noiseScale: v(B),
          coherence: v((1 + B / b) / (1 + B)),
          rankW: v((1 + B) / (b + B)),
          stableRankW: v((b * (1 + B)) / (b + B)),
        },
        common,
      ),
      sampleEvent(t, 'multiBatch', { confusion: v(0.2), diversity: v(0.3) }, common),
    );
  }
  if ((t + 1) % world.epochSteps === 0) {
    const e = (t + 1) / world.epochSteps;
    events.push(epochEvent(e, t + 1, { loss, accuracy: 0.9 - 0.3 / e, valLoss: Math.max(0.4, 1 / e), valAccuracy: Math.min(0.8, 0.9 - 0.3 / e) }));
  }
  return events;
}

/**
 * Runs `policy` in closed loop with the world for `steps` steps from `start` (or from a restored
 * `initial` state at step `from`, the previous step's rate `prevLr`): each step's events follow
 * the knobs the policy has set.
 */
export function simulate(policy: AnyPolicy, hyper: unknown, start: Knobs, steps: number, opts: { world?: World; from?: number; initial?: unknown; prevLr?: number } = {}): { events: PolicyInput[]; out: PolicyStep<unknown>[] } {
  const world = opts.world ?? WORLD;
  const subject = new Subject<PolicyInput>();
  const events: PolicyInput[] = [];
  const out: PolicyStep<unknown>[] = [];
  let knobs = opts.initial === undefined ? applyUpdate(start, initialUpdate(policy, hyper, start)) : start;
  subject.pipe(policySteps(policy, hyper, start, opts.initial)).subscribe((s) => {
    out.push(s);
    knobs = s.knobs;
  });
  let prevLr = opts.prevLr ?? knobs.learningRate;
  for (let t = opts.from ?? 0; t < (opts.from ?? 0) + steps; t++) {
    const lr = knobs.learningRate;
    for (const e of worldEvents(world, t, knobs, prevLr)) {
      events.push(e);
      subject.next(e);
    }
    prevLr = lr;
  }
  subject.complete();
  return { events, out };
}
