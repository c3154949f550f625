import type { Rng } from '../../control/rng.js';
import type { Kernels } from '../kernels/kernels.js';
import type { MlpSpec } from './mlp.js';
import type { MlpWeights } from './mlp-js.js';
import { tanhInPlace } from './fast-tanh.js';
import { type LayerNormState, type SimdElementwise, simdElementwise, simdFits } from './simd.js';

/**
 * One MLP's parameters as Float32Arrays: the authoritative copy, updated in place by Adam and
 * Polyak averaging. w[i] is row-major in × out (as tfjs and the checkpoints store it).
 */
export type MlpParams = MlpWeights;

/**
 * Creates parameters with PyTorch's default initialisation, W, b ~ U(±1/√fan_in), drawn from
 * `rng` in the same order as the tfjs `createMlp` (so a seeded run initialises identically);
 * LayerNorm gain 1, bias 0. `outputScale` shrinks the last layer.
 */
export function createMlpParams(spec: MlpSpec, rng: Rng, outputScale = 1): MlpParams {
  const sizes = [spec.input, ...spec.hidden, spec.output];
  const w: Float32Array[] = [];
  const b: Float32Array[] = [];
  const lnGain: Float32Array[] = [];
  const lnBias: Float32Array[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const fanIn = sizes[i] as number;
    const fanOut = sizes[i + 1] as number;
    const bound = (1 / Math.sqrt(fanIn)) * (i + 2 === sizes.length ? outputScale : 1);
    w.push(Float32Array.from({ length: fanIn * fanOut }, () => rng.uniform(-bound, bound)));
    b.push(Float32Array.from({ length: fanOut }, () => rng.uniform(-bound, bound)));
    if (spec.layerNorm && i + 2 < sizes.length) {
      lnGain.push(new Float32Array(fanOut).fill(1));
      lnBias.push(new Float32Array(fanOut));
    }
  }
  return { spec, w, b, lnGain, lnBias };
}

/** Every parameter array in the fixed order w…, b…, lnGain…, lnBias… (optimizers, checkpoints). */
export function paramList(p: MlpParams): Float32Array[] {
  return [...p.w, ...p.b, ...p.lnGain, ...p.lnBias];
}

/** The shapes of {@link paramList}'s arrays, with the names checkpoints give them. */
export function paramShapes(spec: MlpSpec, name: string): { name: string; shape: number[] }[] {
  const sizes = [spec.input, ...spec.hidden, spec.output];
  const layers = sizes.length - 1;
  const out: { name: string; shape: number[] }[] = [];
  for (let i = 0; i < layers; i++) out.push({ name: `${name}/w${i}`, shape: [sizes[i] as number, sizes[i + 1] as number] });
  for (let i = 0; i < layers; i++) out.push({ name: `${name}/b${i}`, shape: [sizes[i + 1] as number] });
  if (spec.layerNorm) {
    for (let i = 0; i + 1 < layers; i++) out.push({ name: `${name}/ln${i}/g`, shape: [sizes[i + 1] as number] });
    for (let i = 0; i + 1 < layers; i++) out.push({ name: `${name}/ln${i}/b`, shape: [sizes[i + 1] as number] });
  }
  return out;
}

/** A deep copy (fresh arrays). */
export function cloneParams(p: MlpParams): MlpParams {
  const copy = (a: readonly Float32Array[]): Float32Array[] => a.map((x) => Float32Array.from(x));
  return { spec: p.spec, w: copy(p.w), b: copy(p.b), lnGain: copy(p.lnGain), lnBias: copy(p.lnBias) };
}

/** Overwrites `dst` with `src` (same spec). */
export function copyParams(dst: MlpParams, src: MlpParams): void {
  const s = paramList(src);
  paramList(dst).forEach((d, i) => d.set(s[i] as Float32Array));
}

