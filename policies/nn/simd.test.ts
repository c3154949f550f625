import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { fastTanh, tanhInPlace } from './fast-tanh.js';
import { col2im, convShapes, im2col } from '../encoder/conv-encoder.js';
import { columnSums, layerNormBackward, layerNormForward } from './net.js';
import { assembleSimd, MODULE_PATH, moduleText } from './simd-build.js';
import { simdElementwise, setSimdEnabled, type SimdActivation } from './simd.js';

const rng = new Rng(11);
const randn = (n: number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => scale * rng.normal());

/** max |a − b| / max |b| (floor 1e-6). */
function relErr(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  let worst = 0;
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i] as number));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst / scale;
}

/** The JS loops of policies/nn/net.ts: the reference the SIMD path must match. */
function jsForward(z: Float32Array, rows: number, n: number, b: Float32Array, act: SimdActivation, g: Float32Array, beta: Float32Array, xhat: Float32Array, inv: Float64Array, ln: boolean): void {
  if (ln) layerNormForward(z, rows, n, b, g, beta, xhat, inv);
  else for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) z[r * n + j] = (z[r * n + j] as number) + (b[j] as number);
  if (act === 'tanh') tanhInPlace(z, rows * n);
  if (act === 'relu') for (let i = 0; i < rows * n; i++) z[i] = Math.max(z[i] as number, 0);
}

