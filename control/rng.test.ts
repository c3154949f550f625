import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';

describe('Rng', () => {
  it('is reproducible from its seed and differs across seeds', () => {
    const draw = (seed: number): number[] => {
      const r = new Rng(seed);
      return Array.from({ length: 5 }, () => r.random());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it('resumes the exact stream from a saved state (including a cached normal sample)', () => {
    const a = new Rng(9);
    a.normal(); // leaves a spare normal cached
    const state = JSON.parse(JSON.stringify(a.getState()));
    const expected = [a.normal(), a.random(), a.int(10)];
    const b = new Rng(0);
    b.setState(state);
    expect([b.normal(), b.random(), b.int(10)]).toEqual(expected);
  });

  it('has the right moments: uniform in [0,1), normal ~ N(0,1)', () => {
    const r = new Rng(1);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const u = r.random();
      min = Math.min(min, u);
      max = Math.max(max, u);
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(Math.abs(s / n)).toBeLessThan(0.01);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.01);
  });

  it('int(n) is uniform over 0..n−1', () => {
    const r = new Rng(2);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[r.int(7)]!++;
    counts.forEach((c) => expect(Math.abs(c - 10_000)).toBeLessThan(400));
  });

  it.each([Number.NaN, Infinity])('rejects seed %s', (seed) => {
    expect(() => new Rng(seed)).toThrow(/finite number/);
  });

  it('rejects a corrupt state', () => {
    expect(() => new Rng(0).setState({ words: [1, 2, 3] })).toThrow(/four uint32 words/);
    expect(() => new Rng(0).setState({ words: [0, 0, 0, 0] })).toThrow(/all zeros/);
  });
});
