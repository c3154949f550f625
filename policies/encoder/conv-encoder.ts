import type { Rng } from '../../control/rng.js';
import type { Kernels } from '../kernels/kernels.js';
import { tanhInPlace } from '../nn/fast-tanh.js';
import { columnSums, layerNormBackward, layerNormForward } from '../nn/net.js';
import { type LayerNormState, type SimdElementwise, simdElementwise, simdFits } from '../nn/simd.js';

/**
 * A small convolutional image encoder as DrQ (Kostrikov et al. 2020) and SERL's from-scratch
 * option use: 3×3 convolutions of `filters` channels, no padding, ReLU after each, then a
 * linear layer to `features`, LayerNorm and tanh. Images are NHWC (height × width × channels,
 * as cameras deliver them), scaled to [0, 1].
 */
export interface ConvEncoderSpec {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** Output channels of every 3×3 convolution (DrQ: 32). */
  readonly filters: number;
  /** One stride per convolution (DrQ at 84×84: [2, 1, 1, 1]). */
  readonly strides: readonly number[];
  /** Size of the feature vector (DrQ: 50). */
  readonly features: number;
}

/** Kernel size of every convolution. */
export const KERNEL = 3;

/** One layer's geometry: input hi×wi×ci, output ho×wo×filters. */
export interface ConvLayerShape {
  readonly hi: number;
  readonly wi: number;
  readonly ci: number;
  readonly ho: number;
  readonly wo: number;
  readonly co: number;
  readonly stride: number;
}

/** The layers' shapes; throws a RangeError naming the layer an image is too small for. */
export function convShapes(spec: ConvEncoderSpec): ConvLayerShape[] {
  for (const [k, v] of [['height', spec.height], ['width', spec.width], ['channels', spec.channels], ['filters', spec.filters], ['features', spec.features]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`conv encoder: expected \`${k}\` to be a positive integer, got ${v}`);
  }
  if (spec.strides.length === 0) throw new RangeError('conv encoder: expected at least one convolution (strides is empty)');
  const out: ConvLayerShape[] = [];
  let [hi, wi, ci] = [spec.height, spec.width, spec.channels];
  spec.strides.forEach((stride, l) => {
    if (!(Number.isInteger(stride) && stride >= 1)) throw new RangeError(`conv encoder: expected stride ${l} to be a positive integer, got ${stride}`);
    if (hi < KERNEL || wi < KERNEL) throw new RangeError(`conv encoder: a ${spec.height}×${spec.width} image is ${hi}×${wi} at convolution ${l}, smaller than its ${KERNEL}×${KERNEL} kernel`);
    const ho = Math.floor((hi - KERNEL) / stride) + 1;
    const wo = Math.floor((wi - KERNEL) / stride) + 1;
    out.push({ hi, wi, ci, ho, wo, co: spec.filters, stride });
    [hi, wi, ci] = [ho, wo, spec.filters];
  });
  return out;
}

/** Values the linear head reads: the last convolution's output, flattened (HWC order). */
export function headInputSize(spec: ConvEncoderSpec): number {
  const last = convShapes(spec).at(-1) as ConvLayerShape;
  return last.ho * last.wo * last.co;
}

/**
 * The parameters. conv w[l] is (3·3·cᵢ) × filters, rows in (ky, kx, c) order — the im2col
 * column order, so a convolution is one gemm; headW is flat × features.
 */
export interface ConvEncoderParams {
  readonly spec: ConvEncoderSpec;
  readonly w: Float32Array[];
  readonly b: Float32Array[];
  readonly headW: Float32Array;
  readonly headB: Float32Array;
  readonly lnGain: Float32Array;
  readonly lnBias: Float32Array;
}

/** PyTorch's default initialisation, U(±1/√fan_in), drawn from `rng`; LayerNorm gain 1, bias 0. */
export function createConvEncoder(spec: ConvEncoderSpec, rng: Rng): ConvEncoderParams {
  const shapes = convShapes(spec);
  const uniform = (n: number, fanIn: number): Float32Array => {
    const bound = 1 / Math.sqrt(fanIn);
    return Float32Array.from({ length: n }, () => rng.uniform(-bound, bound));
  };
  const w = shapes.map((s) => uniform(KERNEL * KERNEL * s.ci * s.co, KERNEL * KERNEL * s.ci));
  const b = shapes.map((s) => uniform(s.co, KERNEL * KERNEL * s.ci));
  const flat = headInputSize(spec);
  return { spec, w, b, headW: uniform(flat * spec.features, flat), headB: uniform(spec.features, flat), lnGain: new Float32Array(spec.features).fill(1), lnBias: new Float32Array(spec.features) };
}

