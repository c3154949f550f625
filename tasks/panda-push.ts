import type { EnvSpec } from '../control/env.js';
import type { Rng } from '../control/rng.js';
import { box } from '../control/spaces.js';
import { checkEngine } from '../sim/physics-task.js';
import type { EngineName, PhysicsFactory, SceneObject } from '../sim/physics.js';
import type { SceneShape } from '../control/scene.js';
import { sub, type Pose, type Vec3 } from '../sim/math3d.js';
import type { TaskStep } from '../sim/sim-env.js';
import { intentPolicy, pandaActions } from './panda-action.js';
import type { Policy } from '../control/policy.js';
import { type PandaActionMap, checkSuccessHold, PANDA_ARM_OBSERVATION_NAMES, PandaTask, xyzNames } from './panda.js';

const CUBE_HALF = 0.025;
/** The cube: 5 cm, 0.1 kg, on the table. */
const CUBE: SceneObject = { name: 'cube', kind: 'box', size: [CUBE_HALF, CUBE_HALF, CUBE_HALF], position: [0.5, 0, CUBE_HALF], mass: 0.1, friction: 0.5 };
/**
 * The push task's start: the TCP 15 cm above the table at (0.45, 0), hand down (READY's
 * orientation; IK from READY). From READY the TCP is 49 cm up and the position servos move it
 * ~1 cm a step: the descent alone took half of an episode's 100 steps, leaving too few to go round
 * the cube and push it (the expert failed 9 of 30).
 */
export const PANDA_PUSH_READY: readonly number[] = [0, 0.0321, 0, -2.5653, 0, 2.5973, Math.PI / 4];
/** `PandaPush-v1` observes cube − TCP and goal − cube in decimetres: metres × this. */
export const PUSH_RELATIVE_SCALE = 10;
/** Tier 0 workspace of the push task: as the table-top box, but down to 2 cm above the table. */
export const PANDA_PUSH_WORKSPACE = { min: [-0.9, -0.9, 0.02], max: [0.9, 0.9, 1.2] } as const;

/**
 * `PandaPush-v0`: push a 5 cm, 0.1 kg cube across the table to a goal, through contacts (the
 * gripper is closed; there is no grasping).
 *
 * - Observation (30): q (7), q̇ (7), TCP (3), cube position (3), cube velocity (3), goal xy (2),
 *   cube − TCP (3), goal − cube xy (2); all in metres in `PandaPush-v0`. **`PandaPush-v1`** gives
 *   the last two in decimetres ({@link PUSH_RELATIVE_SCALE}), nothing else changed: they span
 *   ±0.3 m while a push is won or lost by a centimetre (success radius 5 cm), and beside joint
 *   angles of ±2.5 rad a first layer barely resolves 0.01. configs/panda-push-rlpd.yaml,
 *   seeds 0 / 1 / 2: 80% first at — / 20k / 22.5k steps on v1 (peak 70% on seed 0), never by 30k
 *   on v0; with its 20 demos from spread starts and 3-step returns 25k / 27.5k / 20k
 *   (docs/benchmarks.md, "PandaPush-v1" and after).
 * - Action: as PandaReach-v0 (joint-target deltas, ≤ 0.08 rad per step).
 * - Reward: −‖cube − goal‖_xy − 0.2·‖TCP − cube‖ (m). The second, smaller term shapes the
 *   approach (panda-gym's dense push reward has only the first and needs ~1M steps).
 * - Success: cube within 5 cm of the goal (xy); terminates (after `successHold` such steps in a
 *   row, default 1). Also terminates (failure) if the cube leaves the table, with that step's
 *   reward counted for all 100 steps of an episode: every step pays a penalty, so an end without
 *   one would make pushing the cube off the table the cheapest way out. 100 steps (4 s).
 * - Reset: PANDA_PUSH_READY (the TCP 15 cm above the table) + U(±0.02) rad; cube at x ∈ [0.4, 0.6], y ∈ [−0.15, 0.15]; goal in
 *   x ∈ [0.4, 0.65], y ∈ [−0.2, 0.2] at least 10 cm from the cube.
 * - Constraints: `joint_velocity`, `table_contact` (see PandaTask).
 */
