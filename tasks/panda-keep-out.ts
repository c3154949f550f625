import type { EnvSpec } from '../control/env.js';
import type { Rng } from '../control/rng.js';
import type { LinearizedConstraint, ShieldModel } from '../control/safety/shield.js';
import { box } from '../control/spaces.js';
import { loadDescription } from '../sim/descriptions.js';
import { checkEngine } from '../sim/physics-task.js';
import type { EngineName, PhysicsFactory } from '../sim/physics.js';
import type { SceneShape } from '../control/scene.js';
import { sub, type Pose, type Vec3 } from '../sim/math3d.js';
import type { TaskStep } from '../sim/sim-env.js';
import { clamp, PANDA_JOINT_ACTION_NAMES, PANDA_MAX_DELTA, PandaTask, pandaIkStep, pandaTcpJacobian, pandaTcpPose, xyzNames } from './panda.js';
import { pandaActions } from './panda-action.js';
import { PANDA_REACH_OBSERVATION_NAMES, pandaReachObservation, reachGoalMarker } from './panda-reach.js';

/** Nominal goal of the keep-out reach (each episode adds U(±3 cm) per axis). */
export const KEEP_OUT_GOAL: Vec3 = [0.6, 0, 0.2];
/** TCP of the READY pose, where every episode starts (± joint noise). */
const START_TCP: Vec3 = [0.307, 0, 0.487];
/** The keep-out sphere: centred halfway along the straight path from start to goal. */
export const KEEP_OUT_CENTER: Vec3 = [(START_TCP[0] + KEEP_OUT_GOAL[0]) / 2, 0, (START_TCP[2] + KEEP_OUT_GOAL[2]) / 2];
export const KEEP_OUT_RADIUS = 0.08;

/**
 * `PandaKeepOut-v0`: the Panda reach with a keep-out sphere (radius 8 cm, e.g. a fragile object)
 * halfway along the straight path from the start to the goal, so success needs going around it.
 *
 * - Observation (26): PandaReach's 23 (q, q̇, TCP, goal, goal − TCP), then TCP − sphere centre.
 * - Action: joint-target changes a ∈ [−1, 1]⁷ × 0.08 rad. Reward −‖TCP − goal‖ (m).
 * - Reset: READY ± 0.05 rad per joint; goal (0.6, 0, 0.2) ± 3 cm per axis.
 * - Success: TCP within 5 cm of the goal. No early termination: every episode runs its 60
 *   steps, so the arm has to get there and stay (−distance keeps accruing), and a path that
 *   sweeps through the goal and on past it pays for the overshoot. (With termination on
 *   success, learned deterministic paths grazed the 5 cm ball and overshot.)
 * - Constraints: `keep_out` (1 on each step the TCP is inside the sphere), `joint_velocity`,
 *   `table_contact` (see PandaTask). The shield's model is {@link keepOutShieldModel}.
 */
export class PandaKeepOut extends PandaTask {
  static readonly ID = 'PandaKeepOut-v0';
  readonly spec: EnvSpec = {
    id: PandaKeepOut.ID,
    observationSpace: box(-Infinity, Infinity, [26]),
    actionSpace: box(-1, 1, [7]),
    controlHz: 25,
    maxEpisodeSteps: 60,
    // Runs on to the time limit past a success (a person's success button ends it truncated).
    successEnds: false,
    constraints: ['keep_out', 'joint_velocity', 'table_contact'],
    kind: 'sim',
    observationNames: [...PANDA_REACH_OBSERVATION_NAMES, ...xyzNames('tcp−sphere')],
    actionNames: PANDA_JOINT_ACTION_NAMES,
  };
  private goal: Vec3 = [...KEEP_OUT_GOAL];

  /** @param options.engine physics engine, `rapier` (default) or `mujoco`. */
  constructor(options: { engine?: EngineName | PhysicsFactory } = {}) {
    // Joint deltas only: the analytic shield model differentiates the keep-out distance with
    // respect to joint-delta actions.
    super(checkEngine(options.engine), [], pandaActions(undefined));
  }

  protected resetTask(rng: Rng): { obs: Float32Array } {
    this.resetArm(rng, 0.05);
    this.goal = [KEEP_OUT_GOAL[0] + rng.uniform(-0.03, 0.03), KEEP_OUT_GOAL[1] + rng.uniform(-0.03, 0.03), KEEP_OUT_GOAL[2] + rng.uniform(-0.03, 0.03)];
    return { obs: this.observe(this.tcp()) };
  }

  protected override afterStep(): TaskStep {
    const tcp = this.tcp();
    const dist = Math.hypot(...sub(tcp, this.goal));
    const clearance = Math.hypot(...sub(tcp, KEEP_OUT_CENTER)) - KEEP_OUT_RADIUS;
    const inside = clearance < 0;
    const success = dist < 0.05;
    const [fast, table] = this.armCosts();
    return { obs: this.observe(tcp), reward: -dist, costs: Float32Array.of(inside ? 1 : 0, fast, table), terminated: false, success, metrics: { distance: dist, keepOutDistance: clearance } };
  }

