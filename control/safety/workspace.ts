/** An axis-aligned box (metres) that control points must stay inside. */
export interface WorkspaceBox {
  readonly min: readonly [number, number, number];
  readonly max: readonly [number, number, number];
}

/** How far `points` (flat x, y, z triples) are outside `box`: the largest violation, 0 when all are inside. */
export function boxViolation(points: ArrayLike<number>, box: WorkspaceBox): number {
  let worst = 0;
  for (let p = 0; p + 2 < points.length; p += 3) {
    for (let k = 0; k < 3; k++) {
      const v = points[p + k] as number;
      worst = Math.max(worst, (box.min[k] as number) - v, v - (box.max[k] as number));
    }
  }
  return worst;
}

/**
 * Keeps a joint step inside a workspace: given the current joints `q` (assumed feasible, or the
 * best available) and a proposed target, returns q + s·(target − q) for the largest s ∈ [0, 1]
 * (bisection, `iterations` steps) whose control points — from `pointsFor(joints)`, e.g. the
 * forward kinematics of every link — do not violate the box more than they do at q. So a step
 * may always move back toward the box, never further out.
 */
export function limitStepToWorkspace(q: ArrayLike<number>, target: Float64Array, box: WorkspaceBox, pointsFor: (joints: ArrayLike<number>) => ArrayLike<number>, iterations = 12): { target: Float64Array; scaled: boolean } {
  const allowed = Math.max(0, boxViolation(pointsFor(q), box));
  if (boxViolation(pointsFor(target), box) <= allowed) return { target, scaled: false };
  const at = (s: number): Float64Array => Float64Array.from(target, (t, i) => (q[i] as number) + s * (t - (q[i] as number)));
  let lo = 0;
  let hi = 1;
  for (let k = 0; k < iterations; k++) {
    const mid = (lo + hi) / 2;
    if (boxViolation(pointsFor(at(mid)), box) <= allowed) lo = mid;
    else hi = mid;
  }
  return { target: at(lo), scaled: true };
}
