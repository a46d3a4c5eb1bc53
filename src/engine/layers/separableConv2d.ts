/**
 * SeparableConv2D (channels last): u = depthwise(a, Wd), z = pointwise(u, Wp) + c. Two probes, on
 * u and on z, give both output-gradients; then the depthwise kernel's per-example gradients are
 * one depthwise convolution (convGrads.ts) and the 1×1 pointwise kernel's are
 * dWp_n = Σ_p u_n[p] ⊗ δ_n[p], one batched product. Formed on first use.
 */
import { tf } from '../../backend/tf.js';
import { materializedBlock } from './block.js';
import { biasGrads, bindConvolution, depthwiseKernelGrads } from './convGrads.js';
import { type LayerRule, activationOf, dilationUnsupported, isUnsupported, missingKernel, sizeOf, unsupported, variableField } from './rule.js';

/** Σ_p u_n[p] ⊗ δ_n[p] for u [b, h, w, C] and δ [b, h, w, F]: [b, C·F]. */
function pointwiseKernelGrads(u: tf.Tensor4D, delta: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, h, w, c] = u.shape;
    const f = delta.shape[3];
    const perPosition = (t: tf.Tensor4D, ch: number) => t.reshape([b, h * w, ch]) as tf.Tensor3D;
    return tf.matMul(perPosition(u, c), perPosition(delta, f), true, false).reshape([b, c * f]);
  });
}

export const separableConv2dRule: LayerRule = {
  kind: 'separableConv2d',
  classNames: ['SeparableConv2D'],
  bind({ layer, outputShape }) {
    const depthwise = variableField(layer, 'depthwiseKernel');
    const pointwise = variableField(layer, 'pointwiseKernel');
    if (!depthwise || !pointwise) return unsupported(`layer ${layer.name}: SeparableConv2D without its kernels`);
    const bound = bindConvolution(layer, outputShape, depthwise);
    if (isUnsupported(bound)) return bound;
    const { bias, out, geometry } = bound;
    const middle = [out[0]!, out[1]!, depthwise.shape[2]! * depthwise.shape[3]!];
    const noGradient = dilationUnsupported(layer, geometry.dilations) ?? missingKernel(layer, 'DepthwiseConv2dNativeBackpropInput');
    if (noGradient) return noGradient;
    const act = activationOf(layer);
    return {
      variables: bias ? [depthwise, pointwise, bias] : [depthwise, pointwise],
      probeShapes: [middle, out],
      forward(input, [probeU, probeZ]) {
        const { strides, padding, dilations } = geometry;
        const u = tf.depthwiseConv2d(input as tf.Tensor4D, depthwise.read() as tf.Tensor4D, strides, padding, 'NHWC', dilations).add(probeU!) as tf.Tensor4D;
        let z: tf.Tensor = tf.conv2d(u, pointwise.read() as tf.Tensor4D, 1, 'valid');
        if (bias) z = z.add(bias.read());
        return { output: act(z.add(probeZ!)), saved: [input, u] };
      },
      block([a, u], [deltaU, deltaZ]) {
        const [x, ux, du, dz] = [a, u, deltaU, deltaZ] as tf.Tensor4D[];
        return materializedBlock({
          kind: 'separableConv2d', layer: layer.name, b: x!.shape[0], size: sizeOf(depthwise) + sizeOf(pointwise) + sizeOf(bias),
          owned: [x!, ux!, du!, dz!],
          make: () => {
            const parts = [depthwiseKernelGrads(x!, du!, geometry), pointwiseKernelGrads(ux!, dz!)];
            return tf.concat(bias ? [...parts, biasGrads(dz!)] : parts, 1) as tf.Tensor2D;
          },
        });
      },
    };
  },
};
