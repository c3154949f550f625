/**
 * tanh for float32 networks, as a rational function: Eigen's `ptanh_float` (the approximation
 * TensorFlow's CPU kernels use), a degree-13 odd numerator over a degree-6 even denominator,
 * the input clamped to ±7.9053 where float32 tanh is 1 to within its last bits. Maximum absolute
 * error against Math.tanh: 2.6e-7 (below float32's spacing near 1, tested over [−24, 24]).
 *
 * Why: RLPD's networks use tanh hidden layers, and V8's Math.tanh (a call into fdlibm per
 * element) was 30% of an RLPD update's CPU profile at 128×128 — ~45 ns an element against ~9 ns
 * for this one on the project's machine. NaN stays NaN.
 */
const CLAMP = 7.90531110763549805;
const A1 = 4.89352455891786e-3;
const A3 = 6.37261928875436e-4;
const A5 = 1.48572235717979e-5;
const A7 = 5.12229709037114e-8;
const A9 = -8.60467152213735e-11;
const A11 = 2.00018790482477e-13;
const A13 = -2.76076847742355e-16;
const B0 = 4.89352518554385e-3;
const B2 = 2.268434632439e-3;
const B4 = 1.18534705686654e-4;
const B6 = 1.19825839466702e-6;

/** The constants above, for the WebAssembly SIMD build of the same function (policies/nn/simd-build.ts). */
export const TANH_RATIONAL = { clamp: CLAMP, numerator: [A1, A3, A5, A7, A9, A11, A13], denominator: [B0, B2, B4, B6] } as const;

/** tanh(x) to float32 accuracy (see the module's comment). */
export function fastTanh(v: number): number {
  const x = v > CLAMP ? CLAMP : v < -CLAMP ? -CLAMP : v;
  const x2 = x * x;
  const p = ((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2 + A1) * x;
  return p / (((B6 * x2 + B4) * x2 + B2) * x2 + B0);
}

/** z[i] ← tanh(z[i]) for i < n. */
export function tanhInPlace(z: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = z[i] as number;
    const x = v > CLAMP ? CLAMP : v < -CLAMP ? -CLAMP : v;
    const x2 = x * x;
    z[i] = (((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2 + A1) * x) / (((B6 * x2 + B4) * x2 + B2) * x2 + B0);
  }
}
