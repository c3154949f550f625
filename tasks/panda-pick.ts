import type { EnvSpec } from '../control/env.js';
import type { Policy } from '../control/policy.js';
import type { Rng } from '../control/rng.js';
import { box } from '../control/spaces.js';
import { sub, type Vec3 } from '../sim/math3d.js';
import { checkEngine } from '../sim/physics-task.js';
import type { EngineName, PhysicsFactory, SceneObject } from '../sim/physics.js';
import type { TaskStep } from '../sim/sim-env.js';
import { intentPolicy, pandaActions } from './panda-action.js';
import { checkSuccessHold, PANDA_ARM_OBSERVATION_NAMES, PandaTask, xyzNames, type PandaActionMap } from './panda.js';

const CUBE_HALF = 0.025;
/** Lift that counts as success, m (the cube's centre above where it started). */
export const PICK_SUCCESS_LIFT = 0.1;
/** SERL's normalisation of the lift reward: full at 20 cm (`_z_success = _z_init + 0.2`). */
const LIFT_SCALE = 0.2;
/** Tier 0 workspace of the pick task: as the push task's, control points 2 cm above the table (the pads reach the cube's sides). */
export const PANDA_PICK_WORKSPACE = { min: [-0.9, -0.9, 0.02], max: [0.9, 0.9, 1.2] } as const;

/** Names of the 32 observation entries. */
export const PANDA_PICK_OBSERVATION_NAMES: readonly string[] = [
  ...PANDA_ARM_OBSERVATION_NAMES, 'gripper width', ...xyzNames('cube'), ...xyzNames('cube q', 'xyzw'), ...xyzNames('cube v'), ...xyzNames('cube−tcp'), 'grasped',
];

/**
 * `PandaPickCube-v0`, after SERL's franka_sim PandaPickCube: grasp a 5 cm cube on the table and
 * lift it.
 *
 * - Observation (32): q (7), q̇ (7), TCP (3), gripper width (1, m between the pads), cube
 *   position (3), cube orientation (4, quaternion x y z w, w ≥ 0), cube velocity (3),
 *   cube − TCP (3), grasped (1: both finger pads touch the cube).
 * - Action: `action` option — joint deltas + gripper (8, the default) or the tool frame
 *   `{ frame: tcp }`: Δ TCP (3, ≤ 3 cm a step) [+ yaw] + gripper; the gripper entry is the finger
 *   opening target, −1 closed … +1 open (8 cm).
 * - Reward (`reward: dense`, the default): SERL's 0.3·exp(−20·d) + 0.7·lift, d = ‖TCP − cube‖ (m),
 *   lift = clip((z − z₀) / 0.2 m, 0, 1); `reward: sparse`: 1 on a success step, else 0.
 * - Success: the cube's centre ≥ 10 cm above its start (SERL's env has no success rule of its
 *   own; its lift term saturates at 20 cm). With the sparse reward the episode ends after
 *   `successHold` such steps in a row (default 1). With the dense reward it runs to the time
 *   limit, as SERL's does (`terminateOnSuccess` to change either): a positive reward per step and
 *   an episode that ends on success teach a learner to hold the cube just below the success
 *   height, where the reward keeps coming — measured: success (any step) peaked at 40% and fell to 0% while
 *   the return kept rising. The cube leaving the table ends the episode (failure). 100 steps (4 s).
 * - Reset: READY + U(±0.02) rad, fingers open; cube at x ∈ [0.3, 0.6], y ∈ [−0.2, 0.2] m, flat,
 *   axis-aligned (SERL samples 0.3 m × 0.5 m in front of the robot).
 * - Cube: 5 cm, `cubeMass` kg (0.01–0.5, default 0.05), friction 1.
 * - Constraints: `joint_velocity`, `table_contact` (the finger pads count).
 */
export class PandaPickCube extends PandaTask {
  static readonly ID = 'PandaPickCube-v0';
  readonly spec: EnvSpec;
  override readonly workspace = PANDA_PICK_WORKSPACE;
  private readonly sparse: boolean;
  private readonly successHold: number;
  private held = 0;
  private z0 = CUBE_HALF;

  /**
   * @param options.action what actions mean (panda-action.ts); the gripper entry is always there.
   * @param options.reward `dense` (default, SERL's) or `sparse` (1 on success).
   * @param options.cubeMass kg, 0.01–0.5 (default 0.05).
   * @param options.successHold steps the cube must stay lifted before the episode ends (default 1).
   * @param options.terminateOnSuccess end the episode on success (default: with the sparse reward only).
   * @param options.engine physics engine, `rapier` (default) or `mujoco`.
   */
  constructor(options: { action?: unknown; reward?: unknown; cubeMass?: number; successHold?: number; terminateOnSuccess?: unknown; engine?: EngineName | PhysicsFactory } = {}) {
    const reward = options.reward ?? 'dense';
    if (reward !== 'dense' && reward !== 'sparse') throw new RangeError(`Expected option \`reward\` to be "dense" or "sparse", got \`${String(reward)}\``);
    const terminate = options.terminateOnSuccess ?? reward === 'sparse';
    if (typeof terminate !== 'boolean') throw new RangeError(`Expected option \`terminateOnSuccess\` to be true or false, got \`${String(terminate)}\``);
    const mass = options.cubeMass ?? 0.05;
    if (!(mass >= 0.01 && mass <= 0.5)) throw new RangeError(`Expected option \`cubeMass\` to be a mass in [0.01, 0.5] kg, got \`${mass}\``);
    const hold = checkSuccessHold(options.successHold);
    const actions = pandaActions(options.action, true);
    if (actions.gripperIndex < 0) throw new RangeError('Option `action.gripper` must stay true on PandaPickCube-v0 (picking needs the fingers)');
    const cube: SceneObject = { name: 'cube', kind: 'box', size: [CUBE_HALF, CUBE_HALF, CUBE_HALF], position: [0.45, 0, CUBE_HALF], mass, friction: 1 };
    super(checkEngine(options.engine), [cube], actions);
    this.sparse = reward === 'sparse';
    this.successHold = hold;
    this.spec = {
      id: PandaPickCube.ID,
      observationSpace: box(-Infinity, Infinity, [32]),
      actionSpace: this.actions.space,
      controlHz: 25,
      maxEpisodeSteps: 100,
      constraints: ['joint_velocity', 'table_contact'],
      kind: 'sim',
      observationNames: PANDA_PICK_OBSERVATION_NAMES,
      actionNames: this.actions.names,
      successEnds: terminate,
    };
  }