describe('WebAssembly SIMD elementwise kernels', () => {
  const simd = simdElementwise();

  it('loads on this host (Node 20 has WebAssembly SIMD)', () => {
    expect(simd).not.toBeNull();
  });

  it('tanh matches fastTanh to float32 rounding, keeps NaN and saturates ±∞, with a JS tail past n mod 4', () => {
    const src = Float32Array.from([...randn(1021, 3), Number.NaN, Infinity, -Infinity, 0, -0, 40, -40]);
    const z = src.slice();
    simd!.tanhInPlace(z, src.length - 1);
    for (let i = 0; i < src.length - 1; i++) {
      const want = Math.fround(fastTanh(src[i] as number));
      if (Number.isNaN(want)) expect(z[i]).toBeNaN();
      else expect(Math.abs((z[i] as number) - want)).toBeLessThan(4e-7);
    }
    expect(z[src.length - 1]).toBe(-40); // past n: untouched
    expect(Math.abs((z[1022] as number) - 1)).toBeLessThan(1e-6);
    expect(Math.abs((z[1023] as number) + 1)).toBeLessThan(1e-6);
    // Float32 evaluation (Eigen's) against the JS double one: a few float32 ulps apart — 3.6e-7 at
    // worst (the review's grid) — and ±1 exactly past the clamp (JS: 0.99999976).
    let worst = 0;
    let worstJs = 0;
    const xs = Float32Array.from({ length: 480_000 }, (_v, i) => (i - 240_000) * 1e-4);
    const ys = xs.slice();
    simd!.tanhInPlace(ys, ys.length);
    for (let i = 0; i < xs.length; i++) {
      worst = Math.max(worst, Math.abs((ys[i] as number) - Math.tanh(xs[i] as number)));
      worstJs = Math.max(worstJs, Math.abs((ys[i] as number) - Math.fround(fastTanh(xs[i] as number))));
    }
    expect(worst).toBeLessThan(4e-7);
    expect(worstJs).toBeLessThan(4e-7);
  });

  describe.each<[SimdActivation, boolean]>([
    ['tanh', true],
    ['relu', true],
    ['tanh', false],
    ['relu', false],
  ])('a hidden layer, %s, LayerNorm %s', (act, ln) => {
    it.each([
      [1, 4],
      [3, 8],
      [37, 256],
      [128, 64],
    ])('forward and backward agree with the JS loops at %i × %i', (rows, n) => {
      const size = rows * n;
      const z0 = randn(size, 2);
      const b = randn(n, 0.3);
      const g = Float32Array.from(randn(n, 0.2), (v) => 1 + v);
      const beta = randn(n, 0.2);
      const [zJ, zS] = [z0.slice(), z0.slice()];
      const [xJ, xS] = [new Float32Array(size), new Float32Array(size)];
      const [iJ, iS] = [new Float64Array(rows), new Float64Array(rows)];
      jsForward(zJ, rows, n, b, act, g, beta, xJ, iJ, ln);
      simd!.hiddenForward(zS, rows, n, b, act, ln ? { g, beta, xhat: xS, invStd: iS } : null);
      expect(relErr(zS, zJ)).toBeLessThan(2e-6);
      if (ln) {
        expect(relErr(xS, xJ)).toBeLessThan(2e-6);
        expect(relErr(iS, iJ)).toBeLessThan(2e-6);
      }

      const d0 = randn(size);
      const dJ = d0.slice();
      const dS = d0.slice();
      for (let i = 0; i < size; i++) {
        const h = zJ[i] as number;
        dJ[i] = (dJ[i] as number) * (act === 'tanh' ? 1 - h * h : h > 0 ? 1 : 0);
      }
      const [dgJ, dbJ, cJ] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
      const [dgS, dbS, cS] = [new Float32Array(n).fill(9), new Float32Array(n).fill(9), new Float32Array(n).fill(9)];
      if (ln) layerNormBackward(dJ, rows, n, g, xJ, iJ, dgJ, dbJ);
      columnSums(dJ, rows, n, cJ);
      simd!.hiddenBackward(dS, zS, rows, n, act, ln ? { g, beta, xhat: xS, invStd: iS } : null, ln ? dgS : null, ln ? dbS : null, cS);
      expect(relErr(dS, dJ)).toBeLessThan(5e-6);
      expect(relErr(cS, cJ)).toBeLessThan(5e-6);
      if (ln) {
        expect(relErr(dgS, dgJ)).toBeLessThan(5e-6);
        expect(relErr(dbS, dbJ)).toBeLessThan(5e-6);
      } else expect(Array.from(dgS.subarray(0, 4))).toEqual([9, 9, 9, 9]);
    });
  });

  it('im2col and col2im equal the conv encoder\'s JS loops on every layer of the 64×64 encoder and odd channel counts', () => {
    const layers = [...convShapes({ height: 64, width: 64, channels: 3, filters: 32, strides: [2, 2, 1, 1], features: 50 }), ...convShapes({ height: 9, width: 8, channels: 5, filters: 3, strides: [2, 1], features: 4 })];
    for (const s of layers) {
      const B = 2;
      const x = randn(B * s.hi * s.wi * s.ci);
      const colsJ = new Float32Array(B * s.ho * s.wo * 9 * s.ci);
      const colsS = new Float32Array(colsJ.length).fill(Number.NaN);
      im2col(x, B, s, colsJ);
      simd!.im2col(x, B, s, colsS);
      expect(colsS).toEqual(colsJ);
      expect(simd!.im2colView(x, B, s)).toEqual(colsJ);
      const dCols = randn(colsJ.length);
      const dxJ = new Float32Array(x.length);
      const dxS = new Float32Array(x.length).fill(7);
      col2im(dCols, B, s, dxJ);
      simd!.col2im(dCols, B, s, dxS);
      expect(relErr(dxS, dxJ)).toBeLessThan(1e-6);
    }
    const s = layers[0]!;
    expect(() => simd!.im2col(new Float32Array(10), 2, s, new Float32Array(1e6))).toThrow(/x has 10 values, needs 24576/);
    expect(() => simd!.im2col(new Float32Array(24576), 2, s, new Float32Array(10))).toThrow(/cols has 10 values/);
    expect(() => simd!.col2im(new Float32Array(10), 2, s, new Float32Array(24576))).toThrow(/dCols has 10 values/);
    expect(() => simd!.im2col(new Float32Array(24576), 2, { ...s, ho: 40 }, new Float32Array(1e6))).toThrow(/reads past a 64×64 input/);
  });

  it('the ReLU gradient keeps NaN and ±∞ where the unit is off, as the JS loop and tfjs do (review)', () => {
    const h = Float32Array.from([0, 0, 0, 0.5, 0, 0, 0, 0]);
    const dy = Float32Array.from([Number.NaN, Infinity, -Infinity, 1, 2, 3, 4, 5]);
    const dBias = new Float32Array(4);
    simd!.hiddenBackward(dy, h, 2, 4, 'relu', null, null, null, dBias);
    expect(Array.from(dy.subarray(0, 4))).toEqual([Number.NaN, Number.NaN, Number.NaN, 1]);
    expect(Array.from(dy.subarray(4))).toEqual([0, 0, 0, 0]);
    expect(Number.isNaN(dBias[0])).toBe(true);
  });

  it('LayerNorm stays exact on rows far from zero: a large common offset, and all-equal rows (review)', () => {
    const n = 256;
    const noise = randn(n, 0.1);
    const rows = [Float32Array.from(noise, (v) => 1e4 + v), new Float32Array(n).fill(1000.1), Float32Array.from(noise, (v) => 100 + 10 * v)];
    const z = new Float32Array(rows.length * n);
    rows.forEach((r, i) => z.set(r, i * n));
    const g = new Float32Array(n).fill(1);
    const beta = new Float32Array(n);
    const b = new Float32Array(n);
    const [zJ, xJ, iJ] = [z.slice(), new Float32Array(z.length), new Float64Array(rows.length)];
    const [zS, xS, iS] = [z.slice(), new Float32Array(z.length), new Float64Array(rows.length)];
    layerNormForward(zJ, rows.length, n, b, g, beta, xJ, iJ);
    simd!.hiddenForward(zS, rows.length, n, b, 'none', { g, beta, xhat: xS, invStd: iS });
    for (let i = 0; i < z.length; i++) expect(Math.abs((xS[i] as number) - (xJ[i] as number))).toBeLessThan(2e-5);
    for (let i = n; i < 2 * n; i++) expect(Math.abs(xS[i] as number)).toBeLessThan(1e-3);
  });

  it('grows its memory for a large layer and still serves small ones after', () => {
    const rows = 2048;
    const n = 512; // 4 MiB a buffer: past the module's first 64 KiB page many times over
    const z = randn(rows * n);
    const ref = z.slice();
    simd!.hiddenForward(z, rows, n, new Float32Array(n), 'relu', null);
    for (let i = 0; i < z.length; i += 997) expect(z[i]).toBe(Math.max(ref[i] as number, 0));
    const small = Float32Array.from([-1, 2, -3, 4]);
    simd!.hiddenForward(small, 1, 4, Float32Array.from([1, 1, 1, 1]), 'relu', null);
    expect(Array.from(small)).toEqual([0, 3, 0, 5]);
  });

  it('a call past WebAssembly\'s 4 GiB says so and names the way out, instead of a bare grow failure', () => {
    // A 1.1e9-float layer needs 4.4 GB: more than a wasm32 memory can hold. A length-only view
    // fakes the arrays' sizes without allocating them.
    const huge = { length: 1.1e9, subarray: () => new Float32Array(0) } as unknown as Float32Array;
    expect(() => simd!.tanhInPlace(huge, 1.1e9)).toThrow(/needs 4196 MiB of WebAssembly memory .*ROBORL_SIMD=0/);
  });

  it('refuses shapes that would read or write past a buffer, naming them', () => {
    const z = new Float32Array(16);
    const b = new Float32Array(8);
    expect(() => simd!.hiddenForward(z, 2, 6, b, 'tanh', null)).toThrow(/n=6 is not a multiple of 4/);
    expect(() => simd!.hiddenForward(z, 3, 8, b, 'tanh', null)).toThrow(/z has 16 values, needs 3×8/);
    expect(() => simd!.hiddenForward(z, 2, 8, new Float32Array(4), 'tanh', null)).toThrow(/b has 4 values, needs 8/);
    expect(() => simd!.hiddenForward(z, 2, 8, b, 'tanh', { g: b, beta: b, xhat: new Float32Array(8), invStd: new Float64Array(2) })).toThrow(/x̂\/σ buffers are smaller than 2×8/);
    expect(() => simd!.hiddenBackward(z, new Float32Array(8), 2, 8, 'tanh', null, null, null, null)).toThrow(/h \(8\) need 2×8/);
    expect(() => simd!.hiddenBackward(z, z, 2, 8, 'tanh', null, null, null, new Float32Array(3))).toThrow(/need 8 values/);
    expect(() => simd!.tanhInPlace(z, 17)).toThrow(/n=17 exceeds the array's 16/);
  });

  it('setSimdEnabled(false) turns it off for new users (the JS loops run)', () => {
    setSimdEnabled(false);
    try {
      expect(simdElementwise()).toBeNull();
    } finally {
      setSimdEnabled(true);
    }
    expect(simdElementwise()).toBe(simd);
  });

  it('the committed module is the one policies/nn/simd.wat assembles to (npm run build:simd)', async () => {
    expect(readFileSync(MODULE_PATH, 'utf8')).toBe(moduleText(await assembleSimd()));
  });
});
