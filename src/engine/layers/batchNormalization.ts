/**
 * BatchNormalization in inference mode: a per-channel affine map z = γ·x̂ + β of the input
 * normalised by the moving statistics, x̂ = (a − μ)/√(σ² + ε). With δ = ∂ℓ_i/∂z the per-example
 * gradients are ∂ℓ_i/∂γ = Σ_positions δ·x̂ and ∂ℓ_i/∂β = Σ_positions δ. (In training mode the batch
 * statistics couple the examples and no per-example gradient exists: the engine refuses it
 * before any rule runs.)
 */
import { tf } from '../../backend/tf.js';
import { materializedBlock } from './block.js';
import { type LayerRule, exampleShape, unsupported, variableField } from './rule.js';

interface BatchNormFields {
  axis: number;
  epsilon: number;
}

export const batchNormalizationRule: LayerRule = {
  kind: 'batchNormalization',
  classNames: ['BatchNormalization'],
  bind({ layer, outputShape }) {
    const { axis: rawAxis, epsilon } = layer as unknown as BatchNormFields;
    const gamma = variableField(layer, 'gamma');
    const beta = variableField(layer, 'beta');
    const mean = variableField(layer, 'movingMean');
    const variance = variableField(layer, 'movingVariance');
    const out = exampleShape(outputShape);
    if (!mean || !variance) return unsupported(`layer ${layer.name}: BatchNormalization without moving statistics`);
    if (!out) return unsupported(`layer ${layer.name}: output shape ${JSON.stringify(outputShape)} is not fully known`);
    if (typeof rawAxis !== 'number') return unsupported(`layer ${layer.name}: BatchNormalization over several axes has no batched rule`);
    const rank = out.length + 1;
    const axis = rawAxis < 0 ? rawAxis + rank : rawAxis;
    const channels = out[axis - 1]!;
    const broadcast = Array.from({ length: rank }, (_, i) => (i === axis ? channels : 1));
    const sumAxes = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== 0 && i !== axis);
    const perChannel = (t: tf.Tensor) => t.reshape(broadcast);
    const variables = [gamma, beta].filter((v): v is tf.LayerVariable => v !== null);
    return {
      variables,
      probeShapes: [out],
      forward(input, [probe]) {
        const xhat = input.sub(perChannel(mean.read())).mul(perChannel(variance.read()).add(epsilon).rsqrt());
        let z = gamma ? xhat.mul(perChannel(gamma.read())) : xhat;
        if (beta) z = z.add(perChannel(beta.read()));
        return { output: z.add(probe!), saved: [xhat] };
      },
      block([xhat], [delta]) {
        const b = delta!.shape[0];
        const sum = (t: tf.Tensor) => (sumAxes.length ? t.sum(sumAxes) : t).reshape([b, channels]);
        return materializedBlock({
          kind: 'batchNormalization', layer: layer.name, b, size: variables.length * channels, owned: [xhat!, delta!],
          make: () => {
            const parts = [...(gamma ? [sum(delta!.mul(xhat!))] : []), ...(beta ? [sum(delta!)] : [])];
            return tf.concat(parts, 1) as tf.Tensor2D;
          },
        });
      },
    };
  },
};
