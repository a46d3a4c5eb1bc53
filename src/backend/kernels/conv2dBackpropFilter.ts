/**
 * Conv2DBackpropFilter as ONE ordinary conv2d ("batch and channels swapped").
 *
 * With x padded as tfjs pads it (xp), the filter gradient is
 *   dW[i, j, c, o] = sum_{n, p, q} xp[n, p*sh + i*dh, q*sw + j*dw, c] * dy[n, p, q, o].
 * Read xp transposed to [cin, H, W, batch] as the conv input and dy transposed to
 * [oh, ow, batch, cout] as the conv filter: this is a conv2d whose *dilation* is the forward
 * stride (sh, sw) and whose *stride* is the forward dilation (dh, dw). Its output
 * [cin, fh, fw, cout] transposed to [fh, fw, cin, cout] is dW.
 *
 * tfjs's conv2d refuses dilation > 1 together with stride > 1; when the forward conv had both
 * (only reachable through a direct `runKernel` with a `dilations` attr, since tfjs's Conv2D
 * gradient requires dilation 1) we run the conv with stride 1 and keep every dh-th / dw-th
 * output row / column, which is exact.
 */
import { tf } from '../tf.js';
import { type Pad, asTensor, toNHWCPad, padCropAxis, takeEvery } from './util.js';


export interface Conv2DBackpropFilterArgs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
  /** Not part of tfjs's Conv2DBackpropFilterAttrs; honoured when present. */
  dilations?: [number, number] | number;
}

/** dW for NHWC `x` [n,h,w,cin] and `dy` [n,oh,ow,cout]; returns [fh,fw,cin,cout]. */
export function conv2dBackpropFilterNHWC(x: tf.Tensor4D, dy: tf.Tensor4D, a: Conv2DBackpropFilterArgs): tf.Tensor4D {
  return tf.tidy(() => {
    const info = tf.backend_util.computeConv2DInfo(
      x.shape, a.filterShape, a.strides, a.dilations ?? 1, a.pad as never, a.dimRoundingMode, false, 'channelsLast');
    const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
    const [fh, fw, cin, cout] = a.filterShape;
    const oh = dy.shape[1];
    const ow = dy.shape[2];
    if (oh !== info.outHeight || ow !== info.outWidth || dy.shape[3] !== cout || x.shape[3] !== cin || dy.shape[0] !== x.shape[0]) {
      throw new Error(`conv2dBackpropFilter override: dy shape ${dy.shape} does not match x ${x.shape}, filter ${a.filterShape} ` +
        `(expected dy [${x.shape[0]},${info.outHeight},${info.outWidth},${cout}])`);
    }
    if (oh === 0 || ow === 0 || x.shape[0] === 0) return tf.zeros(a.filterShape) as tf.Tensor4D;
    // Rows/cols of the padded input that the forward conv actually read.
    const needH = (fh - 1) * dh + 1 + (oh - 1) * sh;
    const needW = (fw - 1) * dw + 1 + (ow - 1) * sw;
    let xp = padCropAxis(x, 1, info.padInfo.top, needH);
    xp = padCropAxis(xp, 2, info.padInfo.left, needW);
    const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [cin, needH, needW, n]
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [oh, ow, n, cout]
    // A filter of extent 1 along an axis makes the dilation there irrelevant.
    const cdh = oh === 1 ? 1 : sh;
    const cdw = ow === 1 ? 1 : sw;
    let out: tf.Tensor4D;
    if (cdh === 1 && cdw === 1) {
      // Plain strided conv: the stride is the forward dilation.
      out = tf.conv2d(xT, dyT, [dh, dw], 'valid', 'NHWC', [1, 1]);
    } else if (dh === 1 && dw === 1) {
      out = tf.conv2d(xT, dyT, [1, 1], 'valid', 'NHWC', [cdh, cdw]);
    } else {
      const full = tf.conv2d(xT, dyT, [1, 1], 'valid', 'NHWC', [cdh, cdw]);
      out = takeEvery(takeEvery(full, 1, dh, fh), 2, dw, fw) as tf.Tensor4D;
    }
    // out: [cin, fh, fw, cout] -> [fh, fw, cin, cout]
    return tf.transpose(out, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

export const conv2dBackpropFilterKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const a = attrs as unknown as Conv2DBackpropFilterArgs;
  return tf.tidy(() => {
    let x = asTensor(inputs['x']!) as tf.Tensor4D;
    let dy = asTensor(inputs['dy']!) as tf.Tensor4D;
    let args = a;
    if (a.dataFormat === 'NCHW') {
      x = tf.transpose(x, [0, 2, 3, 1]);
      dy = tf.transpose(dy, [0, 2, 3, 1]);
      args = { ...a, dataFormat: 'NHWC', pad: toNHWCPad(a.pad) };
    }
    if (x.dtype !== 'float32') x = tf.cast(x, 'float32');
    if (dy.dtype !== 'float32') dy = tf.cast(dy, 'float32');
    return conv2dBackpropFilterNHWC(x, dy, args);
  });
};

export function conv2dBackpropFilterConfig(backendName: string): tf.KernelConfig {
  return { kernelName: tf.Conv2DBackpropFilter, backendName, kernelFunc: conv2dBackpropFilterKernel };
}