/** Every parameter array in a fixed order: conv w…, conv b…, head w, head b, LayerNorm gain, bias. */
export function encoderParamList(p: ConvEncoderParams): Float32Array[] {
  return [...p.w, ...p.b, p.headW, p.headB, p.lnGain, p.lnBias];
}

/** Names and shapes of {@link encoderParamList}'s arrays (checkpoints). */
export function encoderParamShapes(spec: ConvEncoderSpec, name: string): { name: string; shape: number[] }[] {
  const shapes = convShapes(spec);
  return [
    ...shapes.map((s, l) => ({ name: `${name}/conv${l}/w`, shape: [KERNEL * KERNEL * s.ci, s.co] })),
    ...shapes.map((s, l) => ({ name: `${name}/conv${l}/b`, shape: [s.co] })),
    { name: `${name}/head/w`, shape: [headInputSize(spec), spec.features] },
    { name: `${name}/head/b`, shape: [spec.features] },
    { name: `${name}/ln/g`, shape: [spec.features] },
    { name: `${name}/ln/b`, shape: [spec.features] },
  ];
}

/** A deep copy. */
export function cloneEncoder(p: ConvEncoderParams): ConvEncoderParams {
  const c = (a: Float32Array): Float32Array => Float32Array.from(a);
  return { spec: p.spec, w: p.w.map(c), b: p.b.map(c), headW: c(p.headW), headB: c(p.headB), lnGain: c(p.lnGain), lnBias: c(p.lnBias) };
}

/** Floating-point operations of one frame's forward pass (2 per multiply-add). */
export function encoderFlops(spec: ConvEncoderSpec): number {
  return convShapes(spec).reduce((a, s) => a + 2 * s.ho * s.wo * KERNEL * KERNEL * s.ci * s.co, 0) + 2 * headInputSize(spec) * spec.features;
}

/**
 * Copies the 3×3 patches of x (batch × hi × wi × ci) into rows of `cols`, one row per output
 * pixel (batch·ho·wo rows of 9·ci): a convolution is then cols · W. For one output pixel and
 * one kernel row ky, the kernel's three columns are 3·ci contiguous input values.
 */
export function im2col(x: Float32Array, batch: number, s: ConvLayerShape, cols: Float32Array): void {
  const { hi, wi, ci, ho, wo, stride } = s;
  const run = KERNEL * ci;
  const K = KERNEL * run;
  let row = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++, row++) {
        for (let ky = 0; ky < KERNEL; ky++) {
          const src = ((b * hi + oy * stride + ky) * wi + ox * stride) * ci;
          const dst = row * K + ky * run;
          // A typed-array copy beats the JS loop from ~16 values (3 × 32 channels here); not for the first layer's 9.
          if (run >= 16) cols.set(x.subarray(src, src + run), dst);
          else for (let j = 0; j < run; j++) cols[dst + j] = x[src + j] as number;
        }
      }
    }
  }
}

/** The adjoint of {@link im2col}: dx (zeroed here) accumulates every patch row of dCols. */
export function col2im(dCols: Float32Array, batch: number, s: ConvLayerShape, dx: Float32Array): void {
  const { hi, wi, ci, ho, wo, stride } = s;
  const run = KERNEL * ci;
  const K = KERNEL * run;
  dx.fill(0, 0, batch * hi * wi * ci);
  let row = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++, row++) {
        for (let ky = 0; ky < KERNEL; ky++) {
          const dst = ((b * hi + oy * stride + ky) * wi + ox * stride) * ci;
          const src = row * K + ky * run;
          for (let j = 0; j < run; j++) dx[dst + j] = (dx[dst + j] as number) + (dCols[src + j] as number);
        }
      }
    }
  }
}

