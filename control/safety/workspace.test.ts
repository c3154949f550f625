import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boxViolation, limitStepToWorkspace, type WorkspaceBox } from './workspace.js';

const box: WorkspaceBox = { min: [-1, -1, 0.1], max: [1, 1, 1] };
/** A toy two-joint "arm": point = (j0, 0, j1). */
const points = (j: ArrayLike<number>): number[] => [j[0] as number, 0, j[1] as number];

describe('workspace box', () => {
  it('measures the largest violation of any point', () => {
    expect(boxViolation([0, 0, 0.5, 0.5, 0.5, 0.5], box)).toBe(0);
    expect(boxViolation([0, 0, 0.05, 1.3, 0, 0.5], box)).toBeCloseTo(0.3, 12);
  });

  it('shortens a step that would leave the box, keeps one that stays inside, and never moves further out', () => {
    fc.assert(
      fc.property(fc.double({ min: -0.9, max: 0.9, noNaN: true }), fc.double({ min: 0.11, max: 0.99, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), (x, z, tx, tz) => {
        const q = [x, z];
        const { target } = limitStepToWorkspace(q, Float64Array.of(tx, tz), box, points);
        const inside = boxViolation(points(target), box) === 0;
        const untouched = boxViolation(points([tx, tz]), box) === 0 ? target[0] === tx && target[1] === tz : true;
        return inside && untouched;
      }),
      { numRuns: 1000 },
    );
    // Starting outside: a step toward the box is allowed, a step further out is cut to zero.
    const below = [0, 0.05];
    expect(Array.from(limitStepToWorkspace(below, Float64Array.of(0, 0.2), box, points).target)).toEqual([0, 0.2]);
    const out = limitStepToWorkspace(below, Float64Array.of(0, 0), box, points);
    expect(out.scaled).toBe(true);
    expect(out.target[1]).toBeCloseTo(0.05, 3);
  });
});