/**
 * The buffers of one MLP's forward and backward pass at one batch size, preallocated: an update
 * allocates no buffers (the SIMD path makes a few typed-array views per layer to copy through). Every matrix product goes through {@link Kernels} (BLAS or tfjs); bias,
 * activation and LayerNorm run fused in WebAssembly SIMD around them (policies/nn/simd.ts), or
 * as the typed-array loops below where SIMD is off or a layer's width is not a multiple of 4.
 *
 *   forward, hidden layer i:  z = x·Wᵢ + bᵢ  [→ LayerNorm: x̂ = (z − μ)/σ, z = x̂·g + β]  → h = act(z)
 *   backward:  dW = xᵀ·dz (gemm transA),  db = Σ_batch dz,  dx = dz·Wᵀ (gemm transB)
 *   relu: dz = dh ⊙ [h > 0];  tanh: dz = dh ⊙ (1 − h²);  elu: dz = dh ⊙ (h > 0 ? 1 : h + 1)
 *   LayerNorm:  dg = Σ dŷ⊙x̂,  dβ = Σ dŷ,  dz = (1/σ)·(dx̂ − mean(dx̂) − x̂·mean(dx̂⊙x̂)), dx̂ = dŷ⊙g
 *
 * Tested against tfjs autodiff. The forward pass keeps a reference to its input: it must stay
 * unchanged until {@link backward} has run.
 */
export class MlpPass {
  /** Output of the last forward pass, batch × output. */
  readonly out: Float32Array;
  /** Parameter gradients of the last backward pass, in {@link paramList} order. */
  readonly grads: Float32Array[];
  /** dL/d(input) of the last backward pass with `input: true`, batch × input. */
  readonly dInput: Float32Array;
  private readonly h: Float32Array[];
  private readonly xhat: Float32Array[];
  private readonly invStd: Float64Array[];
  private readonly dh: Float32Array[];
  private readonly sizes: number[];
  private input: Float32Array | null = null;
  private params: MlpParams | null = null;
  /** SIMD kernels for the hidden layers that fit them (null: JS loops), and their LayerNorm views. */
  private readonly simd: SimdElementwise | null;
  private readonly simdLayer: boolean[];
  /** Where each hidden layer's elementwise work runs. */
  readonly elementwise: readonly ('simd' | 'js')[];
  private readonly lnState: LayerNormState[];

  constructor(
    readonly spec: MlpSpec,
    readonly batch: number,
    private readonly kernels: Kernels,
  ) {
    if (!(Number.isInteger(batch) && batch >= 1)) throw new RangeError(`Expected a positive integer batch size, got ${batch}`);
    this.sizes = [spec.input, ...spec.hidden, spec.output];
    this.h = spec.hidden.map((n) => new Float32Array(batch * n));
    this.xhat = spec.layerNorm ? spec.hidden.map((n) => new Float32Array(batch * n)) : [];
    this.invStd = spec.layerNorm ? spec.hidden.map(() => new Float64Array(batch)) : [];
    this.dh = spec.hidden.map((n) => new Float32Array(batch * n));
    this.out = new Float32Array(batch * spec.output);
    this.dInput = new Float32Array(batch * spec.input);
    this.grads = paramShapes(spec, '').map((s) => new Float32Array(s.shape.reduce((a, b) => a * b, 1)));
    this.simd = simdElementwise();
    this.simdLayer = spec.hidden.map((n) => this.simd !== null && simdFits(n, spec.activation));
    this.elementwise = this.simdLayer.map((on) => (on ? 'simd' : 'js'));
    const none = new Float32Array(0);
    this.lnState = spec.layerNorm ? spec.hidden.map((_n, i) => ({ g: none, beta: none, xhat: this.xhat[i] as Float32Array, invStd: this.invStd[i] as Float64Array })) : [];
  }

  /** Forward pass on `input` (batch × spec.input); returns {@link out}. */
  forward(p: MlpParams, input: Float32Array): Float32Array {
    const { spec, batch: B, sizes } = this;
    if (p.spec !== spec && !sameSpec(p.spec, spec)) throw new Error('MlpPass: parameters of a different network spec');
    if (input.length < B * spec.input) throw new RangeError(`MlpPass: input has ${input.length} values, needs batch ${B} × ${spec.input}`);
    this.input = input;
    this.params = p;
    const last = sizes.length - 2;
    let x = input;
    for (let i = 0; i < last; i++) {
      const z = this.h[i] as Float32Array;
      const n = sizes[i + 1] as number;
      this.kernels.gemm(false, false, B, n, sizes[i] as number, 1, x, p.w[i] as Float32Array, 0, z);
      if (this.simd && this.simdLayer[i]) {
        this.simd.hiddenForward(z, B, n, p.b[i] as Float32Array, spec.activation as 'tanh' | 'relu', this.layerNormOf(p, i));
        x = z;
        continue;
      }
      if (spec.layerNorm) layerNormForward(z, B, n, p.b[i] as Float32Array, p.lnGain[i] as Float32Array, p.lnBias[i] as Float32Array, this.xhat[i] as Float32Array, this.invStd[i] as Float64Array);
      else addBias(z, B, n, p.b[i] as Float32Array);
      ACTIVATE[spec.activation](z, B * n);
      x = z;
    }
    this.kernels.gemm(false, false, B, spec.output, sizes[last] as number, 1, x, p.w[last] as Float32Array, 0, this.out);
    addBias(this.out, B, spec.output, p.b[last] as Float32Array);
    return this.out;
  }