/**
 * Forward and backward buffers of one encoder at one batch size, preallocated. Each
 * convolution is im2col + one gemm on {@link Kernels} (BLAS or tfjs):
 *
 *   forward:   cols = im2col(x),  h = relu(cols · W + b)
 *   backward:  dz = dh ⊙ [h > 0],  dW = colsᵀ · dz,  db = Σ dz,  dx = col2im(dz · Wᵀ)
 *   head:      f = tanh(LayerNorm(flat(h_L) · W_h + b_h)), its backward as in MlpPass
 *
 * One patch buffer serves every layer: the backward pass recomputes a layer's patches from its
 * stored input (cheap next to the gemm) instead of keeping every layer's (~70 MB at batch 256
 * and 64×64), and then reuses the buffer for dz · Wᵀ. The input must stay unchanged until
 * {@link backward} has run.
 */
export class ConvEncoderPass {
  /** Features of the last forward pass, batch × features. */
  readonly out: Float32Array;
  /** Parameter gradients of the last backward pass, in {@link encoderParamList} order. */
  readonly grads: Float32Array[];
  private readonly shapes: ConvLayerShape[];
  private readonly acts: Float32Array[];
  private readonly dActs: Float32Array[];
  private readonly cols: Float32Array;
  private readonly xhat: Float32Array;
  private readonly invStd: Float64Array;
  private readonly dHead: Float32Array;
  private input: Float32Array | null = null;
  private params: ConvEncoderParams | null = null;
  /** The SIMD elementwise kernels (policies/nn/simd.ts), or null: the JS loops below. */
  private readonly simd: SimdElementwise | null;
  /** Whether each conv layer's, and the head's, bias/activation work fits the SIMD kernels ({@link simdFits}). */
  private readonly simdConv: boolean[];
  private readonly simdHead: boolean;
  private readonly ln: LayerNormState;

  constructor(
    readonly spec: ConvEncoderSpec,
    readonly batch: number,
    private readonly kernels: Kernels,
  ) {
    if (!(Number.isInteger(batch) && batch >= 1)) throw new RangeError(`Expected a positive integer batch size, got ${batch}`);
    this.shapes = convShapes(spec);
    this.acts = this.shapes.map((s) => new Float32Array(batch * s.ho * s.wo * s.co));
    this.dActs = this.shapes.map((s) => new Float32Array(batch * s.ho * s.wo * s.co));
    this.cols = new Float32Array(Math.max(...this.shapes.map((s) => batch * s.ho * s.wo * KERNEL * KERNEL * s.ci)));
    this.out = new Float32Array(batch * spec.features);
    this.xhat = new Float32Array(batch * spec.features);
    this.invStd = new Float64Array(batch);
    this.dHead = new Float32Array(batch * spec.features);
    this.grads = encoderParamShapes(spec, '').map((s) => new Float32Array(s.shape.reduce((a, b) => a * b, 1)));
    this.simd = simdElementwise();
    this.simdConv = this.shapes.map((s) => this.simd !== null && simdFits(s.co, 'relu'));
    this.simdHead = this.simd !== null && simdFits(spec.features, 'tanh');
    const none = new Float32Array(0);
    this.ln = { g: none, beta: none, xhat: this.xhat, invStd: this.invStd };
  }

  /** Forward pass on `x` (batch × height × width × channels, values in [0, 1]); returns {@link out}. */
  forward(p: ConvEncoderParams, x: Float32Array): Float32Array {
    const { spec, batch: B } = this;
    const need = B * spec.height * spec.width * spec.channels;
    if (x.length < need) throw new RangeError(`ConvEncoderPass: input has ${x.length} values, needs batch ${B} × ${spec.height}×${spec.width}×${spec.channels}`);
    this.input = x;
    this.params = p;
    let h = x;
    this.shapes.forEach((s, l) => {
      const M = B * s.ho * s.wo;
      const K = KERNEL * KERNEL * s.ci;
      const cols = this.patches(h, s);
      const z = this.acts[l] as Float32Array;
      this.kernels.gemm(false, false, M, s.co, K, 1, cols, p.w[l] as Float32Array, 0, z);
      if (this.simd && this.simdConv[l]) this.simd.hiddenForward(z, M, s.co, p.b[l] as Float32Array, 'relu', null);
      else biasRelu(z, M, s.co, p.b[l] as Float32Array);
      h = z;
    });
    const flat = h.length / B;
    this.kernels.gemm(false, false, B, spec.features, flat, 1, h, p.headW, 0, this.out);
    if (this.simd && this.simdHead) {
      this.ln.g = p.lnGain;
      this.ln.beta = p.lnBias;
      this.simd.hiddenForward(this.out, B, spec.features, p.headB, 'tanh', this.ln);
    } else {
      layerNormForward(this.out, B, spec.features, p.headB, p.lnGain, p.lnBias, this.xhat, this.invStd);
      tanhInPlace(this.out, this.out.length);
    }
    return this.out;
  }

