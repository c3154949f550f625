import * as tf from '@tensorflow/tfjs-core';
import type { Mlp } from './mlp.js';

/** What the forward pass keeps for the backward pass, per hidden layer. */
interface LayerCache {
  /** Input to the layer's linear map. */
  readonly x: tf.Tensor2D;
  /** LayerNorm's normalised pre-activation x̂ and 1/σ (LayerNorm nets only). */
  readonly xhat?: tf.Tensor2D;
  readonly invStd?: tf.Tensor2D;
  /** The activation's output. */
  readonly h: tf.Tensor2D;
}

export interface MlpTape {
  readonly layers: LayerCache[];
  /** Input to the output layer. */
  readonly last: tf.Tensor2D;
}

/**
 * Forward pass that keeps what {@link mlpBackward} needs. Same function as `mlpForward`
 * (tested), but hidden layers without LayerNorm use one fused matMul+bias+activation kernel.
 * Call inside `tf.tidy`.
 */
export function mlpForwardTape(m: Mlp, input: tf.Tensor2D): { out: tf.Tensor2D; tape: MlpTape } {
  const layers: LayerCache[] = [];
  let x = input;
  const lastIndex = m.w.length - 1;
  for (let i = 0; i < lastIndex; i++) {
    const w = m.w[i] as tf.Tensor2D;
    const b = m.b[i] as tf.Tensor1D;
    if (!m.spec.layerNorm && m.spec.activation !== 'elu') {
      const h = tf.fused.matMul({ a: x, b: w, bias: b, activation: m.spec.activation === 'relu' ? 'relu' : undefined }) as tf.Tensor2D;
      const out: tf.Tensor2D = m.spec.activation === 'tanh' ? tf.tanh(h) : h;
      layers.push({ x, h: out });
      x = out;
      continue;
    }
    let z = tf.fused.matMul({ a: x, b: w, bias: b }) as tf.Tensor2D;
    let xhat: tf.Tensor2D | undefined;
    let invStd: tf.Tensor2D | undefined;
    if (m.spec.layerNorm) {
      const { mean, variance } = tf.moments(z, 1, true);
      invStd = tf.rsqrt(tf.add(variance, 1e-5)) as tf.Tensor2D;
      xhat = tf.mul(tf.sub(z, mean), invStd) as tf.Tensor2D;
      z = tf.add(tf.mul(xhat, m.lnGain[i] as tf.Tensor1D), m.lnBias[i] as tf.Tensor1D) as tf.Tensor2D;
    }
    const h: tf.Tensor2D = m.spec.activation === 'relu' ? tf.relu(z) : m.spec.activation === 'tanh' ? tf.tanh(z) : tf.elu(z);
    layers.push({ x, xhat, invStd, h });
    x = h;
  }
  const out = tf.fused.matMul({ a: x, b: m.w[lastIndex] as tf.Tensor2D, bias: m.b[lastIndex] as tf.Tensor1D }) as tf.Tensor2D;
  return { out, tape: { layers, last: x } };
}

/**
 * Backpropagates dL/d(out) through the MLP by hand (no autodiff tape), with explicit transposes
 * (wasm runs transposed matMuls ~15× slower). Returns parameter gradients in `mlpVariables`
 * order (w…, b…, lnGain…, lnBias…) when `params` is set, and dL/d(input) when `input` is set.
 *
 *   linear  y = x·W + b:   dW = xᵀ·dy,  db = Σ_batch dy,  dx = dy·Wᵀ
 *   relu:   dz = dy ⊙ [h > 0];  tanh: dz = dy ⊙ (1 − h²);  elu: dz = dy ⊙ (h > 0 ? 1 : h + 1)
 *   LayerNorm y = x̂·g + β:  dg = Σ dy⊙x̂,  dβ = Σ dy,  dz = (1/σ)·(dx̂ − mean(dx̂) − x̂·mean(dx̂⊙x̂)), dx̂ = dy⊙g
 */
export function mlpBackward(m: Mlp, tape: MlpTape, dOut: tf.Tensor2D, want: { params: boolean; input: boolean }): { grads: tf.Tensor[]; dInput: tf.Tensor2D | null } {
  const n = m.w.length;
  const dW: tf.Tensor[] = new Array(n);
  const dB: tf.Tensor[] = new Array(n);
  const dG: tf.Tensor[] = [];
  const dBeta: tf.Tensor[] = [];
  let dy = dOut;
  const lastIndex = n - 1;
  // Bias gradients as ones[1, B]·dy: on wasm a reduction over the batch axis of a [256, 256]
  // tensor takes ~0.25 ms, the equivalent matMul ~0.04 ms.
  const ones = want.params ? tf.ones([1, dOut.shape[0]]) as tf.Tensor2D : null;
  const batchSum = (t: tf.Tensor2D): tf.Tensor => tf.reshape(tf.matMul(ones as tf.Tensor2D, t), [-1]);
  if (want.params) {
    dW[lastIndex] = tf.matMul(tf.transpose(tape.last), dy);
    dB[lastIndex] = batchSum(dy);
  }
  let dh: tf.Tensor2D = tf.matMul(dy, tf.transpose(m.w[lastIndex] as tf.Tensor2D));
  for (let i = lastIndex - 1; i >= 0; i--) {
    const c = tape.layers[i] as LayerCache;
    let dz: tf.Tensor2D = activationGrad(dh, c.h, m.spec.activation);
    if (m.spec.layerNorm) {
      const xhat = c.xhat as tf.Tensor2D;
      if (want.params) {
        dG[i] = batchSum(tf.mul(dz, xhat) as tf.Tensor2D);
        dBeta[i] = batchSum(dz);
      }
      const dxhat = tf.mul(dz, m.lnGain[i] as tf.Tensor1D);
      const meanD = tf.mean(dxhat, 1, true);
      const meanDX = tf.mean(tf.mul(dxhat, xhat), 1, true);
      dz = tf.mul(c.invStd as tf.Tensor2D, tf.sub(tf.sub(dxhat, meanD), tf.mul(xhat, meanDX))) as tf.Tensor2D;
    }
    dy = dz as tf.Tensor2D;
    if (want.params) {
      dW[i] = tf.matMul(tf.transpose(c.x), dy);
      dB[i] = batchSum(dy);
    }
    if (i > 0 || want.input) dh = tf.matMul(dy, tf.transpose(m.w[i] as tf.Tensor2D));
  }
  return { grads: want.params ? [...dW, ...dB, ...dG, ...dBeta] : [], dInput: want.input ? dh : null };
}

function activationGrad(dh: tf.Tensor2D, h: tf.Tensor2D, a: Mlp['spec']['activation']): tf.Tensor2D {
  switch (a) {
    case 'relu':
      return tf.mul(dh, tf.step(h)) as tf.Tensor2D;
    case 'tanh':
      return tf.mul(dh, tf.sub(1, tf.square(h))) as tf.Tensor2D;
    case 'elu':
      return tf.mul(dh, tf.where(tf.greater(h, 0), tf.onesLike(h), tf.add(h, 1))) as tf.Tensor2D;
  }
}
