/**
 * The free per-step numbers of the conditioned optimizer, from tensors the step already has:
 * the loss, ‖h̄_t‖, ‖θ_t‖, ‖Δ_t‖, ‖h̄_t − h̄_{t−1}‖ (for kappaWStep) and ⟨h̄_t, Δ_{t−1}⟩, read back
 * in one transfer. The step's gradients and update are kept until the next step (the previous
 * step's are needed for the differences, the current one's by the `update` metric group).
 */
import { tf } from '../backend/tf.js';
import type { StepSamples } from '../metrics/stepConsistency.js';
import type { StepEvent } from '../stream/types.js';

interface Kept {
  /** h̄_t, one tensor per variable. */
  grads: tf.Tensor[];
  /** Δ_t = θ_{t+1} − θ_t, one tensor per variable. */
  update: tf.Tensor[];
  gradNormSq: number;
  paramNorm: number;
  updateNorm: number;
}

export type StepNumbers = Pick<StepEvent, 'loss' | 'gradNorm' | 'paramNorm' | 'updateNorm' | 'kappaWStep' | 'gradDotPrevGrad' | 'gradDotPrevUpdate'>;

export interface Measured {
  event: StepNumbers;
  /** The `step` group's sample (two consecutive steps), when there was a previous step. */
  step: StepSamples | null;
  /** The first quantity that was not finite, if any. */
  nonFinite: 'loss' | 'gradient' | 'update' | null;
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

export class StepStats {
  private prev: Kept | null = null;

  /** This step's gradients and update (after `measure`), for the `update` group. */
  get kept(): Pick<Kept, 'grads' | 'update'> | null {
    return this.prev;
  }

  measure(value: tf.Scalar, grads: tf.Tensor[], vars: tf.Variable[], before: tf.Tensor[]): Measured {
    const prev = this.prev;
    const update = tf.tidy(() => vars.map((v, i) => tf.keep(v.sub(before[i]))));
    const [loss, gradNormSq, paramNormSq, updateNormSq, diffNormSq, dotPrevUpdate] = tf.tidy(() => {
      const sumSq = (ts: tf.Tensor[]) => tf.addN(ts.map((t) => t.square().sum()));
      const dot = (as: tf.Tensor[], bs: tf.Tensor[]) => tf.addN(as.map((t, i) => t.mul(bs[i]).sum()));
      // ‖a − b‖² with one fused elementwise kernel per variable (no cancellation).
      const distSq = (as: tf.Tensor[], bs: tf.Tensor[]) => tf.addN(as.map((t, i) => tf.squaredDifference(t, bs[i]).sum()));
      const none = () => tf.scalar(Number.NaN);
      return tf.stack([
        value,
        sumSq(grads),
        sumSq(before),
        sumSq(update),
        prev ? distSq(grads, prev.grads) : none(),
        prev ? dot(grads, prev.update) : none(),
      ]).dataSync();
    });
    const nonFinite = !Number.isFinite(loss) ? 'loss' : !Number.isFinite(gradNormSq) ? 'gradient' : !Number.isFinite(updateNormSq) ? 'update' : null;
    const now: Kept = { grads: grads.map((g) => tf.keep(g)), update, gradNormSq, paramNorm: Math.sqrt(paramNormSq), updateNorm: Math.sqrt(updateNormSq) };
    // ⟨h̄_t, h̄_{t−1}⟩ = (‖h̄_t‖² + ‖h̄_{t−1}‖² − ‖h̄_t − h̄_{t−1}‖²) / 2, in float64.
    const dotPrevGrad = prev ? (gradNormSq + prev.gradNormSq - diffNormSq) / 2 : Number.NaN;
    const step: StepSamples | null = prev
      ? { gradDiffNorm: Math.sqrt(diffNormSq), gradNorm: Math.sqrt(prev.gradNormSq), thetaNorm: prev.paramNorm, stepNorm: prev.updateNorm }
      : null;
    if (nonFinite) {
      tf.dispose([...now.grads, ...now.update]); // the step is undone: the previous one stays the last
    } else {
      if (prev) tf.dispose([...prev.grads, ...prev.update]);
      this.prev = now;
    }
    return {
      event: {
        loss: finite(loss),
        gradNorm: finite(Math.sqrt(gradNormSq)),
        paramNorm: finite(now.paramNorm),
        updateNorm: finite(now.updateNorm),
        kappaWStep: null,
        gradDotPrevGrad: prev ? finite(dotPrevGrad) : null,
        gradDotPrevUpdate: prev ? finite(dotPrevUpdate) : null,
      },
      step,
      nonFinite,
    };
  }

  /**
   * A step whose per-step numbers are not measured (`stepMetrics` > 1): the loss only, read with
   * no reduction. The chain of consecutive steps breaks, so the next measured step has no
   * kappaWStep unless it follows a measured one.
   */
  lossOnly(value: tf.Scalar): Measured {
    const loss = value.dataSync()[0]!;
    this.dispose();
    const none = { gradNorm: null, paramNorm: null, updateNorm: null, kappaWStep: null, gradDotPrevGrad: null, gradDotPrevUpdate: null };
    return { event: { loss: finite(loss), ...none }, step: null, nonFinite: Number.isFinite(loss) ? null : 'loss' };
  }

  dispose(): void {
    if (this.prev) tf.dispose([...this.prev.grads, ...this.prev.update]);
    this.prev = null;
  }
}
