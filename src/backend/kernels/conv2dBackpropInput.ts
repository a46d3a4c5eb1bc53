/**
 * Conv2DBackpropInput as ONE ordinary stride-1 conv2d: dx = conv2d(pad(dilate(dy)), W'), where
 * W' is the filter flipped spatially with its in/out channels swapped ([fh,fw,cout,cin]), dy is
 * dilated by the forward stride (zeros inserted between rows/columns; nothing to do for stride 1)
 * and padded by (f - 1 - padBefore) in front, then padded/cropped to exactly in + f - 1.
 */
import { tf } from '../tf.js';
import { type Pad, asTensor, toNHWCPad, dilateAxis, padCropAxis } from './util.js';


export interface Conv2DBackpropInputArgs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/** dx for NHWC dy [n,oh,ow,cout] and filter [fh,fw,cin,cout]; returns inputShape (NHWC). */
export function conv2dBackpropInputNHWC(dy: tf.Tensor4D, filter: tf.Tensor4D, a: Conv2DBackpropInputArgs): tf.Tensor4D {
  return tf.tidy(() => {
    const info = tf.backend_util.computeConv2DInfo(
      a.inputShape, filter.shape, a.strides, 1, a.pad as never, a.dimRoundingMode, false, 'channelsLast');
    const [n, h, w, cin] = a.inputShape;
    const [fh, fw, fcin, cout] = filter.shape;
    if (dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth || dy.shape[3] !== cout || fcin !== cin || dy.shape[0] !== n) {
      throw new Error(`conv2dBackpropInput override: dy shape ${dy.shape} does not match input ${a.inputShape}, filter ${filter.shape}`);
    }
    let d: tf.Tensor = dilateAxis(dy, 1, info.strideHeight);
    d = dilateAxis(d, 2, info.strideWidth);
    d = padCropAxis(d, 1, fh - 1 - info.padInfo.top, h + fh - 1);
    d = padCropAxis(d, 2, fw - 1 - info.padInfo.left, w + fw - 1);
    const wT = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D; // [fh,fw,cout,cin]
    return tf.conv2d(d as tf.Tensor4D, wT, 1, 'valid');
  });
}

export const conv2dBackpropInputKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const a = attrs as unknown as Conv2DBackpropInputArgs;
  return tf.tidy(() => {
    let dy = asTensor(inputs['dy']!) as tf.Tensor4D;
    let filter = asTensor(inputs['filter']!) as tf.Tensor4D;
    if (dy.dtype !== 'float32') dy = tf.cast(dy, 'float32');
    if (filter.dtype !== 'float32') filter = tf.cast(filter, 'float32');
    if (a.dataFormat === 'NCHW') {
      const [n, c, h, w] = a.inputShape;
      const dx = conv2dBackpropInputNHWC(tf.transpose(dy, [0, 2, 3, 1]), filter,
        { ...a, dataFormat: 'NHWC', pad: toNHWCPad(a.pad), inputShape: [n, h, w, c] });
      return tf.transpose(dx, [0, 3, 1, 2]);
    }
    return conv2dBackpropInputNHWC(dy, filter, a);
  });
};

export function conv2dBackpropInputConfig(backendName: string): tf.KernelConfig {
  return { kernelName: tf.Conv2DBackpropInput, backendName, kernelFunc: conv2dBackpropInputKernel };
}