export class PandaPush extends PandaTask {
  static readonly ID = 'PandaPush-v0';
  /** The same task observing its relative vectors in decimetres (see above). */
  static readonly ID_V1 = 'PandaPush-v1';
  readonly spec: EnvSpec;
  /** Metres × this for cube − TCP and goal − cube in the observation: 1 (v0) or PUSH_RELATIVE_SCALE (v1). */
  private readonly relativeScale: number;
  /**
   * Pushing puts the fingers at cube height (the expert pushes with the TCP 3.5 cm above the
   * table), below the 8 cm the reach tasks keep: here every control point stays 2 cm above the
   * table. Under the 8 cm box no push could ever succeed (0 of 100 expert episodes did).
   */
  override readonly workspace = PANDA_PUSH_WORKSPACE;
  private goal: [number, number] = [0.55, 0];

  private readonly successHold: number;
  private held = 0;

  /**
   * @param options.successHold steps the cube must stay within 5 cm of the goal before the
   *   episode ends as a success (default 1: the first such step ends it). Longer holds are what
   *   a person labelling success frames for a reward classifier does.
   * @param options.engine physics engine, `rapier` (default) or `mujoco`.
   * @param options.action what actions mean: joint deltas (default) or `{ frame: tcp }` (see
   *   panda-action.ts); the fingers stay closed unless `gripper: true`.
   * @param version 0 (`PandaPush-v0`, relative vectors in metres) or 1 (`PandaPush-v1`, in decimetres).
   */
  constructor(options: { successHold?: number; engine?: EngineName | PhysicsFactory; action?: unknown } = {}, version: 0 | 1 = 0) {
    const hold = checkSuccessHold(options.successHold);
    // Before the engine is built: nothing to free on a bad version.
    if (version !== 0 && version !== 1) throw new RangeError(`PandaPush: version must be 0 or 1, got ${String(version)}`);
    super(checkEngine(options.engine), [CUBE], pandaActions(options.action));
    this.successHold = hold;
    this.relativeScale = version === 1 ? PUSH_RELATIVE_SCALE : 1;
    this.spec = {
      id: this.relativeScale === 1 ? PandaPush.ID : PandaPush.ID_V1,
      observationSpace: box(-Infinity, Infinity, [30]),
      actionSpace: this.actions.space,
      controlHz: 25,
      maxEpisodeSteps: 100,
      constraints: ['joint_velocity', 'table_contact'],
      kind: 'sim',
      // In the order observe() writes them.
      observationNames: [...PANDA_ARM_OBSERVATION_NAMES, ...xyzNames('cube'), ...xyzNames('cube v'), ...xyzNames('goal', 'xy'), ...this.relativeNames('cube−tcp', 'xyz'), ...this.relativeNames('goal−cube', 'xy')],
      actionNames: this.actions.names,
    };
  }

  /** Names of a relative vector's entries, with the unit where it is not metres. */
  private relativeNames(name: string, axes: string): string[] {
    return xyzNames(name, axes).map((n) => (this.relativeScale === 1 ? n : `${n} (dm)`));
  }

  protected resetTask(rng: Rng): { obs: Float32Array } {
    this.resetArm(rng, 0.02, PANDA_PUSH_READY);
    this.held = 0;
    const cx = rng.uniform(0.4, 0.6);
    const cy = rng.uniform(-0.15, 0.15);
    do {
      this.goal = [rng.uniform(0.4, 0.65), rng.uniform(-0.2, 0.2)];
    } while (Math.hypot(this.goal[0] - cx, this.goal[1] - cy) < 0.1);
    this.physics.placeObject(CUBE.name, [cx, cy, CUBE_HALF]);
    return { obs: this.observe(this.tcp()) };
  }

