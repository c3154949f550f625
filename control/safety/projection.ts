/** One linear inequality gᵀa ≤ b on the action. */
export interface HalfSpace {
  readonly g: ArrayLike<number>;
  readonly b: number;
}

export interface Projection {
  /** argmin ½‖a − μ‖² over the half-spaces and the box (or the closest point found). */
  readonly action: Float64Array;
  /** Indices of the half-spaces active at the solution (multiplier > 0). */
  readonly active: number[];
  /** The largest remaining violation max(0, gᵀa − b) over half-spaces and box; 0 when feasible. */
  readonly slack: number;
  /** True when the constraints could not all be met (slack above tolerance after `maxIterations`). */
  readonly infeasible: boolean;
  readonly iterations: number;
}

/**
 * Euclidean projection of `mu` onto {a : gᵢᵀa ≤ bᵢ for all i, lower ≤ a ≤ upper}: the QP
 * min ½‖a − μ‖² solved exactly by Hildreth's dual coordinate ascent, with the box as 2n more
 * half-spaces. Several active constraints at once are handled jointly, so the result satisfies
 * all of them (clipping after a one-constraint projection would not). Converges for any
 * feasible set; when the set is empty the dual grows without bound, which shows as slack that
 * does not fall below `tolerance` — reported as `infeasible`, with the iterate clipped to the box.
 */
export function projectOntoPolytope(mu: ArrayLike<number>, halfSpaces: readonly HalfSpace[], lower: ArrayLike<number>, upper: ArrayLike<number>, options: { maxIterations?: number; tolerance?: number } = {}): Projection {
  const n = mu.length;
  const maxIterations = options.maxIterations ?? 5000;
  const tol = options.tolerance ?? 1e-7;
  for (const h of halfSpaces) {
    if (h.g.length !== n) throw new RangeError(`half-space has ${h.g.length} coefficients for a ${n}-dimensional action`);
    if (!Number.isFinite(h.b) || Array.from(h.g).some((v) => !Number.isFinite(v))) throw new RangeError('half-space with a non-finite coefficient');
  }
  // Rows scaled to unit normals (so b is a distance): the iteration is then well conditioned,
  // and a row with g ≈ 0 is a constant test — met (dropped) or unmeetable (infeasible).
  const rows: { g: Float64Array; b: number; norm2: number }[] = [];
  let constantViolation = 0;
  for (const h of halfSpaces) {
    const g = Float64Array.from(h.g);
    const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    if (norm < 1e-9) {
      constantViolation = Math.max(constantViolation, -h.b);
      rows.push({ g: new Float64Array(n), b: 0, norm2: 0 });
      continue;
    }
    rows.push({ g: g.map((v) => v / norm), b: h.b / norm, norm2: 1 });
  }
  for (let j = 0; j < n; j++) {
    const up = new Float64Array(n);
    up[j] = 1;
    rows.push({ g: up, b: upper[j] as number, norm2: 1 });
    const down = new Float64Array(n);
    down[j] = -1;
    rows.push({ g: down, b: -(lower[j] as number), norm2: 1 });
  }
  const a = Float64Array.from(mu);
  const lambda = new Float64Array(rows.length);
  let iterations = 0;
  let slack = violation(a, rows);
  // Stop when the iterate is feasible and no longer moving (primal and dual converged).
  let moved = Infinity;
  while ((slack > tol || moved > tol * 1e-2) && iterations < maxIterations) {
    moved = 0;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i] as { g: Float64Array; b: number; norm2: number };
      if (r.norm2 === 0) continue;
      let ga = 0;
      for (let k = 0; k < n; k++) ga += (r.g[k] as number) * (a[k] as number);
      const next = Math.max(0, (lambda[i] as number) + (ga - r.b) / r.norm2);
      const delta = next - (lambda[i] as number);
      if (delta === 0) continue;
      lambda[i] = next;
      moved = Math.max(moved, Math.abs(delta) * Math.sqrt(r.norm2));
      for (let k = 0; k < n; k++) a[k] = (a[k] as number) - delta * (r.g[k] as number);
    }
    iterations++;
    slack = violation(a, rows);
  }
  const infeasible = slack > Math.max(tol, 1e-6) || constantViolation > tol;
  if (infeasible) for (let k = 0; k < n; k++) a[k] = Math.min(upper[k] as number, Math.max(lower[k] as number, a[k] as number));
  const active: number[] = [];
  for (let i = 0; i < halfSpaces.length; i++) if ((lambda[i] as number) > 0) active.push(i);
  // Slack in the constraints' own units.
  let remaining = constantViolation;
  for (const h of halfSpaces) remaining = Math.max(remaining, Array.from(h.g).reduce((s, v, k) => s + v * (a[k] as number), 0) - h.b);
  for (let k = 0; k < n; k++) remaining = Math.max(remaining, (a[k] as number) - (upper[k] as number), (lower[k] as number) - (a[k] as number));
  return { action: a, active, slack: remaining, infeasible, iterations };
}

function violation(a: Float64Array, rows: readonly { g: Float64Array; b: number; norm2: number }[]): number {
  let worst = 0;
  for (const r of rows) {
    let ga = 0;
    for (let k = 0; k < a.length; k++) ga += (r.g[k] as number) * (a[k] as number);
    worst = Math.max(worst, ga - r.b);
  }
  return worst;
}
