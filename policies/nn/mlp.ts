import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../../control/rng.js';
import { dense } from './dense.js';

export type Activation = 'relu' | 'tanh' | 'elu';

export interface MlpSpec {
  readonly input: number;
  readonly hidden: readonly number[];
  readonly output: number;
  /** LayerNorm after each hidden linear layer, before the activation (as SERL / RLPD). */
  readonly layerNorm: boolean;
  readonly activation: Activation;
}

/** Trainable parameters of one MLP. Hidden layer i: w[i] (in × out), b[i]; LayerNorm gain/bias. */
export interface Mlp {
  readonly spec: MlpSpec;
  readonly w: tf.Variable<tf.Rank.R2>[];
  readonly b: tf.Variable<tf.Rank.R1>[];
  readonly lnGain: tf.Variable<tf.Rank.R1>[];
  readonly lnBias: tf.Variable<tf.Rank.R1>[];
}

/**
 * Creates an MLP with PyTorch's default initialisation, W, b ~ U(±1/√fan_in), drawn from
 * `rng` (so a seeded run initialises identically); LayerNorm gain 1, bias 0.
 * `outputScale` shrinks the last layer (small initial outputs help squashed policies).
 */
export function createMlp(spec: MlpSpec, rng: Rng, name: string, outputScale = 1): Mlp {
  const sizes = [spec.input, ...spec.hidden, spec.output];
  const mlp: Mlp = { spec, w: [], b: [], lnGain: [], lnBias: [] };
  for (let i = 0; i + 1 < sizes.length; i++) {
    const fanIn = sizes[i] as number;
    const fanOut = sizes[i + 1] as number;
    const bound = (1 / Math.sqrt(fanIn)) * (i + 2 === sizes.length ? outputScale : 1);
    const w = Float32Array.from({ length: fanIn * fanOut }, () => rng.uniform(-bound, bound));
    const b = Float32Array.from({ length: fanOut }, () => rng.uniform(-bound, bound));
    mlp.w.push(tf.variable(tf.tensor2d(w, [fanIn, fanOut]), true, `${name}/w${i}`));
    mlp.b.push(tf.variable(tf.tensor1d(b), true, `${name}/b${i}`));
    if (spec.layerNorm && i + 2 < sizes.length) {
      mlp.lnGain.push(tf.variable(tf.ones([fanOut]), true, `${name}/ln${i}/g`));
      mlp.lnBias.push(tf.variable(tf.zeros([fanOut]), true, `${name}/ln${i}/b`));
    }
  }
  return mlp;
}

/** All trainable variables of an MLP, in a fixed order (for optimizers and checkpoints). */
export function mlpVariables(m: Mlp): tf.Variable[] {
  return [...m.w, ...m.b, ...m.lnGain, ...m.lnBias];
}

/** Forward pass: [batch, input] → [batch, output]. Call inside `tf.tidy`. */
export function mlpForward(m: Mlp, x: tf.Tensor2D): tf.Tensor2D {
  let h = x;
  const last = m.w.length - 1;
  for (let i = 0; i < last; i++) {
    h = dense(h, m.w[i] as tf.Tensor2D, m.b[i] as tf.Tensor1D);
    if (m.spec.layerNorm) h = layerNorm(h, m.lnGain[i] as tf.Tensor1D, m.lnBias[i] as tf.Tensor1D);
    h = activate(h, m.spec.activation);
  }
  return dense(h, m.w[last] as tf.Tensor2D, m.b[last] as tf.Tensor1D);
}

/** LayerNorm over the feature axis: (x − μ)/√(σ² + 1e-5)·g + b. */
export function layerNorm(x: tf.Tensor2D, gain: tf.Tensor1D, bias: tf.Tensor1D): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, 1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), gain), bias);
}

function activate(x: tf.Tensor2D, a: Activation): tf.Tensor2D {
  switch (a) {
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'elu':
      return tf.elu(x);
  }
}

/** Copies `src` into `dst` (same spec). */
export function copyMlp(dst: Mlp, src: Mlp): void {
  const d = mlpVariables(dst);
  mlpVariables(src).forEach((v, i) => (d[i] as tf.Variable).assign(v));
}

export function disposeMlp(m: Mlp): void {
  mlpVariables(m).forEach((v) => v.dispose());
}

/** A tfjs MLP holding copies of typed-array parameters (the autodiff reference in tests). */
export function mlpFromParams(p: { readonly spec: MlpSpec; readonly w: readonly Float32Array[]; readonly b: readonly Float32Array[]; readonly lnGain: readonly Float32Array[]; readonly lnBias: readonly Float32Array[] }, name: string): Mlp {
  const sizes = [p.spec.input, ...p.spec.hidden, p.spec.output];
  return {
    spec: p.spec,
    w: p.w.map((w, i) => tf.variable(tf.tensor2d(w, [sizes[i] as number, sizes[i + 1] as number]), true, `${name}/w${i}`)),
    b: p.b.map((b, i) => tf.variable(tf.tensor1d(b), true, `${name}/b${i}`)),
    lnGain: p.lnGain.map((g, i) => tf.variable(tf.tensor1d(g), true, `${name}/ln${i}/g`)),
    lnBias: p.lnBias.map((b, i) => tf.variable(tf.tensor1d(b), true, `${name}/ln${i}/b`)),
  };
}