  /** Hidden layer i's LayerNorm view onto `p`'s gain and bias (null without LayerNorm). */
  private layerNormOf(p: MlpParams, i: number): LayerNormState | null {
    const st = this.lnState[i];
    if (!st) return null;
    st.g = p.lnGain[i] as Float32Array;
    st.beta = p.lnBias[i] as Float32Array;
    return st;
  }

  /**
   * Backpropagates dL/d(out) (batch × output) through the last forward pass. `params`: fill
   * {@link grads}; `input`: fill {@link dInput}.
   */
  backward(dOut: Float32Array, want: { readonly params: boolean; readonly input: boolean }): void {
    const { spec, batch: B, sizes } = this;
    const p = this.params;
    const input = this.input;
    if (!p || !input) throw new Error('MlpPass: backward before forward');
    if (dOut.length < B * spec.output) throw new RangeError(`MlpPass: dOut has ${dOut.length} values, needs batch ${B} × ${spec.output}`);
    const layers = sizes.length - 1;
    const nW = layers;
    const k = this.kernels;
    let dy = dOut;
    for (let i = layers - 1; i >= 0; i--) {
      const nIn = sizes[i] as number;
      const nOut = sizes[i + 1] as number;
      let biasDone = false;
      if (i < layers - 1 && this.simd && this.simdLayer[i]) {
        // dy holds dL/dh of hidden layer i: through the activation, LayerNorm and the bias sum.
        const hiddenLayers = layers - 1;
        this.simd.hiddenBackward(
          dy,
          this.h[i] as Float32Array,
          B,
          nOut,
          spec.activation as 'tanh' | 'relu',
          this.layerNormOf(p, i),
          want.params && spec.layerNorm ? (this.grads[2 * nW + i] as Float32Array) : null,
          want.params && spec.layerNorm ? (this.grads[2 * nW + hiddenLayers + i] as Float32Array) : null,
          want.params ? (this.grads[nW + i] as Float32Array) : null,
        );
        biasDone = true;
      } else if (i < layers - 1) {
        // dy holds dL/dh of hidden layer i: through the activation, then LayerNorm, in place.
        ACTIVATION_GRAD[spec.activation](dy, this.h[i] as Float32Array, B * nOut);
        if (spec.layerNorm) {
          const g = p.lnGain[i] as Float32Array;
          const hiddenLayers = layers - 1;
          layerNormBackward(dy, B, nOut, g, this.xhat[i] as Float32Array, this.invStd[i] as Float64Array, want.params ? (this.grads[2 * nW + i] as Float32Array) : null, want.params ? (this.grads[2 * nW + hiddenLayers + i] as Float32Array) : null);
        }
      }
      const x = i === 0 ? input : (this.h[i - 1] as Float32Array);
      if (want.params) {
        k.gemm(true, false, nIn, nOut, B, 1, x, dy, 0, this.grads[i] as Float32Array);
        if (!biasDone) columnSums(dy, B, nOut, this.grads[nW + i] as Float32Array);
      }
      if (i > 0) k.gemm(false, true, B, nIn, nOut, 1, dy, p.w[i] as Float32Array, 0, this.dh[i - 1] as Float32Array);
      else if (want.input) k.gemm(false, true, B, nIn, nOut, 1, dy, p.w[i] as Float32Array, 0, this.dInput);
      if (i > 0) dy = this.dh[i - 1] as Float32Array;
    }
  }
}

