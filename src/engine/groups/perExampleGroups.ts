/**
 * The groups read off the one batched per-example pass: `perExample` (the Gram matrix of the
 * h_i), `inputGradient` (the Gram matrix of the g_i) and `inputPerturbation` (kappaX: more
 * per-example passes at inputs moved along input-gradient directions).
 */
import { tf } from '../../backend/tf.js';
import type { InputGradientSamples, KappaXSamples, PerExampleSamples } from '../../metrics/batchDissonance.js';
import { norm, readback, toGram } from '../hostMath.js';
import { parameterCount } from '../params.js';
import { diffNormsSq, disposePass, gram, inputGradientRows, inputGram, normsSq, perExamplePass } from '../perExample.js';
import type { SharedWork } from './shared.js';

export function samplePerExample(w: SharedWork): PerExampleSamples {
  const pass = w.pass();
  const g = gram(pass, w.ctx.mask);
  const sample = { gram: toGram(pass.b, g.dataSync()), dim: w.ctx.mask ? w.ctx.mask.indices.length : parameterCount(w.ctx.model) };
  g.dispose();
  return sample;
}

export function sampleInputGradient(w: SharedWork): InputGradientSamples {
  const pass = w.pass();
  const dim = w.x.size / w.b;
  const g = readback(() => inputGram(pass)); // tiled above 1,024 examples: memory stays bounded
  return { gram: toGram(pass.b, g), dim };
}

/**
 * kappaX: directions δ_k = ±η g_k/‖g_k‖ from the first `n` examples' input gradients, each added
 * to every example, one batched per-example pass per direction.
 */
export function sampleInputPerturbation(w: SharedWork): KappaXSamples {
  const { ctx, x, y } = w;
  const pass = w.pass();
  const b = pass.b;
  const inputNorms = Array.from(readback(() => x.reshape([b, -1]).square().sum(1).sqrt()));
  const gradNorms = Array.from(readback(() => normsSq(pass, ctx.mask).sqrt()));
  const diffNorms: number[][] = [];
  const deltaNorms: number[] = [];
  for (let k = 0; k < Math.min(w.opts.inputDirections, b); k++) {
    const gk = tf.tidy(() => inputGradientRows(pass).slice(k, 1).reshape([1, ...x.shape.slice(1)]));
    const gNorm = norm(gk.dataSync());
    for (const sign of [1, -1]) {
      if (!(gNorm > 0)) {
        deltaNorms.push(0); // skipped: a zero input gradient gives no direction
        diffNorms.push(new Array(b).fill(0));
        continue;
      }
      const xk = tf.tidy(() => x.add(gk.mul((sign * ctx.eta) / gNorm)));
      const perturbed = perExamplePass(ctx.model, ctx.loss, xk, y, { training: ctx.training, inputGradients: false });
      diffNorms.push(Array.from(readback(() => diffNormsSq(pass, perturbed, ctx.mask).sqrt())));
      deltaNorms.push(ctx.eta);
      disposePass(perturbed);
      xk.dispose();
    }
    gk.dispose();
  }
  return { diffNorms, gradNorms, inputNorms, deltaNorms };
}
