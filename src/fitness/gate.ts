/**
 * The trainability gate: a network that is dead at initialisation — no example's loss depends on
 * its input, or the loss does not depend on the weights at all — cannot be told apart by its
 * other metrics (they are undefined or meaningless), and SGD can only revive it by luck. Such a
 * candidate ranks below every live one.
 *
 * The thesis proposed a gate on `rankX` instead (section 4.2.1: "a few networks managed to
 * converge meaningfully when measuring [rankX] > .15 at initialization, but most failed to do
 * so"). On gradcond's validation set that threshold rejects most of the networks that trained
 * best (their rankX at initialisation is 0.2–0.3 on 28×28 images in batches of 32), so it is not
 * used; the validation experiment reports how it fares (docs/fitness.md).
 */
import type { FitnessMetric, FitnessMetrics } from './metrics.js';

/** What the gate reads, whatever the rule's terms: the input gradients' rank (about one training step). */
export const GATE_METRICS: readonly FitnessMetric[] = ['rankX'];

/**
 * The metrics' own reasons that mean "dead": the stable rank of the input gradients when every
 * column is zero (`rankX`), and a zero batch gradient (confusion, kappaW).
 */
const ZERO_INPUT_GRADIENTS = 'all columns are zero';
const ZERO_BATCH_GRADIENT = 'zero batch gradient';

/** Why the candidate is dead at initialisation, or null when it is alive. */
export function deadReason(metrics: FitnessMetrics): string | null {
  if (metrics.rankX?.value === null && metrics.rankX.reason === ZERO_INPUT_GRADIENTS) return 'dead at initialisation: every input gradient of the batch is zero';
  for (const [name, m] of Object.entries(metrics)) {
    if (m?.value === null && m.reason.startsWith(ZERO_BATCH_GRADIENT)) return `dead at initialisation: ${name} found a ${m.reason}`;
  }
  return null;
}

/** The thesis' proposed gate (see the module comment): passes when rankX ≤ 0.15. */
export const THESIS_RANK_X_LIMIT = 0.15;
