import { describe, expect, it } from 'vitest';
import { fastTanh, tanhInPlace } from './fast-tanh.js';

describe('fastTanh', () => {
  it('agrees with Math.tanh to 3e-7 over [−24, 24], odd, bounded by 1, and keeps NaN', () => {
    let worst = 0;
    for (let i = -240_000; i <= 240_000; i++) {
      const x = i * 1e-4;
      const y = fastTanh(x);
      worst = Math.max(worst, Math.abs(y - Math.tanh(x)));
      expect(Math.abs(y)).toBeLessThanOrEqual(1);
    }
    expect(worst).toBeLessThan(3e-7);
    expect(fastTanh(-0.37)).toBe(-fastTanh(0.37));
    expect(fastTanh(1e-9)).toBeCloseTo(1e-9, 15);
    expect(fastTanh(Infinity)).toBeCloseTo(1, 6);
    expect(fastTanh(-Infinity)).toBeCloseTo(-1, 6);
    expect(fastTanh(Number.NaN)).toBeNaN();
  });

  it('tanhInPlace writes the first n elements only, as fastTanh rounds them to float32', () => {
    const z = Float32Array.from([-3, -0.5, 0, 0.5, 3, 42]);
    tanhInPlace(z, 5);
    expect(Array.from(z.subarray(0, 5))).toEqual([-3, -0.5, 0, 0.5, 3].map((x) => Math.fround(fastTanh(x))));
    expect(z[5]).toBe(42);
  });
});
