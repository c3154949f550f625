import type { Rng } from '../../control/rng.js';

/**
 * The stream-x network (Elsayed et al. 2024): Linear → LayerNorm without learnable parameters →
 * LeakyReLU(0.01), for each hidden layer, then a linear head. Parameters, gradients and traces
 * are float64 arrays laid out layer by layer as [W (in × out, row-major), b].
 *
 * Why typed arrays rather than tfjs: one update is a batch-1 forward and backward of a 2×128
 * network (~0.1 MFLOP); in tfjs that is ~150 kernel launches whose fixed overhead dominates
 * (measured: ~2.9 ms p50, 12 ms p99 on wasm; shared/facts/tfjs-perf.md), far over a 1 kHz
 * control tick. Forward and gradients are tested against tfjs autodiff.
 */
/** Options every stream-x learner takes (defaults: the paper's one set for all tasks). */
export interface StreamLearnerOptions {
  readonly hidden?: readonly number[];
  /** Default 0.99. */
  readonly gamma?: number;
  /** Trace decay. Default 0.8. */
  readonly lambda?: number;
  /** ObGD step size α. Default 1. */
  readonly lr?: number;
  /** Fraction of inputs zeroed per unit at initialisation. Default 0.9. */
  readonly sparsity?: number;
}

export interface StreamNetSpec {
  readonly input: number;
  readonly hidden: readonly number[];
  readonly output: number;
}

interface Layer {
  readonly inDim: number;
  readonly outDim: number;
  /** Offset of W in the parameter array; b follows at wOffset + inDim·outDim. */
  readonly wOffset: number;
  readonly bOffset: number;
}

const LEAK = 0.01;
const LN_EPS = 1e-5;

export class StreamNet {
  readonly params: Float64Array;
  readonly size: number;
  private readonly layers: Layer[];
  /** Per layer: input x, normalised pre-activation x̂, 1/σ, output after activation. */
  private readonly inputs: Float64Array[];
  private readonly xhat: Float64Array[];
  private readonly invStd: number[];
  private readonly out: Float64Array;
  private readonly dBuffers: Float64Array[];