function sameSpec(a: MlpSpec, b: MlpSpec): boolean {
  return a.input === b.input && a.output === b.output && a.layerNorm === b.layerNorm && a.activation === b.activation && a.hidden.join() === b.hidden.join();
}

/** z row r += b, for `rows` rows of width n. */
export function addBias(z: Float32Array, rows: number, n: number, b: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) z[o + j] = (z[o + j] as number) + (b[j] as number);
  }
}

/** out = Σ_rows dy (the bias gradient). */
export function columnSums(dy: Float32Array, rows: number, n: number, out: Float32Array): void {
  out.fill(0);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) out[j] = (out[j] as number) + (dy[o + j] as number);
  }
}

/** z ← LayerNorm(z + b)·g + β per row, keeping x̂ and 1/σ for the backward pass. */
export function layerNormForward(z: Float32Array, rows: number, n: number, b: Float32Array, g: Float32Array, beta: Float32Array, xhat: Float32Array, invStd: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let mean = 0;
    for (let j = 0; j < n; j++) {
      const v = (z[o + j] as number) + (b[j] as number);
      z[o + j] = v;
      mean += v;
    }
    mean /= n;
    let variance = 0;
    for (let j = 0; j < n; j++) variance += ((z[o + j] as number) - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / n + 1e-5);
    invStd[r] = inv;
    for (let j = 0; j < n; j++) {
      const xh = ((z[o + j] as number) - mean) * inv;
      xhat[o + j] = xh;
      z[o + j] = xh * (g[j] as number) + (beta[j] as number);
    }
  }
}

/** dy (dL/dŷ) ← dL/dz in place; accumulates dg and dβ when given. */
export function layerNormBackward(dy: Float32Array, rows: number, n: number, g: Float32Array, xhat: Float32Array, invStd: Float64Array, dg: Float32Array | null, dBeta: Float32Array | null): void {
  if (dg) dg.fill(0);
  if (dBeta) dBeta.fill(0);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let meanD = 0;
    let meanDX = 0;
    for (let j = 0; j < n; j++) {
      const d = dy[o + j] as number;
      const xh = xhat[o + j] as number;
      if (dg) dg[j] = (dg[j] as number) + d * xh;
      if (dBeta) dBeta[j] = (dBeta[j] as number) + d;
      const dx = d * (g[j] as number);
      meanD += dx;
      meanDX += dx * xh;
    }
    meanD /= n;
    meanDX /= n;
    const inv = invStd[r] as number;
    for (let j = 0; j < n; j++) dy[o + j] = inv * ((dy[o + j] as number) * (g[j] as number) - meanD - (xhat[o + j] as number) * meanDX);
  }
}

const ACTIVATE: Record<MlpSpec['activation'], (z: Float32Array, n: number) => void> = {
  // Branch-free: about half the inputs are negative at random, and a mispredicted branch per
  // element made the compare-and-store loop 2× slower than (v + |v|)/2 (measured, 256×256 batch).
  relu: (z, n) => {
    for (let i = 0; i < n; i++) {
      const v = z[i] as number;
      z[i] = (v + Math.abs(v)) * 0.5;
    }
  },
  tanh: tanhInPlace,
  elu: (z, n) => {
    for (let i = 0; i < n; i++) if ((z[i] as number) < 0) z[i] = Math.expm1(z[i] as number);
  },
};

const ACTIVATION_GRAD: Record<MlpSpec['activation'], (d: Float32Array, h: Float32Array, n: number) => void> = {
  // h ≥ 0 (a ReLU's output): ceil(min(h, 1)) is 1 where h > 0 and 0 where h = 0, without a
  // branch per element (3× faster than the compare-and-store loop, measured).
  relu: (d, h, n) => {
    for (let i = 0; i < n; i++) d[i] = (d[i] as number) * Math.ceil(Math.min(h[i] as number, 1));
  },
  tanh: (d, h, n) => {
    for (let i = 0; i < n; i++) {
      const v = h[i] as number;
      d[i] = (d[i] as number) * (1 - v * v);
    }
  },
  elu: (d, h, n) => {
    for (let i = 0; i < n; i++) {
      const v = h[i] as number;
      if (!(v > 0)) d[i] = (d[i] as number) * (v + 1);
    }
  },
};
