import { describe, expect, it } from 'vitest';
import { setSimdEnabled } from '../nn/simd.js';
import { Rng } from '../../control/rng.js';
import { JsKernels } from '../kernels/kernels.js';
import { randomShift } from './augment.js';
import { col2im, ConvEncoderPass, convShapes, createConvEncoder, encoderFlops, encoderParamList, im2col, type ConvEncoderSpec } from './conv-encoder.js';

const SPEC: ConvEncoderSpec = { height: 9, width: 8, channels: 2, filters: 3, strides: [2, 1], features: 4 };

function randomInput(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.random());
}

/** Σ out ⊙ R: a scalar loss whose gradient dL/d(out) is R. */
function loss(pass: ConvEncoderPass, p: ReturnType<typeof createConvEncoder>, x: Float32Array, r: Float32Array): number {
  const out = pass.forward(p, x);
  let s = 0;
  for (let i = 0; i < r.length; i++) s += (out[i] as number) * (r[i] as number);
  return s;
}

describe('conv encoder', () => {
  it('a convolution is a direct 3×3 convolution (im2col + gemm against a naive loop)', () => {
    const rng = new Rng(1);
    const B = 2;
    const p = createConvEncoder(SPEC, rng);
    const x = randomInput(rng, B * 9 * 8 * 2);
    const s = convShapes(SPEC)[0]!;
    const cols = new Float32Array(B * s.ho * s.wo * 9 * s.ci);
    im2col(x, B, s, cols);
    const z = new Float32Array(B * s.ho * s.wo * s.co);
    new JsKernels().gemm(false, false, B * s.ho * s.wo, s.co, 9 * s.ci, 1, cols, p.w[0]!, 0, z);
    expect([s.ho, s.wo]).toEqual([4, 3]);
    for (let b = 0; b < B; b++) for (let oy = 0; oy < s.ho; oy++) for (let ox = 0; ox < s.wo; ox++) for (let o = 0; o < s.co; o++) {
      let ref = 0;
      for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) for (let c = 0; c < s.ci; c++) {
        ref += x[((b * 9 + oy * 2 + ky) * 8 + ox * 2 + kx) * 2 + c]! * p.w[0]![((ky * 3 + kx) * s.ci + c) * s.co + o]!;
      }
      expect(z[((b * s.ho + oy) * s.wo + ox) * s.co + o]).toBeCloseTo(ref, 5);
    }
  });

  it('col2im is the adjoint of im2col: ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩', () => {
    const rng = new Rng(2);
    const s = convShapes(SPEC)[1]!;
    const x = randomInput(rng, 3 * s.hi * s.wi * s.ci);
    const y = randomInput(rng, 3 * s.ho * s.wo * 9 * s.ci);
    const cols = new Float32Array(y.length);
    im2col(x, 3, s, cols);
    const dx = new Float32Array(x.length);
    col2im(y, 3, s, dx);
    let a = 0;
    let b = 0;
    for (let i = 0; i < y.length; i++) a += cols[i]! * y[i]!;
    for (let i = 0; i < x.length; i++) b += x[i]! * dx[i]!;
    expect(a).toBeCloseTo(b, 3);
  });

  // Widths that are multiples of 4 run their bias/ReLU/LayerNorm/tanh work on WebAssembly SIMD
  // (policies/nn/simd.ts), others on the JS loops; SIMD off runs everything on the JS loops.
  it.each<[string, ConvEncoderSpec, boolean]>([
    ['3 filters (JS conv layers), 4 features (SIMD head)', SPEC, true],
    ['4 filters (SIMD conv layers), 4 features', { ...SPEC, filters: 4 }, true],
    ['4 filters, 4 features, SIMD off', { ...SPEC, filters: 4 }, false],
  ])('parameter gradients match central finite differences (every parameter): %s', (_label, spec, simd) => {
    setSimdEnabled(simd);
    const rng = new Rng(3);
    const B = 2;
    const p = createConvEncoder(spec, rng);
    const x = randomInput(rng, B * 9 * 8 * 2);
    const r = Float32Array.from({ length: B * spec.features }, () => rng.normal());
    const pass = new ConvEncoderPass(spec, B, new JsKernels());
    setSimdEnabled(true);
    pass.forward(p, x);
    pass.backward(r);
    const eps = 3e-3;
    let checked = 0;
    let bad = 0;
    encoderParamList(p).forEach((arr, k) => {
      for (let i = 0; i < arr.length; i++) {
        const v = arr[i]!;
        arr[i] = v + eps;
        const up = loss(pass, p, x, r);
        arr[i] = v - eps;
        const down = loss(pass, p, x, r);
        arr[i] = v;
        const fd = (up - down) / (2 * eps);
        const an = pass.grads[k]![i]!;
        checked++;
        if (Math.abs(fd - an) > 2e-3 + 2e-2 * Math.abs(an)) bad++;
      }
    });
    expect(checked).toBe(encoderParamList(p).reduce((a, q) => a + q.length, 0));
    // A ReLU kink inside ±eps can spoil a difference quotient; none did at this seed.
    expect(bad).toBe(0);
  });

  it('the SIMD and JS elementwise paths give the same features and gradients (8 filters, 8 features)', () => {
    const spec: ConvEncoderSpec = { ...SPEC, filters: 8, features: 8 };
    const run = (simd: boolean): Float32Array[] => {
      setSimdEnabled(simd);
      const rng = new Rng(9);
      const B = 3;
      const p = createConvEncoder(spec, rng);
      const x = randomInput(rng, B * 9 * 8 * 2);
      const r = Float32Array.from({ length: B * spec.features }, () => rng.normal());
      const pass = new ConvEncoderPass(spec, B, new JsKernels());
      setSimdEnabled(true);
      const out = Float32Array.from(pass.forward(p, x));
      pass.backward(r);
      return [out, ...pass.grads.map((g) => Float32Array.from(g))];
    };
    const simd = run(true);
    const js = run(false);
    simd.forEach((a, k) => {
      const b = js[k] as Float32Array;
      const scale = Math.max(1e-6, ...Array.from(b, Math.abs));
      a.forEach((v, i) => expect(Math.abs(v - (b[i] as number)) / scale).toBeLessThan(1e-5));
    });
  });

  it('refuses an image smaller than its kernels and names the layer', () => {
    expect(() => convShapes({ ...SPEC, height: 5, width: 5, strides: [2, 2] })).toThrow(/5×5 image is 2×2 at convolution 1/);
    expect(() => convShapes({ ...SPEC, strides: [0] })).toThrow(/stride 0/);
  });

  it('the default 64×64×3 encoder costs ~10 MFLOP per frame (what bench learner measures)', () => {
    const flops = encoderFlops({ height: 64, width: 64, channels: 3, filters: 32, strides: [2, 2, 1, 1], features: 50 });
    expect(flops).toBeGreaterThan(5e6);
    expect(flops).toBeLessThan(15e6);
  });
});

