import * as tf from '@tensorflow/tfjs-core';

/**
 * y = x·W + b with a hand-written gradient that transposes explicitly:
 *   dx = dy · transpose(W),  dW = transpose(x) · dy,  db = Σ_batch dy.
 * tfjs's own matMul gradient calls matMul with transposeA/transposeB, which the wasm backend
 * runs ~15–20× slower than a plain matMul (shared/facts/tfjs-perf.md: 24 ms vs 1.3 ms at 256³);
 * an explicit transpose costs ~0.1 ms. Gradients are checked against tfjs's in the tests.
 */
const denseGrad = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy as tf.Tensor2D), tf.sum(dy, 0)];
    },
  };
}) as Parameters<typeof tf.customGrad>[0]);

export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return denseGrad(x, w, b) as tf.Tensor2D;
}