  /** The goal (5 cm success sphere) and the keep-out sphere. */
  protected override sceneMarkers(): { shape: SceneShape; pose: Pose }[] {
    return [
      reachGoalMarker(this.goal),
      { shape: { name: 'keep_out', kind: 'sphere', size: [KEEP_OUT_RADIUS], role: 'keep-out' }, pose: { p: [...KEEP_OUT_CENTER], q: [0, 0, 0, 1] } },
    ];
  }

  protected override observation(): Float32Array {
    return this.observe(this.tcp());
  }

  private observe(tcp: Vec3): Float32Array {
    return pandaReachObservation(this.q, this.qd, tcp, this.goal, sub(tcp, KEEP_OUT_CENTER));
  }
}

/**
 * The keep-out constraint, linearised in the action for the shield (analytic gradient):
 * h(a) = R + margin − ‖p(q + q̇·lead + 0.08·a) − c‖ ≤ 0 with p the TCP from forward kinematics.
 * At a = 0: h₀ = R + margin − ‖p(q̂) − c‖, ∇h = −0.08·J(q̂)ᵀ·n, n = (p − c)/‖p − c‖, where
 * q̂ = q + q̇·lead accounts for the arm coasting on its momentum (`lead` s; the arm lags its
 * targets, so the commanded step overstates the motion and the margin covers the rest).
 */
export function keepOutShieldModel(options: { margin?: number; lead?: number } = {}): ShieldModel {
  const robot = loadDescription('panda');
  const margin = options.margin ?? 0.03;
  const lead = options.lead ?? 0.04;
  return {
    constraints: ['keep_out'],
    linearize(obs: Float32Array): LinearizedConstraint[] {
      const q = Array.from({ length: 7 }, (_, i) => (obs[i] as number) + (obs[7 + i] as number) * lead);
      const p = pandaTcpPose(robot, q).p;
      const d = sub(p, KEEP_OUT_CENTER);
      const norm = Math.max(Math.hypot(...d), 1e-9);
      const n: Vec3 = [d[0] / norm, d[1] / norm, d[2] / norm];
      const J = pandaTcpJacobian(robot, q); // rows 0–2: the TCP position
      const g = Float64Array.from({ length: 7 }, (_, k) => -PANDA_MAX_DELTA * (n[0] * (J[0]?.[k] as number) + n[1] * (J[1]?.[k] as number) + n[2] * (J[2]?.[k] as number)));
      return [{ name: 'keep_out', value: KEEP_OUT_RADIUS + margin - norm, gradient: g, limit: 0 }];
    },
  };
}

/**
 * Scripted expert: IK toward a waypoint beside the sphere (10 cm off its surface), always on
 * its +y side, until the straight path to the goal clears the sphere by 3 cm, then toward the
 * goal. (From the waypoint itself that path clears it by 4–5 cm for every goal; a larger
 * clearance left the expert parked at the waypoint for a quarter of the goals.) One side only:
 * demonstrations that go round either way average, in a learner, into a path straight through
 * the sphere.
 */
export function pandaKeepOutExpert(): (obs: Float32Array) => Float32Array {
  const robot = loadDescription('panda');
  return (obs) => {
    const tcp: Vec3 = [obs[14] as number, obs[15] as number, obs[16] as number];
    const goal: Vec3 = [obs[17] as number, obs[18] as number, obs[19] as number];
    const clear = segmentDistance(tcp, goal, KEEP_OUT_CENTER) > KEEP_OUT_RADIUS + 0.03;
    const aim: Vec3 = clear ? goal : [KEEP_OUT_CENTER[0], KEEP_OUT_CENTER[1] + KEEP_OUT_RADIUS + 0.1, KEEP_OUT_CENTER[2]];
    const dq = pandaIkStep(robot, obs.subarray(0, 7), aim);
    return Float32Array.from(dq, (d) => clamp(d / PANDA_MAX_DELTA, -1, 1));
  };
}

/** Distance from point c to the segment a–b. */
function segmentDistance(a: Vec3, b: Vec3, c: Vec3): number {
  const ab = sub(b, a);
  const ac = sub(c, a);
  const len2 = ab[0] ** 2 + ab[1] ** 2 + ab[2] ** 2;
  const t = len2 > 0 ? clamp((ac[0] * ab[0] + ac[1] * ab[1] + ac[2] * ab[2]) / len2, 0, 1) : 0;
  return Math.hypot(ac[0] - t * ab[0], ac[1] - t * ab[1], ac[2] - t * ab[2]);
}
