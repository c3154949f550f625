import type { EnvSpec } from '../control/env.js';
import type { Rng } from '../control/rng.js';
import { box } from '../control/spaces.js';
import { checkEngine } from '../sim/physics-task.js';
import type { EngineName, PhysicsFactory } from '../sim/physics.js';
import type { SceneShape } from '../control/scene.js';
import { sub, type Pose, type Vec3 } from '../sim/math3d.js';
import type { TaskStep } from '../sim/sim-env.js';
import { intentPolicy, pandaActions } from './panda-action.js';
import type { Policy } from '../control/policy.js';
import { type PandaActionMap, checkSuccessHold, PANDA_ARM_OBSERVATION_NAMES, PandaTask, xyzNames } from './panda.js';

/**
 * `PandaReach-v0`: bring the Panda's tool centre point to a random target.
 *
 * - Observation (23): q (7), q̇ (7), TCP position (3), target (3), target − TCP (3); metres, rad.
 * - Action: a ∈ [−1, 1]⁷, joint targets q + 0.08·a rad (≤ 2 rad/s at 25 Hz), clipped to the limits.
 * - Reward: −‖TCP − target‖ (m).
 * - Success: TCP within 5 cm of the target; terminates the episode (after `successHold` such
 *   steps in a row, default 1). 50 steps (2 s).
 * - Reset: READY pose + U(±0.1) rad per joint; target uniform in x ∈ [0.3, 0.6],
 *   y ∈ [−0.3, 0.3], z ∈ [0.1, 0.5] m (in front of the robot, above the table).
 * - Constraints: `joint_velocity`, `table_contact` (see PandaTask).
 */
export class PandaReach extends PandaTask {
  static readonly ID = 'PandaReach-v0';
  readonly spec: EnvSpec = {
    id: PandaReach.ID,
    observationSpace: box(-Infinity, Infinity, [23]),
    actionSpace: this.actions.space,
    controlHz: 25,
    maxEpisodeSteps: 50,
    constraints: ['joint_velocity', 'table_contact'],
    kind: 'sim',
    observationNames: PANDA_REACH_OBSERVATION_NAMES,
    actionNames: this.actions.names,
  };
  private goal: Vec3 = [0.45, 0, 0.3];
  private readonly successHold: number;
  private held = 0;

  /**
   * @param options.successHold steps the TCP must stay within 5 cm before the episode ends as a success (default 1).
   * @param options.engine physics engine, `rapier` (default) or `mujoco`.
   * @param options.action what actions mean: joint deltas (default) or `{ frame: tcp }` (see panda-action.ts).
   */
  constructor(options: { successHold?: number; engine?: EngineName | PhysicsFactory; action?: unknown } = {}) {
    super(checkEngine(options.engine), [], pandaActions(options.action));
    this.successHold = checkSuccessHold(options.successHold);
  }

  protected resetTask(rng: Rng): { obs: Float32Array } {
    this.resetArm(rng, 0.1);
    this.held = 0;
    this.goal = [rng.uniform(0.3, 0.6), rng.uniform(-0.3, 0.3), rng.uniform(0.1, 0.5)];
    return { obs: this.observe(this.tcp()) };
  }

  protected override afterStep(): TaskStep {
    const tcp = this.tcp();
    const dist = Math.hypot(...sub(tcp, this.goal));
    const success = dist < 0.05;
    this.held = success ? this.held + 1 : 0;
    return { obs: this.observe(tcp), reward: -dist, costs: Float32Array.from(this.armCosts()), terminated: this.held >= this.successHold, success, metrics: { distance: dist } };
  }

  protected override sceneMarkers(): { shape: SceneShape; pose: Pose }[] {
    return [reachGoalMarker(this.goal)];
  }

  private observe(tcp: Vec3): Float32Array {
    return pandaReachObservation(this.q, this.qd, tcp, this.goal);
  }

  protected override observation(): Float32Array {
    return this.observe(this.tcp());
  }
}

/** The names of the reach observation's 23 entries (see {@link pandaReachObservation}). */
export const PANDA_REACH_OBSERVATION_NAMES: readonly string[] = [...PANDA_ARM_OBSERVATION_NAMES, ...xyzNames('goal'), ...xyzNames('goal−tcp')];

/**
 * The reach observation (23, or more with `extra` appended): q, q̇, TCP, goal, goal − TCP. One
 * function for the simulated task and the robot task (robots/task.ts), so their layouts agree.
 */
export function pandaReachObservation(q: ArrayLike<number>, qd: ArrayLike<number>, tcp: Vec3, goal: Vec3, extra: readonly number[] = []): Float32Array {
  // Element by element: `set` from plain arrays and the Array.from copies took ~4 µs of a
  // ~300 µs MuJoCo step, this ~0.8 µs (issue 21's env-over-raw aim).
  const o = new Float32Array(23 + extra.length);
  for (let i = 0; i < 7; i++) {
    o[i] = q[i] as number;
    o[7 + i] = qd[i] as number;
  }
  const [x, y, z] = tcp;
  const [gx, gy, gz] = goal;
  o[14] = x;
  o[15] = y;
  o[16] = z;
  o[17] = gx;
  o[18] = gy;
  o[19] = gz;
  o[20] = gx - x;
  o[21] = gy - y;
  o[22] = gz - z;
  for (let i = 0; i < extra.length; i++) o[23 + i] = extra[i] as number;
  return o;
}

/** A reach goal for the viewer: the 5 cm success sphere (the simulated and the robot task). */
export function reachGoalMarker(goal: Vec3): { shape: SceneShape; pose: Pose } {
  return { shape: { name: 'goal', kind: 'sphere', size: [0.05], role: 'target' }, pose: { p: goal, q: [0, 0, 0, 1] } };
}

/** Scripted expert for PandaReach-v0: damped-least-squares IK toward the target, hand kept pointing down (in `actions`' frame; default joint deltas). */
export function pandaReachExpert(actions?: PandaActionMap): Policy {
  return intentPolicy((obs) => ({ goal: [obs[17] as number, obs[18] as number, obs[19] as number], maxStep: 0.04 }), actions);
}
