import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterJointTargets, limitRate, type JointLimits } from './joint-filter.js';

// Panda-like limits for the properties.
const limits: JointLimits = {
  lower: [-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973],
  upper: [2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973],
  velocity: [2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61],
};
const opts = { dt: 0.04, margin: 0.02, softZone: 0.2 };
const EPS = 1e-9;

/** q strictly inside the margin-shrunk bounds, and any finite target (extremes included). */
const jointCase = fc
  .tuple(
    fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 7, maxLength: 7 }),
    fc.array(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constantFrom(-1e300, 1e300, -4, 4, 0)), { minLength: 7, maxLength: 7 }),
  )
  .map(([u, target]) => ({
    q: u.map((x, i) => (limits.lower[i] as number) + 0.02 + x * ((limits.upper[i] as number) - (limits.lower[i] as number) - 0.04)),
    target,
  }));

function satisfies(out: ArrayLike<number>, q: readonly number[]): boolean {
  for (let i = 0; i < q.length; i++) {
    const v = out[i] as number;
    if (v < (limits.lower[i] as number) + 0.02 - EPS || v > (limits.upper[i] as number) - 0.02 + EPS) return false;
    if (Math.abs(v - (q[i] as number)) > (limits.velocity[i] as number) * opts.dt + EPS) return false;
  }
  return true;
}

describe('Tier 0 joint filter', () => {
  it('always returns a command within the position and speed limits', () => {
    fc.assert(fc.property(jointCase, ({ q, target }) => satisfies(filterJointTargets(target, q, limits, opts), q)), { numRuns: 2000 });
  });

  it('passes a command already within limits unchanged', () => {
    // Positions clear of the soft zones (0.3 from each bound) and targets within the speed limit.
    const inside = fc
      .tuple(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 7, maxLength: 7 }), fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 7, maxLength: 7 }))
      .map(([u, s]) => {
        const q = u.map((x, i) => (limits.lower[i] as number) + 0.3 + x * ((limits.upper[i] as number) - (limits.lower[i] as number) - 0.6));
        return { q, target: q.map((qi, i) => qi + (s[i] as number) * (limits.velocity[i] as number) * opts.dt) };
      });
    fc.assert(fc.property(inside, ({ q, target }) => Array.from(filterJointTargets(target, q, limits, opts)).every((v, i) => v === target[i])), { numRuns: 2000 });
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(jointCase, ({ q, target }) => {
        const once = filterJointTargets(target, q, limits, opts);
        const twice = filterJointTargets(once, q, limits, opts);
        return Array.from(once).every((v, i) => v === twice[i]);
      }),
      { numRuns: 2000 },
    );
  });

  it('slows motion toward a bound inside the soft zone and stops at it', () => {
    const q = [2.8, 0, 0, -1, 0, 1, 0]; // joint 0 within 0.08 of its margin-shrunk upper bound
    const out = filterJointTargets([10, 0, 0, -1, 0, 1, 0], q, limits, opts);
    const full = (limits.velocity[0] as number) * opts.dt;
    expect(out[0]! - 2.8).toBeLessThan(full * 0.5);
    expect(out[0]).toBeLessThanOrEqual(2.8973 - 0.02);
    // Moving away from the bound is not slowed.
    expect(filterJointTargets([-10, 0, 0, -1, 0, 1, 0], q, limits, opts)[0]).toBeCloseTo(2.8 - full, 12);
  });

  it('commands a joint pushed past its bound back toward the range, never further out or merely held', () => {
    const q = [3.0, 0, 0, -1, 0, 1, 0]; // past the margin-shrunk bound 2.8773 (and the hard 2.8973)
    const back = 3.0 - 2.175 * 0.04;
    expect(filterJointTargets([3.5, 0, 0, -1, 0, 1, 0], q, limits, opts)[0]).toBeCloseTo(back, 12);
    expect(filterJointTargets([3.0, 0, 0, -1, 0, 1, 0], q, limits, opts)[0]).toBeCloseTo(back, 12);
    expect(filterJointTargets([0, 0, 0, -1, 0, 1, 0], q, limits, opts)[0]).toBeCloseTo(back, 12);
    // Just past the bound: the target is the bound itself, or anywhere inside within reach.
    const near = [2.9, 0, 0, -1, 0, 1, 0];
    expect(filterJointTargets([3.5, 0, 0, -1, 0, 1, 0], near, limits, opts)[0]).toBeCloseTo(2.8773, 12);
  });

  it('brakes a joint too fast to stop before its bound', () => {
    const q = [2.5, 0, 0, -1, 0, 1, 0]; // 0.38 rad from the shrunk bound
    const qdFast = [2.0, 0, 0, 0, 0, 0, 0]; // v² = 4 > 2·2·0.38
    expect(filterJointTargets([2.6, 0, 0, -1, 0, 1, 0], q, limits, opts, undefined, undefined, qdFast)[0]).toBe(2.5);
    const qdSlow = [0.5, 0, 0, 0, 0, 0, 0];
    expect(filterJointTargets([2.52, 0, 0, -1, 0, 1, 0], q, limits, opts, undefined, undefined, qdSlow)[0]).toBeCloseTo(2.52, 12);
  });

  it('counts position and speed hits and rejects NaN', () => {
    const report = { positionHits: 0, velocityHits: 0 };
    filterJointTargets([100, 0.5, 0, -1, 0, 1, 0], [0, 0, 0, -1, 0, 1, 0], limits, opts, undefined, report);
    expect(report).toEqual({ positionHits: 0, velocityHits: 2 });
    expect(() => filterJointTargets([Number.NaN, 0, 0, 0, 0, 0, 0], [0, 0, 0, -1, 0, 1, 0], limits, opts)).toThrow(/joint 0: target is NaN/);
  });

  it('rate-limits actions per step', () => {
    const a = Float32Array.of(1, -1, 0.05);
    expect(limitRate(a, [0, 0, 0], 0.1)).toBe(2);
    expect(Array.from(a)).toEqual([Math.fround(0.1), Math.fround(-0.1), Math.fround(0.05)]);
  });
});
