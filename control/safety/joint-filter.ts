/** Joint limits: position bounds, speed limits (per joint, rad or m, per second). */
export interface JointLimits {
  readonly lower: ArrayLike<number>;
  readonly upper: ArrayLike<number>;
  readonly velocity: ArrayLike<number>;
}

export interface JointFilterOptions {
  /** Control period, s: the time a command has to be reached in. */
  readonly dt: number;
  /** Keep-away margin inside each hard position bound. Default 0.02 (rad or m). */
  readonly margin?: number;
  /**
   * Soft-limit zone: within this distance of a (margin-shrunk) bound, the speed allowed toward
   * it scales linearly down to 0 at the bound (as ros2_control's soft joint limits). Default 0.2.
   */
  readonly softZone?: number;
  /**
   * Braking: with measured joint velocities `qd`, a joint moving toward a bound faster than it
   * can stop within the remaining distance at this deceleration (v² > 2·a·d) is commanded no
   * further, so its position controller brakes. rad/s² (m/s²). Default 2.
   */
  readonly brakingDecel?: number;
}

/** {@link JointFilterOptions.brakingDecel}'s default, rad/s². */
export const DEFAULT_BRAKING_DECEL = 2;

/** What the filter changed, for counting limit hits. */
export interface JointFilterReport {
  /** Joints whose position target was clamped by a position bound. */
  positionHits: number;
  /** Joints whose target was clamped by the (soft-limit-scaled) speed limit. */
  velocityHits: number;
}

/**
 * Tier 0 filter for a joint-position command: returns the target closest to `target` that
 * (a) stays inside [lower + margin, upper − margin], and (b) is reachable from the current
 * position `q` within one control period at the speed limit, scaled down near a bound.
 *
 * With measured velocities `qd`, (c) a joint too fast to stop before its bound is commanded no
 * further (see `brakingDecel`).
 *
 * Properties (tested with fast-check): the output always satisfies (a) and (b) when q is inside
 * the bounds; a target that already satisfies them (and, with qd, (c)) passes unchanged;
 * filtering twice equals filtering once. If q itself is outside the bounds (after a disturbance), only motion back
 * toward the allowed range is permitted.
 */
export function filterJointTargets(target: ArrayLike<number>, q: ArrayLike<number>, limits: JointLimits, options: JointFilterOptions, out = new Float64Array(target.length), report?: JointFilterReport, qd?: ArrayLike<number>): Float64Array {
  const margin = options.margin ?? 0.02;
  const zone = options.softZone ?? 0.2;
  const decel = options.brakingDecel ?? DEFAULT_BRAKING_DECEL;
  for (let i = 0; i < target.length; i++) {
    const t = target[i] as number;
    if (!Number.isFinite(t)) throw new RangeError(`joint ${i}: target is ${t}`);
    const lo = (limits.lower[i] as number) + margin;
    const hi = (limits.upper[i] as number) - margin;
    const qi = q[i] as number;
    const vmax = limits.velocity[i] as number;
    // Speed allowed toward each bound, scaled down inside the soft zone.
    const upScale = zone > 0 ? clamp((hi - qi) / zone, 0, 1) : hi > qi ? 1 : 0;
    const downScale = zone > 0 ? clamp((qi - lo) / zone, 0, 1) : qi > lo ? 1 : 0;
    let maxT = Math.min(hi, qi + vmax * upScale * options.dt);
    let minT = Math.max(lo, qi - vmax * downScale * options.dt);
    if (qd) {
      const v = qd[i] as number;
      if (v > 0 && v * v > 2 * decel * Math.max(hi - qi, 0)) maxT = Math.min(maxT, qi);
      if (v < 0 && v * v > 2 * decel * Math.max(qi - lo, 0)) minT = Math.max(minT, qi);
    }
    // q outside the bounds (pushed there by a disturbance or the other joints' reaction
    // torques): command it back toward the range, at up to full speed. Holding it where it is
    // would leave the position controller with no error to push back with, and the joint would
    // keep drifting (measured in the Tier 0 fuzz).
    if (qi > hi) {
      minT = Math.max(lo, qi - vmax * options.dt);
      maxT = Math.max(hi, minT);
    } else if (qi < lo) {
      maxT = Math.min(hi, qi + vmax * options.dt);
      minT = Math.min(lo, maxT);
    }
    if (minT > maxT) minT = maxT = clamp(qi, lo, hi);
    const v = clamp(t, minT, maxT);
    if (report && v !== t) {
      if ((t > hi && v === hi) || (t < lo && v === lo)) report.positionHits++;
      else report.velocityHits++;
    }
    out[i] = v;
  }
  return out;
}

/**
 * Per-step action rate limit: each element of `action` moves at most `maxDelta` from
 * `previous`. Returns the number of elements clamped.
 */
export function limitRate(action: Float32Array, previous: ArrayLike<number>, maxDelta: number): number {
  let hits = 0;
  for (let i = 0; i < action.length; i++) {
    const p = previous[i] as number;
    const v = clamp(action[i] as number, p - maxDelta, p + maxDelta);
    if (v !== action[i]) hits++;
    action[i] = v;
  }
  return hits;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