  constructor(readonly spec: StreamNetSpec) {
    const sizes = [spec.input, ...spec.hidden, spec.output];
    let offset = 0;
    this.layers = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      const inDim = sizes[i] as number;
      const outDim = sizes[i + 1] as number;
      this.layers.push({ inDim, outDim, wOffset: offset, bOffset: offset + inDim * outDim });
      offset += inDim * outDim + outDim;
    }
    this.size = offset;
    this.params = new Float64Array(offset);
    this.inputs = sizes.slice(0, -1).map((n) => new Float64Array(n));
    this.xhat = spec.hidden.map((n) => new Float64Array(n));
    this.invStd = spec.hidden.map(() => 1);
    this.out = new Float64Array(spec.output);
    this.dBuffers = sizes.map((n) => new Float64Array(n));
  }

  /**
   * Sparse initialisation (stream-x): W ~ U(±1/√fan_in), then for each output unit
   * ceil(sparsity·fan_in) of its inputs, chosen at random, are zeroed; biases 0.
   */
  sparseInit(rng: Rng, sparsity = 0.9): void {
    this.params.fill(0);
    for (const l of this.layers) {
      const bound = 1 / Math.sqrt(l.inDim);
      const zeros = Math.ceil(sparsity * l.inDim);
      const order = Array.from({ length: l.inDim }, (_, i) => i);
      for (let j = 0; j < l.outDim; j++) {
        for (let i = 0; i < l.inDim; i++) this.params[l.wOffset + i * l.outDim + j] = rng.uniform(-bound, bound);
        rng.shuffle(order);
        for (let k = 0; k < zeros; k++) this.params[l.wOffset + (order[k] as number) * l.outDim + j] = 0;
      }
    }
  }

  /** Forward pass; returns a view of the output valid until the next call. Caches what backward needs. */
  forward(x: ArrayLike<number>): Float64Array {
    const p = this.params;
    (this.inputs[0] as Float64Array).set(x as ArrayLike<number>);
    const last = this.layers.length - 1;
    for (let k = 0; k <= last; k++) {
      const l = this.layers[k] as Layer;
      const input = this.inputs[k] as Float64Array;
      const z = k === last ? this.out : (this.xhat[k] as Float64Array);
      linearForward(p, l, input, z);
      if (k === last) break;
      // LayerNorm without parameters, in place: z → x̂; then LeakyReLU into the next input.
      let mean = 0;
      for (let j = 0; j < l.outDim; j++) mean += z[j] as number;
      mean /= l.outDim;
      let v = 0;
      for (let j = 0; j < l.outDim; j++) v += ((z[j] as number) - mean) ** 2;
      const inv = 1 / Math.sqrt(v / l.outDim + LN_EPS);
      this.invStd[k] = inv;
      const next = this.inputs[k + 1] as Float64Array;
      for (let j = 0; j < l.outDim; j++) {
        const h = ((z[j] as number) - mean) * inv;
        z[j] = h;
        next[j] = h > 0 ? h : LEAK * h;
      }
    }
    return this.out;
  }

  /**
   * Gradient of the scalar Σⱼ dOut[j]·out[j] with respect to all parameters, written into
   * `grad` (same layout as `params`), for the input of the last {@link forward} call.
   */
  backward(dOut: ArrayLike<number>, grad: Float64Array): void {
    this.backwardAccumulate(dOut, grad, 0);
  }

  /**
   * The same gradient g, accumulated into an eligibility trace in the same pass:
   * trace ← decay·trace + g. Returns ‖trace‖₁ (what ObGD's bound needs). One pass over the
   * parameters instead of three (gradient, trace update, norm): this is the hot loop of every
   * streaming update. With decay = 0 it is the plain gradient ({@link backward}).
   */
  backwardAccumulate(dOut: ArrayLike<number>, trace: Float64Array, decay: number): number {
    const p = this.params;
    const last = this.layers.length - 1;
    let norm = 0;
    let dy = this.dBuffers[last + 1] as Float64Array;
    dy.set(dOut as ArrayLike<number>);
    for (let k = last; k >= 0; k--) {
      const l = this.layers[k] as Layer;
      const input = this.inputs[k] as Float64Array;
      const dx = this.dBuffers[k] as Float64Array;
      const outDim = l.outDim;
      // Linear: dW = x ⊗ dy, db = dy, dx = W·dy. Two input rows per pass share the loads of dy
      // (measured ~25% faster than one row per pass).
      for (let j = 0; j < outDim; j++) {
        const e = decay * (trace[l.bOffset + j] as number) + (dy[j] as number);
        trace[l.bOffset + j] = e;
        norm += Math.abs(e);
      }
      const needDx = k > 0;
      let i = 0;
      for (; i + 1 < l.inDim; i += 2) {
        const x0 = input[i] as number;
        const x1 = input[i + 1] as number;
        const r0 = l.wOffset + i * outDim;
        const r1 = r0 + outDim;
        let s0 = 0;
        let s1 = 0;
        for (let j = 0; j < outDim; j++) {
          const d = dy[j] as number;
          const e0 = decay * (trace[r0 + j] as number) + x0 * d;
          const e1 = decay * (trace[r1 + j] as number) + x1 * d;
          trace[r0 + j] = e0;
          trace[r1 + j] = e1;
          norm += Math.abs(e0) + Math.abs(e1);
          s0 += (p[r0 + j] as number) * d;
          s1 += (p[r1 + j] as number) * d;
        }
        if (needDx) {
          dx[i] = s0;
          dx[i + 1] = s1;
        }
      }
      for (; i < l.inDim; i++) {
        const xi = input[i] as number;
        const row = l.wOffset + i * outDim;
        let s = 0;
        for (let j = 0; j < outDim; j++) {
          const d = dy[j] as number;
          const e = decay * (trace[row + j] as number) + xi * d;
          trace[row + j] = e;
          norm += Math.abs(e);
          s += (p[row + j] as number) * d;
        }
        if (needDx) dx[i] = s;
      }
      if (k === 0) break;
      // Through LeakyReLU then LayerNorm of the previous layer:
      // dz = (1/σ)·(dx̂ − mean(dx̂) − x̂·mean(dx̂⊙x̂)).
      const xhat = this.xhat[k - 1] as Float64Array;
      const n = xhat.length;
      let meanD = 0;
      let meanDX = 0;
      for (let j = 0; j < n; j++) {
        const h = xhat[j] as number;
        const d = (dx[j] as number) * (h > 0 ? 1 : LEAK);
        dx[j] = d;
        meanD += d;
        meanDX += d * h;
      }
      meanD /= n;
      meanDX /= n;
      const inv = this.invStd[k - 1] as number;
      for (let j = 0; j < n; j++) dx[j] = inv * ((dx[j] as number) - meanD - (xhat[j] as number) * meanDX);
      dy = dx;
    }
    return norm;
  }
}

/**
 * z = b + xᵀ·W for W row-major [in, out]. Four input rows per pass over z: each multiply-add
 * otherwise loads and stores z[j], and that traffic, not the arithmetic, bounds this loop in JS
 * (measured ~2× faster than one row per pass).
 */
function linearForward(p: Float64Array, l: Layer, x: Float64Array, z: Float64Array): void {
  const outDim = l.outDim;
  for (let j = 0; j < outDim; j++) z[j] = p[l.bOffset + j] as number;
  let i = 0;
  for (; i + 3 < l.inDim; i += 4) {
    const x0 = x[i] as number;
    const x1 = x[i + 1] as number;
    const x2 = x[i + 2] as number;
    const x3 = x[i + 3] as number;
    const r0 = l.wOffset + i * outDim;
    const r1 = r0 + outDim;
    const r2 = r1 + outDim;
    const r3 = r2 + outDim;
    for (let j = 0; j < outDim; j++) {
      z[j] = (z[j] as number) + x0 * (p[r0 + j] as number) + x1 * (p[r1 + j] as number) + x2 * (p[r2 + j] as number) + x3 * (p[r3 + j] as number);
    }
  }
  for (; i < l.inDim; i++) {
    const xi = x[i] as number;
    const row = l.wOffset + i * outDim;
    for (let j = 0; j < outDim; j++) z[j] = (z[j] as number) + xi * (p[row + j] as number);
  }
}
