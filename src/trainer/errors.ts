/** Why a training run stopped badly. */
import type { RunSummary } from '../trace/summary.js';

/** The quantities of a step event whose non-finite value means divergence, with their names. */
export const DIVERGENCE_FIELDS = [
  ['loss', 'loss'],
  ['gradNorm', 'gradient norm'],
  ['paramNorm', 'parameter norm'],
  ['updateNorm', 'update norm'],
] as const;

/**
 * A step's loss, gradient norm, parameter norm or update norm was not finite: the run stopped
 * before writing any non-finite weight. `quantities` names every one that was not finite.
 */
export class TrainingDiverged extends Error {
  override name = 'TrainingDiverged';
  /** The run's summary, when the trainer had one to give. */
  summary: RunSummary | undefined;

  constructor(
    /** The step (0-based) whose numbers were not finite. */
    readonly step: number,
    /** Its epoch, 1-based. */
    readonly epoch: number,
    readonly learningRate: number,
    readonly quantities: readonly string[] = ['loss'],
  ) {
    super(`training diverged: non-finite ${quantities[0] ?? 'loss'} at step ${step} (epoch ${epoch}, learning rate ${learningRate}); try a smaller learning rate`);
  }
}
