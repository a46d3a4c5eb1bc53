/**
 * `plateau`: Keras' ReduceLROnPlateau, decision for decision (keras-team/keras,
 * keras/src/callbacks/reduce_lr_on_plateau.py). At every epoch end it reads the monitored value;
 * an improvement (below best − minDelta in 'min' mode, above best + minDelta in 'max' mode)
 * becomes the new best and resets the wait. Otherwise, outside a cooldown, the wait grows, and
 * when it reaches `patience` the rate becomes max(lr · factor, minLr) — only if lr > minLr (as a
 * float32, as Keras compares) — the cooldown starts and the wait resets. During a cooldown each
 * epoch end counts the cooldown down and holds the wait at 0. Mode 'auto' is 'max' for a
 * monitor containing "acc", 'min' otherwise.
 *
 * One difference by design: a missing value (null: no validation data for val_*) is ignored
 * like Keras ignores it, and the policy says once that it is waiting for it.
 *
 * Defaults: Keras' own (val_loss, factor 0.1, patience 10, minDelta 1e-4, cooldown 0, minLr 0).
 * For runs of a few epochs lower the patience (1–2): with 10, such a run never reduces.
 */
import { z } from 'zod';
import { definePolicy, isEpochInput } from '../src/policy.js';
import type { EpochEvent } from '../src/stream/types.js';
import { fmt } from './lib/signals.js';

const MONITORS = {
  val_loss: 'valLoss',
  loss: 'loss',
  val_accuracy: 'valAccuracy',
  accuracy: 'accuracy',
} as const satisfies Record<string, keyof EpochEvent>;

const options = z.strictObject({
  monitor: z.enum(['val_loss', 'loss', 'val_accuracy', 'accuracy']).default('val_loss').describe('the epoch-end quantity to watch'),
  factor: z.number().gt(0).lt(1).default(0.1).describe('new_lr = lr · factor (Keras refuses factor ≥ 1)'),
  patience: z.int().min(0).default(10).describe('epochs with no improvement before the rate is reduced'),
  minDelta: z.number().min(0).default(1e-4).describe('an improvement must beat the best by more than this'),
  mode: z.enum(['auto', 'min', 'max']).default('auto').describe("'min': lower is better; 'max': higher; 'auto': from the monitor's name"),
  cooldown: z.int().min(0).default(0).describe('epochs to wait after a reduction before counting again'),
  minLr: z.number().min(0).default(0).describe('lower bound on the learning rate'),
});

type PlateauOptions = z.output<typeof options>;

export interface PlateauState {
  /** The best value so far; null before the first (Keras' ±∞). */
  best: number | null;
  wait: number;
  cooldownCounter: number;
  /** Epoch ends with a value, and without one. */
  seen: number;
  missing: number;
}

/** 'min' or 'max', resolving 'auto' as Keras does. */
export function plateauMode(h: PlateauOptions): 'min' | 'max' {
  return h.mode === 'min' || (h.mode === 'auto' && !h.monitor.includes('acc')) ? 'min' : 'max';
}

function improves(h: PlateauOptions, current: number, best: number | null): boolean {
  if (best === null) return true;
  return plateauMode(h) === 'min' ? current < best - h.minDelta : current > best + h.minDelta;
}

export const plateau = definePolicy({
  name: 'plateau',
  description: "Keras' ReduceLROnPlateau: multiply the rate by `factor` after `patience` epochs without improvement.",
  source: 'Keras ReduceLROnPlateau (keras/src/callbacks/reduce_lr_on_plateau.py)',
  knobs: ['learningRate'],
  reads: [],
  options,
  init: (): PlateauState => ({ best: null, wait: 0, cooldownCounter: 0, seen: 0, missing: 0 }),
  update(event, state, h, knobs) {
    if (!isEpochInput(event)) return [null, state];
    const current = event[MONITORS[h.monitor]];
    if (typeof current !== 'number' || !Number.isFinite(current)) return [null, { ...state, missing: state.missing + 1 }];
    let s: PlateauState = { ...state, seen: state.seen + 1 };
    if (s.cooldownCounter > 0) s = { ...s, cooldownCounter: s.cooldownCounter - 1, wait: 0 };
    if (improves(h, current, s.best)) return [null, { ...s, best: current, wait: 0 }];
    if (s.cooldownCounter > 0) return [null, s];
    s = { ...s, wait: s.wait + 1 };
    if (s.wait < h.patience || !(knobs.learningRate > Math.fround(h.minLr))) return [null, s];
    const lr = Math.max(knobs.learningRate * h.factor, h.minLr);
    const after = { ...s, cooldownCounter: h.cooldown, wait: 0 };
    if (lr === knobs.learningRate) return [null, after]; // Keras re-sets the same rate: no change to report
    const reason = `${h.monitor} ${fmt(current)} no better than ${fmt(s.best!)} for ${s.wait} epochs: lr ${fmt(knobs.learningRate)} → ${fmt(lr)}`;
    return [{ learningRate: lr, reason }, after];
  },
  waitingFor: (state, h) =>
    state.seen === 0 && state.missing > 0 ? `${h.monitor} was missing at ${state.missing} epoch end(s)${h.monitor.startsWith('val') ? ' (is there validation data?)' : ''}` : null,
});
