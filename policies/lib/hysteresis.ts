/**
 * Hysteresis for feedback policies: act only after `patience` consecutive samples agree on a
 * direction, then hold for `cooldown` samples. Noisy sampled metrics would otherwise make the
 * knob chatter (the same reason ReduceLROnPlateau has patience and cooldown).
 */
export type Direction = -1 | 0 | 1;

export interface Streak {
  /** The direction the recent samples agreed on (0: none). */
  dir: Direction;
  /** How many consecutive samples asked for `dir`. */
  count: number;
  /** Samples left before the policy may act again. */
  cooldown: number;
}

export const NO_STREAK: Streak = { dir: 0, count: 0, cooldown: 0 };

/**
 * The streak after one more sample asking for `dir`. Samples during a cooldown only count the
 * cooldown down (as Keras holds its wait at 0 during a cooldown): a new streak starts after it.
 */
export function extendStreak(s: Streak, dir: Direction): Streak {
  if (s.cooldown > 0) return { dir: 0, count: 0, cooldown: s.cooldown - 1 };
  if (dir === 0) return NO_STREAK;
  return { dir, count: dir === s.dir ? s.count + 1 : 1, cooldown: 0 };
}

/** True when the streak has lasted `patience` samples and no cooldown is running. */
export function streakFires(s: Streak, patience: number): boolean {
  return s.dir !== 0 && s.count >= patience && s.cooldown === 0;
}

/** The streak after acting: counting starts again, and the cooldown runs. */
export function afterAction(cooldown: number): Streak {
  return { dir: 0, count: 0, cooldown };
}