  protected override afterStep(): TaskStep {
    const tcp = this.tcp();
    const cube = this.cubePosition();
    const toGoal = Math.hypot(cube[0] - this.goal[0], cube[1] - this.goal[1]);
    const reach = Math.hypot(...sub(cube, tcp));
    const success = toGoal < 0.05;
    this.held = success ? this.held + 1 : 0;
    const fellOff = cube[2] < -0.1;
    // Off the table: 100 steps of this step's penalty at once — at least what staying would cost
    // discounted at any γ ≤ 0.99 (≤ 1/(1 − γ) steps) and under any time limit, so never a way out.
    const reward = -toGoal - 0.2 * reach;
    return {
      obs: this.observe(tcp),
      reward: fellOff ? reward * (this.spec.maxEpisodeSteps as number) : reward,
      costs: Float32Array.from(this.armCosts()),
      terminated: this.held >= this.successHold || fellOff,
      success,
      metrics: { cubeToGoal: toGoal, tcpToCube: reach },
    };
  }

  private cubePosition(): Vec3 {
    return this.physics.objectPose(CUBE.name).p;
  }

  /** The goal: a flat disc of the 5 cm success radius on the table. */
  protected override sceneMarkers(): { shape: SceneShape; pose: Pose }[] {
    // Cylinders lie along local y: turn it upright (90° about x).
    return [{ shape: { name: 'goal', kind: 'cylinder', size: [0.05, 0.001], role: 'target' }, pose: { p: [this.goal[0], this.goal[1], 0.001], q: [Math.SQRT1_2, 0, 0, Math.SQRT1_2] } }];
  }

  protected override observation(): Float32Array {
    return this.observe(this.tcp());
  }

  private observe(tcp: Vec3): Float32Array {
    const cube = this.cubePosition();
    const o = new Float32Array(30);
    o.set(this.q, 0);
    o.set(this.qd, 7);
    o.set(tcp, 14);
    o.set(cube, 17);
    o.set(this.physics.objectVelocity(CUBE.name), 20);
    o.set(this.goal, 23);
    const k = this.relativeScale;
    o[25] = k * ((cube[0] as number) - (tcp[0] as number));
    o[26] = k * ((cube[1] as number) - (tcp[1] as number));
    o[27] = k * ((cube[2] as number) - (tcp[2] as number));
    o[28] = k * (this.goal[0] - (cube[0] as number));
    o[29] = k * (this.goal[1] - (cube[1] as number));
    return o;
  }
}

/**
 * Scripted expert for PandaPush-v0 and -v1 (it reads only entries both give in metres), a function of the observation only: travel over the cube's
 * height (TCP 7.5 cm up) to a point behind the cube on the cube→goal line, descend, then push along the line; re-align (rise and
 * come round) whenever the cube drifts sideways.
 */
export function pandaPushExpert(actions?: PandaActionMap): Policy {
  return intentPolicy((obs) => {
    const tcp: Vec3 = [obs[14] as number, obs[15] as number, obs[16] as number];
    const cube: Vec3 = [obs[17] as number, obs[18] as number, obs[19] as number];
    const gx = obs[23] as number;
    const gy = obs[24] as number;
    const len = Math.hypot(gx - cube[0], gy - cube[1]) || 1;
    const dx = (gx - cube[0]) / len;
    const dy = (gy - cube[1]) / len;
    const rx = tcp[0] - cube[0];
    const ry = tcp[1] - cube[1];
    const along = rx * dx + ry * dy;
    const lateral = Math.abs(rx * dy - ry * dx);
    const pre: Vec3 = [cube[0] - 0.06 * dx, cube[1] - 0.06 * dy, 0.075];
    const low = 0.035;
    let goal: Vec3;
    if (along < -0.03 && lateral < 0.02 && tcp[2] < low + 0.01) goal = [cube[0] + 0.05 * dx, cube[1] + 0.05 * dy, low];
    else if (Math.hypot(tcp[0] - pre[0], tcp[1] - pre[1]) < 0.015) goal = [pre[0], pre[1], low];
    else goal = pre;
    return { goal, maxStep: 0.03 };
  }, actions);
}
