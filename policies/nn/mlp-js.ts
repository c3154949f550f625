import type { Activation, MlpSpec } from './mlp.js';

/** MLP weights as plain arrays: w[i] is row-major in × out, as in tfjs. */
export interface MlpWeights {
  readonly spec: MlpSpec;
  readonly w: readonly Float32Array[];
  readonly b: readonly Float32Array[];
  readonly lnGain: readonly Float32Array[];
  readonly lnBias: readonly Float32Array[];
}

/**
 * Batch-1 forward pass on typed arrays, for per-tick inference on the actor side.
 *
 * Why not tfjs: a batch-1 forward is ~10 tiny kernels whose fixed launch overhead (~8 µs each
 * on wasm) dominates ~70k multiply-adds; this loop needs no kernel launches or tensor
 * allocations (shared/facts/tfjs-perf.md). The learner trains in tfjs; this reads its weights.
 * Equality with the tfjs forward pass is tested.
 */
export class MlpJs {
  private readonly buffers: Float32Array[];

  constructor(private weights: MlpWeights) {
    const sizes = [...weights.spec.hidden, weights.spec.output];
    this.buffers = sizes.map((n) => new Float32Array(n));
  }

  /** Swaps in new weights of the same spec (a newer parameter version). */
  setWeights(weights: MlpWeights): void {
    this.weights = weights;
  }

  /** Returns a view into an internal buffer, valid until the next call. */
  forward(x: Float32Array): Float32Array {
    const { spec, w, b, lnGain, lnBias } = this.weights;
    let input = x;
    let inDim = spec.input;
    const last = w.length - 1;
    for (let layer = 0; layer <= last; layer++) {
      const W = w[layer] as Float32Array;
      const out = this.buffers[layer] as Float32Array;
      const outDim = out.length;
      out.set(b[layer] as Float32Array);
      for (let i = 0; i < inDim; i++) {
        const xi = input[i] as number;
        if (xi === 0) continue;
        const row = i * outDim;
        for (let j = 0; j < outDim; j++) out[j] = (out[j] as number) + xi * (W[row + j] as number);
      }
      if (layer < last) {
        if (spec.layerNorm) layerNormInPlace(out, lnGain[layer] as Float32Array, lnBias[layer] as Float32Array);
        activateInPlace(out, spec.activation);
      }
      input = out;
      inDim = outDim;
    }
    return input;
  }
}

function layerNormInPlace(x: Float32Array, g: Float32Array, b: Float32Array): void {
  let mean = 0;
  for (let i = 0; i < x.length; i++) mean += x[i] as number;
  mean /= x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += ((x[i] as number) - mean) ** 2;
  const inv = 1 / Math.sqrt(v / x.length + 1e-5);
  for (let i = 0; i < x.length; i++) x[i] = ((x[i] as number) - mean) * inv * (g[i] as number) + (b[i] as number);
}

function activateInPlace(x: Float32Array, a: Activation): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    x[i] = a === 'relu' ? (v > 0 ? v : 0) : a === 'tanh' ? Math.tanh(v) : v > 0 ? v : Math.expm1(v);
  }
}