  /**
   * im2col(x) for layer shape s: with SIMD, a view into the SIMD module's memory (no copy out;
   * valid until the next SIMD call, so used at once as the gemm operand), else {@link cols}.
   */
  private patches(x: Float32Array, s: ConvLayerShape): Float32Array {
    if (this.simd) return this.simd.im2colView(x, this.batch, s);
    im2col(x, this.batch, s, this.cols);
    return this.cols;
  }

  /** Backpropagates dL/d(out) (batch × features) into {@link grads} (no input gradient: pixels are data). */
  backward(dOut: Float32Array): void {
    const { spec, batch: B, shapes } = this;
    const p = this.params;
    const x = this.input;
    if (!p || !x) throw new Error('ConvEncoderPass: backward before forward');
    if (dOut.length < B * spec.features) throw new RangeError(`ConvEncoderPass: dOut has ${dOut.length} values, needs batch ${B} × ${spec.features}`);
    const L = shapes.length;
    const g = this.grads;
    const F = spec.features;
    const dz = this.dHead;
    if (this.simd && this.simdHead) {
      // tanh′, LayerNorm and the head's bias sum in one SIMD pass (dOut copied: the caller's).
      dz.set(dOut.subarray(0, B * F));
      this.ln.g = p.lnGain;
      this.simd.hiddenBackward(dz, this.out, B, F, 'tanh', this.ln, g[2 * L + 2] as Float32Array, g[2 * L + 3] as Float32Array, g[2 * L + 1] as Float32Array);
    } else {
      for (let i = 0; i < B * F; i++) {
        const o = this.out[i] as number;
        dz[i] = (dOut[i] as number) * (1 - o * o);
      }
      layerNormBackward(dz, B, F, p.lnGain, this.xhat, this.invStd, g[2 * L + 2] as Float32Array, g[2 * L + 3] as Float32Array);
      columnSums(dz, B, F, g[2 * L + 1] as Float32Array);
    }
    const last = this.acts[L - 1] as Float32Array;
    const flat = last.length / B;
    this.kernels.gemm(true, false, flat, F, B, 1, last, dz, 0, g[2 * L] as Float32Array);
    this.kernels.gemm(false, true, B, flat, F, 1, dz, p.headW, 0, this.dActs[L - 1] as Float32Array);
    for (let l = L - 1; l >= 0; l--) {
      const s = shapes[l] as ConvLayerShape;
      const M = B * s.ho * s.wo;
      const K = KERNEL * KERNEL * s.ci;
      const h = this.acts[l] as Float32Array;
      const d = this.dActs[l] as Float32Array;
      if (this.simd && this.simdConv[l]) this.simd.hiddenBackward(d, h, M, s.co, 'relu', null, null, null, g[L + l] as Float32Array);
      else {
        // h ≥ 0 (a ReLU's output): ceil(min(h, 1)) is its mask without a branch per element.
        for (let i = 0; i < M * s.co; i++) d[i] = (d[i] as number) * Math.ceil(Math.min(h[i] as number, 1));
        columnSums(d, M, s.co, g[L + l] as Float32Array);
      }
      const cols = this.patches(l === 0 ? x : (this.acts[l - 1] as Float32Array), s);
      this.kernels.gemm(true, false, K, s.co, M, 1, cols, d, 0, g[l] as Float32Array);
      if (l > 0) {
        this.kernels.gemm(false, true, M, K, s.co, 1, d, p.w[l] as Float32Array, 0, this.cols);
        if (this.simd) this.simd.col2im(this.cols, B, s, this.dActs[l - 1] as Float32Array);
        else col2im(this.cols, B, s, this.dActs[l - 1] as Float32Array);
      }
    }
  }
}

/** z ← relu(z + b) row by row. */
function biasRelu(z: Float32Array, rows: number, n: number, b: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) {
      // Branch-free, as MlpPass's ReLU: half the pre-activations are negative, and a mispredicted
      // branch per element made this loop 16% of a pixel update's profile.
      const v = (z[o + j] as number) + (b[j] as number);
      z[o + j] = (v + Math.abs(v)) * 0.5;
    }
  }
}
