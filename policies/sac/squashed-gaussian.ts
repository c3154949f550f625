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

/** softplus(x) = log(1 + eˣ), without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** The buffers {@link squashedSampleInto} writes, batch × actDim (logProb: batch). */
export interface SquashedSample {
  readonly logStd: Float32Array;
  /** u = μ + σ·ε before the squashing. */
  readonly u: Float32Array;
  readonly action: Float32Array;
  readonly logProb: Float32Array;
}

/**
 * {@link squashedSample} on typed arrays, from the actor's head `out` (batch × 2A: μ, then the
 * raw log σ that {@link boundLogStd} maps into [min, max]). Same maths, float64 inside a row.
 */
export function squashedSampleInto(out: Float32Array, eps: Float32Array, batch: number, actDim: number, logStdMin: number, logStdMax: number, into: SquashedSample): void {
  const A = actDim;
  const half = 0.5 * (logStdMax - logStdMin);
  for (let r = 0; r < batch; r++) {
    let lp = 0;
    for (let i = 0; i < A; i++) {
      const k = r * A + i;
      const mean = out[r * 2 * A + i] as number;
      const logStd = logStdMin + half * (Math.tanh(out[r * 2 * A + A + i] as number) + 1);
      const e = eps[k] as number;
      const u = mean + Math.exp(logStd) * e;
      into.logStd[k] = logStd;
      into.u[k] = u;
      into.action[k] = Math.tanh(u);
      lp += -(0.5 * e * e + logStd) - HALF_LOG_2PI - 2 * (Math.LN2 - u - softplus(-2 * u));
    }
    into.logProb[r] = lp;
  }
}
