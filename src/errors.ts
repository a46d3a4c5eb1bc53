/**
 * Named errors carrying what went wrong. The CLI turns a `UsageError` into one line on stderr
 * and exit code 2; anything else is a bug and keeps its stack.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A metric or engine request the model cannot answer (e.g. BatchNormalization per-example). */
export class UnsupportedError extends Error {
  override name = 'UnsupportedError';
}

/**
 * A training step whose loss, gradient or update is not finite. The conditioned optimizer undoes
 * the step (the weights stay those before it) and throws this, so that no later step, checkpoint
 * or saved model holds a non-finite weight (as Keras' TerminateOnNaN, but the step is refused).
 */
export class NonFiniteStep extends Error {
  override name = 'NonFiniteStep';
  constructor(
    readonly step: number,
    /** Which quantity was not finite: 'loss', 'gradient' or 'update'. */
    readonly quantity: 'loss' | 'gradient' | 'update',
    readonly learningRate: number,
  ) {
    super(`training diverged: non-finite ${quantity} at step ${step} (learning rate ${learningRate}); the step was not applied — try a smaller learning rate`);
  }
}