  protected resetTask(rng: Rng): { obs: Float32Array } {
    this.resetArm(rng, 0.02);
    this.held = 0;
    const x = rng.uniform(0.3, 0.6);
    const y = rng.uniform(-0.2, 0.2);
    this.physics.placeObject('cube', [x, y, CUBE_HALF]);
    this.z0 = CUBE_HALF;
    return { obs: this.observation() };
  }

  protected override afterStep(): TaskStep {
    const tcp = this.tcp();
    const cube = this.physics.objectPose('cube').p;
    const d = Math.hypot(...sub(cube, tcp));
    const lift = Math.min(1, Math.max(0, (cube[2] - this.z0) / LIFT_SCALE));
    const success = cube[2] - this.z0 >= PICK_SUCCESS_LIFT;
    this.held = success ? this.held + 1 : 0;
    const grasped = this.grasping('cube');
    return {
      obs: this.observe(tcp, grasped),
      reward: this.sparse ? (success ? 1 : 0) : 0.3 * Math.exp(-20 * d) + 0.7 * lift,
      costs: Float32Array.from(this.armCosts()),
      terminated: (this.spec.successEnds === true && this.held >= this.successHold) || cube[2] < -0.1,
      success,
      metrics: { tcpToCube: d, lift: cube[2] - this.z0, grasped: grasped ? 1 : 0, gripperWidth: this.gripperWidth() },
    };
  }

  protected override observation(): Float32Array {
    return this.observe(this.tcp(), this.grasping('cube'));
  }

  private observe(tcp: Vec3, grasped: boolean): Float32Array {
    const pose = this.physics.objectPose('cube');
    const q = pose.q[3] < 0 ? pose.q.map((v) => -v) : pose.q;
    const o = new Float32Array(32);
    o.set(this.q, 0);
    o.set(this.qd, 7);
    o.set(tcp, 14);
    o[17] = this.gripperWidth();
    o.set(pose.p, 18);
    o.set(q, 21);
    o.set(this.physics.objectVelocity('cube'), 25);
    o.set(sub(pose.p, tcp), 28);
    o[31] = grasped ? 1 : 0;
    return o;
  }
}

/**
 * Scripted expert for PandaPickCube-v0 (demos and the simulated person), a function of the
 * observation only: over the cube with the fingers open, down to it, close, lift — and from the
 * top again whenever the cube is not between the pads. Acts in `actions`' frame.
 */
export function pandaPickExpert(actions?: PandaActionMap): Policy {
  return intentPolicy((obs) => {
    const tcp: Vec3 = [obs[14] as number, obs[15] as number, obs[16] as number];
    const cube: Vec3 = [obs[18] as number, obs[19] as number, obs[20] as number];
    const width = obs[17] as number;
    const xy = Math.hypot(cube[0] - tcp[0], cube[1] - tcp[1]);
    const between = xy < 0.015 && Math.abs(cube[2] - tcp[2]) < 0.02;
    // Holding: the pads stopped on the cube (not closed on air) — lift, slowly for the first
    // centimetres (a full-speed start threw the cube out of the pads on MuJoCo: 13/20 → 16/20).
    // A held cube may sit off the TCP by more than the closing test allows (it swings in
    // MuJoCo's softer grasp): opening for it dropped 9 of 20 lifted cubes there.
    const held = xy < 0.03 && Math.abs(cube[2] - tcp[2]) < 0.03;
    if (held && width < 0.056 && width > 0.03) return { goal: [cube[0], cube[1], 0.3], maxStep: Math.min(0.04, 0.01 + 0.5 * Math.max(0, cube[2] - CUBE_HALF)), opening: 0 };
    // At the cube: close.
    if (between) return { goal: [cube[0], cube[1], CUBE_HALF], maxStep: 0.02, opening: 0 };
    // Otherwise, open: toward the cube down a cone (3 cm higher per cm off to the side, at most
    // 12 cm above it), so the pads come down on both sides of it, never on its top.
    return { goal: [cube[0], cube[1], cube[2] + Math.min(0.12, 3 * Math.max(0, xy - 0.005))], maxStep: 0.05, opening: 0.04 };
  }, actions ?? pandaActions(undefined, true));
}
