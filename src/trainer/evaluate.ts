/** Loss and accuracy of a model on a data set: the validation pass at the end of each epoch. */
import { tf } from '../backend/tf.js';
import { batchTensors, type Dataset } from '../data/dataset.js';
import { perExampleLoss } from '../engine/losses.js';

/** Examples whose arg-max prediction is the arg-max target: a float32 scalar (exact below 2^24), caller disposes. */
export function countCorrect(y: tf.Tensor, p: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.equal(p.argMax(-1), y.argMax(-1)).toFloat().sum() as tf.Scalar);
}

/** Mean loss and accuracy of `model` on `data`, in batches, inference mode, no gradients. */
export function evaluate(model: tf.LayersModel, data: Dataset, lossName: string, batch = 256): { loss: number; accuracy: number } {
  const loss = perExampleLoss(lossName);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < data.size; start += batch) {
    const idx = Int32Array.from({ length: Math.min(batch, data.size - start) }, (_, i) => start + i);
    const { x, y } = batchTensors(data, idx);
    try {
      const [l, c] = tf.tidy(() => {
        const p = model.predict(x) as tf.Tensor;
        return tf.stack([loss(y, p).sum(), countCorrect(y, p)]).dataSync();
      });
      lossSum += l!;
      correct += c!;
    } finally {
      tf.dispose([x, y]);
    }
  }
  return { loss: lossSum / data.size, accuracy: correct / data.size };
}
