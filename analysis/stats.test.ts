import { describe, expect, it } from 'vitest';
import { Rng } from '../control/rng.js';
import { adaStop, bootstrapCI, iqm, mean } from './stats.js';

function normal(rng: Rng, mu: number, sigma: number): number {
  const u = 1 - rng.random();
  return mu + sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.random());
}
const sample = (rng: Rng, count: number, mu: number, sigma = 1): number[] => Array.from({ length: count }, () => normal(rng, mu, sigma));

describe('bootstrap confidence intervals', () => {
  it('cover the true mean at about the nominal rate, and narrow with more seeds', () => {
    const rng = new Rng(1);
    let covered = 0;
    const repeats = 300;
    for (let r = 0; r < repeats; r++) {
      const [lo, hi] = bootstrapCI(sample(rng, 20, 3), { resamples: 500, seed: r });
      if (lo <= 3 && 3 <= hi) covered++;
    }
    // Percentile bootstrap of 20 normal values: ~93% (a little under 95%; 3 SE either side of that).
    expect(covered / repeats).toBeGreaterThan(0.88);
    expect(covered / repeats).toBeLessThan(0.99);
    const width = (n: number): number => {
      const [lo, hi] = bootstrapCI(sample(new Rng(2), n, 0), { seed: 0 });
      return hi - lo;
    };
    expect(width(80)).toBeLessThan(0.7 * width(10));
    expect(bootstrapCI([4])).toEqual([4, 4]);
    expect(mean([1, 2, 3])).toBe(2);
    // IQM as scipy.stats.trim_mean(x, 0.25): ⌊n/4⌋ dropped at each end.
    expect(iqm([8, 1, 7, 2, 6, 3, 5, 4])).toBe(4.5);
    expect(iqm([100, 1, 2, 3, -50])).toBe(2);
    expect(iqm([5, 9])).toBe(7);
  });
});

describe('AdaStop', () => {
  const opts = { n: 5, K: 4, B: 1000, alpha: 0.05 };

  it('equal distributions: "not different", with false differences at most at the nominal rate over many repeats', () => {
    const rng = new Rng(7);
    const repeats = 300;
    let rejected = 0;
    for (let r = 0; r < repeats; r++) {
      const d = adaStop(sample(rng, 20, 0), sample(rng, 20, 0), { ...opts, seed: r });
      if (d.decision !== 'not different') rejected++;
      else expect(d.seedsUsed).toBe(20);
    }
    // α = 0.05; 2.5 binomial standard errors above it.
    expect(rejected / repeats).toBeLessThan(0.05 + 2.5 * Math.sqrt((0.05 * 0.95) / repeats));
  });

  it('a shifted agent is detected, usually before all seeds are used, and the sign is right', () => {
    const rng = new Rng(8);
    let detected = 0;
    let early = 0;
    for (let r = 0; r < 100; r++) {
      const d = adaStop(sample(rng, 20, 0), sample(rng, 20, 1.5), { ...opts, seed: r });
      expect(d.decision).not.toBe('A better');
      if (d.decision === 'B better') {
        detected++;
        if (d.seedsUsed < 20) early++;
      }
    }
    expect(detected).toBeGreaterThanOrEqual(90);
    expect(early).toBeGreaterThan(50);
    // Costs: lower is better, so the larger agent is the worse one.
    const costs = adaStop(sample(rng, 20, 5), sample(rng, 20, 0), { ...opts, higherIsBetter: false });
    expect(costs.decision).toBe('B better');
  });

  it('too few seeds for a decision asks for more: how many per agent, and the most it may take', () => {
    const rng = new Rng(9);
    const d = adaStop(sample(rng, 7, 0), sample(rng, 6, 0.1), opts);
    expect(d.decision).toBe('need more seeds');
    expect(d.seedsUsed).toBe(5);
    expect(d.next).toEqual({ more: 4, upTo: 20 });
    expect(d.interims).toHaveLength(1);
    const none = adaStop([1, 2], [3, 4], opts);
    expect(none.decision).toBe('need more seeds');
    expect(none.next).toEqual({ more: 3, upTo: 20 });
    expect(none.meanA).toBe(1.5);
  });

  it('refuses a non-finite score or bad options, naming them', () => {
    expect(() => adaStop([1, NaN], [1, 2])).toThrow(/agent A's value 1 is NaN/);
    expect(() => adaStop([1], [1], { n: 0 })).toThrow(/n must be a positive integer/);
    expect(() => adaStop([1], [1], { alpha: 2 })).toThrow(/alpha must be in \(0, 1\)/);
  });
});
