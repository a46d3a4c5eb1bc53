/**
 * The `update` group (step-consistency along the update, on the step's own batch): h̄⁺ and L⁺ at
 * θ_{t+1} from one extra forward + backward pass; h̄ and L at θ_t from the step itself when they
 * are what the engine would compute (inference mode, same loss), else recomputed at θ_t =
 * θ_{t+1} − Δ (a second pass). Vectors are reduced on the host in float64. Under a mask every
 * vector is masked except in descentRatio's ⟨h̄, Δ⟩, the prediction of a loss change that no
 * mask can restrict.
 */
import { tf } from '../../backend/tf.js';
import { UnsupportedError } from '../../errors.js';
import { gramFromVectors } from '../../metrics/gram.js';
import type { UpdateSamples } from '../../metrics/stepConsistencyUpdate.js';
import { batchGradient } from '../batchGradient.js';
import { distance, norm, readback } from '../hostMath.js';
import { flatConcat, flatParams, withPerturbedWeights } from '../params.js';
import type { SharedWork } from './shared.js';

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function sampleUpdate(w: SharedWork): UpdateSamples {
  const step = w.opts.step;
  if (!step) throw new UnsupportedError("needs the optimizer's step (h̄_t, L_t, Δ_t): measured by the conditioned optimizer during training");
  const { model, loss, training } = w.ctx;
  const after = w.batchGradient();
  const delta = flatConcat(step.update);
  const minusDelta = tf.tidy(() => delta.neg() as tf.Tensor1D);
  const before = step.reusable
    ? { grad: flatConcat(step.grads), loss: step.loss }
    : withPerturbedWeights(model, minusDelta, () => batchGradient(model, loss, w.x, w.y, training));
  const thetaNext = flatParams(model);
  const thetaNow = tf.tidy(() => thetaNext.sub(delta) as tf.Tensor1D);
  const [h, hPlus, d, theta] = [before.grad, after.grad, delta, thetaNow].map((v) => w.host(v));
  // The loss change is never masked, so neither is its first-order prediction ⟨h̄, Δ⟩.
  const gradDotUpdate = w.ctx.mask ? dot(readback(() => before.grad), readback(() => delta)) : dot(h, d);
  tf.dispose([before.grad, delta, minusDelta, thetaNext, thetaNow]);
  return {
    gram: gramFromVectors([h, hPlus]),
    gradDiffNorm: distance(hPlus, h),
    thetaNorm: norm(theta),
    updateNorm: norm(d),
    gradDotUpdate,
    lossBefore: before.loss,
    lossAfter: after.loss,
  };
}