describe('random shift (DrQ)', () => {
  it('shifts each image by at most pad pixels with the border replicated, and pad 0 only rescales', () => {
    const H = 6;
    const W = 5;
    const src = new Uint8Array(2 * H * W);
    for (let b = 0; b < 2; b++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) src[(b * H + y) * W + x] = 10 * y + x;
    const dst = new Float32Array(src.length);
    randomShift(src, 2, H, W, 1, 0, new Rng(0), dst);
    expect(Array.from(dst, (v) => Math.round(v * 255))).toEqual(Array.from(src));
    const shifts = new Set<string>();
    const rng = new Rng(4);
    for (let t = 0; t < 200; t++) {
      randomShift(src, 1, H, W, 1, 2, rng, dst);
      // Pixel (2, 2) reads (2 + dy, 2 + dx), inside the image for |d| ≤ 2.
      const v = Math.round(dst[2 * W + 2]! * 255);
      const dy = Math.floor(v / 10) - 2;
      const dx = (v % 10) - 2;
      expect(Math.abs(dy)).toBeLessThanOrEqual(2);
      expect(Math.abs(dx)).toBeLessThanOrEqual(2);
      // Border replication: pixel (0, 0) is the clamped source pixel.
      expect(Math.round(dst[0]! * 255)).toBe(10 * Math.max(0, dy) + Math.max(0, dx));
      shifts.add(`${dy},${dx}`);
    }
    expect(shifts.size).toBe(25);
  });
});
