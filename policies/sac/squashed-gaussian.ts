import * as tf from '@tensorflow/tfjs-core';

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Maps an unbounded head output to log σ ∈ [min, max] smoothly (as CleanRL). */
export function boundLogStd(raw: tf.Tensor2D, min: number, max: number): tf.Tensor2D {
  return tf.add(min, tf.mul(0.5 * (max - min), tf.add(tf.tanh(raw), 1)));
}

/**
 * Reparameterised sample of a tanh-squashed diagonal Gaussian and its log-density
 * (Haarnoja et al. 2018, appendix C):
 *   u = μ + σ·ε,  a = tanh(u),
 *   log π(a|s) = Σᵢ [log N(uᵢ; μᵢ, σᵢ) − log(1 − tanh²uᵢ)],
 * with log(1 − tanh²u) = 2·(log 2 − u − softplus(−2u)) for numerical stability.
 * `eps` ~ N(0, I) comes from the caller's seeded RNG.
 */
export function squashedSample(mean: tf.Tensor2D, logStd: tf.Tensor2D, eps: tf.Tensor2D): { action: tf.Tensor2D; logProb: tf.Tensor1D } {
  const u = tf.add(mean, tf.mul(tf.exp(logStd), eps));
  const gaussian = tf.sum(tf.sub(tf.neg(tf.add(tf.mul(0.5, tf.square(eps)), logStd)), HALF_LOG_2PI), 1);
  const logDetJacobian = tf.sum(tf.mul(2, tf.sub(tf.sub(Math.LN2, u), tf.softplus(tf.mul(-2, u)))), 1);
  return { action: tf.tanh(u) as tf.Tensor2D, logProb: tf.sub(gaussian, logDetJacobian) as tf.Tensor1D };
}

/** The same log-density in plain float64 JS, for one action (tests, debugging). */
export function squashedLogProbReference(mean: readonly number[], logStd: readonly number[], u: readonly number[]): number {
  let lp = 0;
  for (let i = 0; i < mean.length; i++) {
    const s = Math.exp(logStd[i] as number);
    const z = ((u[i] as number) - (mean[i] as number)) / s;
    const a = Math.tanh(u[i] as number);
    lp += -0.5 * z * z - Math.log(s) - HALF_LOG_2PI - Math.log(1 - a * a);
  }
  return lp;
}
