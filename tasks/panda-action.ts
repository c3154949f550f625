import type { Policy } from '../control/policy.js';
import type { WorkspaceBox } from '../control/safety/workspace.js';
import { box, type Box } from '../control/spaces.js';
import { loadDescription } from '../sim/descriptions.js';
import { quatConj, quatFromAxisAngle, quatMul, sub, type Quat, type Vec3 } from '../sim/math3d.js';
import type { UrdfRobot } from '../sim/urdf/types.js';
import { clamp, dampedLeastSquares, PANDA_JOINT_ACTION_NAMES, PANDA_MAX_DELTA, PANDA_READY, pandaIkStep, pandaTcpJacobian, pandaTcpPose, type PandaActionMap } from './panda.js';

/**
 * A Panda task's `action` option: what the policy's action means.
 *
 * - `{ frame: 'joint' }` (the default): seven joint-target deltas, q + 0.08·a rad.
 * - `{ frame: 'tcp' }`: the end-effector frame, as SERL's franka_sim and panda-gym act — a TCP
 *   displacement Δp = {@link PANDA_TCP_STEP}·a[0..2] (world axes, at most 3 cm a step), then a
 *   yaw step about world z when `yaw: true` ({@link PANDA_YAW_STEP}·a), then the gripper when the
 *   task has one (`gripper`, default: whether the task grasps): a[last] ∈ [−1, 1] is the finger
 *   opening target, −1 closed, +1 open (8 cm between the pads). The hand keeps pointing down.
 */
export interface PandaActionOption {
  readonly frame: 'joint' | 'tcp';
  readonly yaw?: boolean;
  readonly gripper?: boolean;
}

/**
 * The first entries of a tool-frame action's names (`frame: tcp`), then `Δyaw` with `yaw: true`,
 * then `gripper`: how a teleop device knows the env acts in the tool frame already.
 */
export const PANDA_TCP_ACTION_NAMES: readonly string[] = ['Δtcp x', 'Δtcp y', 'Δtcp z'];

/** The largest TCP displacement one action asks for, m (the servos cover ~40% of it in the 40 ms step). */
export const PANDA_TCP_STEP = 0.05;
/**
 * How far inside the task's workspace box a tool-frame TCP target is clipped, m: the IK step is
 * first order, and its target lands within ~1.6 mm of the asked point for the largest joint step
 * (0.08 rad at ~0.5 m) — inside the box, so Tier 0 leaves it whole.
 */
export const PANDA_TCP_BOX_MARGIN = 0.002;
/** The largest yaw change one action asks for, rad. */
export const PANDA_YAW_STEP = 0.1;
/** The fingers' travel, m: a gripper action of +1 opens each to this, −1 closes. */
export const PANDA_FINGER_TRAVEL = 0.04;

/** Checks a task's `action` option (from YAML: no casts on its shape); `gripper` is the task's default. */
export function checkActionOption(value: unknown, gripperDefault: boolean): Required<PandaActionOption> {
  if (value === undefined) return { frame: 'joint', yaw: false, gripper: gripperDefault };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RangeError(`Expected option \`action\` to be an object such as { frame: tcp }, got \`${JSON.stringify(value)}\``);
  const o = value as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !['frame', 'yaw', 'gripper'].includes(k));
  if (unknown.length) throw new RangeError(`Option \`action\` has unknown key(s) ${unknown.map((k) => `\`${k}\``).join(', ')} (known: frame, yaw, gripper)`);
  if (o['frame'] !== 'joint' && o['frame'] !== 'tcp') throw new RangeError(`Expected option \`action.frame\` to be "joint" or "tcp", got \`${String(o['frame'])}\``);
  for (const k of ['yaw', 'gripper'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new RangeError(`Expected option \`action.${k}\` to be true or false, got \`${String(o[k])}\``);
  }
  if (o['frame'] === 'joint' && (o['yaw'] === true)) throw new RangeError('Option `action.yaw` needs `frame: tcp` (joint deltas turn the hand already)');
  return { frame: o['frame'], yaw: o['yaw'] === true, gripper: typeof o['gripper'] === 'boolean' ? o['gripper'] : gripperDefault };
}

/**
 * The action map for a task's `action` option (checked here; `gripper` defaults to whether the
 * task grasps), on the shipped Panda description.
 */
export function pandaActions(option: unknown, gripperDefault = false): PandaActions {
  const robot = loadDescription('panda');
  return new PandaActions(checkActionOption(option, gripperDefault), robot);
}

/**
 * The map between a Panda task's actions and joint targets for one action option: what the task
 * commands, what Tier 0 filters (`toTargets` / `toAction`) and the names a person sees. Pure: the
 * task keeps the state (q, the last gripper command).
 */
export class PandaActions implements PandaActionMap {
  readonly space: Box;
  readonly names: readonly string[];
  readonly frame: 'joint' | 'tcp';
  /** Index of the gripper entry, or −1. */
  readonly gripperIndex: number;
  private readonly armSize: number;

  constructor(
    readonly option: Required<PandaActionOption>,
    private readonly robot: UrdfRobot,
  ) {
    this.frame = option.frame;
    const arm = option.frame === 'joint' ? [...PANDA_JOINT_ACTION_NAMES] : [...PANDA_TCP_ACTION_NAMES, ...(option.yaw ? ['Δyaw'] : [])];
    this.armSize = arm.length;
    this.gripperIndex = option.gripper ? arm.length : -1;
    this.names = option.gripper ? [...arm, 'gripper'] : arm;
    this.space = box(-1, 1, [this.names.length]);
  }

  /**
   * The arm's joint targets for `action` from joint positions `q` (not clipped to the joint
   * limits: the task and Tier 0 do that). TCP frame: one damped-least-squares IK step (the teleop
   * tool frame's) toward TCP + Δp with the hand pointing down, turned by the yaw step, scaled
   * down as a whole when a joint would change by more than 0.08 rad. With `box` (the task's
   * workspace), TCP + Δp is first clipped into it, {@link PANDA_TCP_BOX_MARGIN} inside, as
   * SERL's Franka env clips its target pose to a safety box: a policy pressing into the table
   * slides along it. Without the clip, Tier 0 — which scales a step that would leave the box as a
   * whole — shortened every such step to nothing, sideways motion included: pushes stood still at
   * the floor for ~80 of 100 steps (measured on a trained push policy).
   */
  toTargets(action: ArrayLike<number>, q: ArrayLike<number>, box?: WorkspaceBox): Float64Array {
    const t = new Float64Array(7);
    if (this.option.frame === 'joint') {
      for (let i = 0; i < 7; i++) t[i] = (q[i] as number) + PANDA_MAX_DELTA * (action[i] as number);
    } else {
      // Scaled as a whole, not clipped joint by joint: a clipped joint bends the TCP's path (the
      // elbow saturating sent a straight descent 8 cm backwards, measured).
      const dq = this.ikStep(action, q, box);
      let big = 0;
      for (let i = 0; i < 7; i++) big = Math.max(big, Math.abs(dq[i] as number));
      const k = big > PANDA_MAX_DELTA ? PANDA_MAX_DELTA / big : 1;
      for (let i = 0; i < 7; i++) t[i] = (q[i] as number) + k * (dq[i] as number);
    }
    return t;
  }

  /**
   * The action that commands `targets` from `q` (Tier 0's way back after it filtered the targets
   * of `action`). Joint frame: the deltas. TCP frame: `action` itself when the filter left its
   * targets alone; otherwise the TCP (and yaw) displacement the filtered targets make, by forward
   * kinematics — the env's IK step reproduces it to first order. The gripper entry, which
   * commands no arm joint, is kept from `action`.
   */
  toAction(targets: ArrayLike<number>, q: ArrayLike<number>, action?: ArrayLike<number>, box?: WorkspaceBox): Float32Array {
    const out = new Float32Array(this.space.shape[0] as number);
    if (this.gripperIndex >= 0) out[this.gripperIndex] = action ? (action[this.gripperIndex] as number) : 0;
    if (this.option.frame === 'joint') {
      for (let i = 0; i < 7; i++) out[i] = clamp(((targets[i] as number) - (q[i] as number)) / PANDA_MAX_DELTA, -1, 1);
      return out;
    }
    if (action) {
      const own = this.toTargets(action, q, box);
      let same = true;
      for (let i = 0; i < 7; i++) if (Math.abs((own[i] as number) - (targets[i] as number)) > 1e-9) same = false;
      if (same) {
        for (let i = 0; i < this.armSize; i++) out[i] = clamp(action[i] as number, -1, 1);
        return out;
      }
    }
    const from = pandaTcpPose(this.robot, q);
    const to = pandaTcpPose(this.robot, targets);
    const d = sub(to.p, from.p);
    for (let i = 0; i < 3; i++) out[i] = clamp((d[i] as number) / PANDA_TCP_STEP, -1, 1);
    if (this.option.yaw) out[3] = clamp(wrap(yawOf(to.q, readyRotation(this.robot)) - yawOf(from.q, readyRotation(this.robot))) / PANDA_YAW_STEP, -1, 1);
    return out;
  }

  /** The gripper entry of `action` as a finger opening, m (each finger; the pads are twice this apart). */
  fingerOpening(action: ArrayLike<number>): number {
    return this.gripperIndex < 0 ? 0 : (PANDA_FINGER_TRAVEL * (clamp(action[this.gripperIndex] as number, -1, 1) + 1)) / 2;
  }

  /** The action that holds the arm where it is and the gripper at `opening`. */
  hold(opening: number): Float32Array {
    const out = new Float32Array(this.space.shape[0] as number);
    if (this.gripperIndex >= 0) out[this.gripperIndex] = clamp((2 * opening) / PANDA_FINGER_TRAVEL - 1, -1, 1);
    return out;
  }

  private ikStep(action: ArrayLike<number>, q: ArrayLike<number>, box?: WorkspaceBox): Float64Array {
    const pose = pandaTcpPose(this.robot, q);
    // The hold (no translation or yaw asked; the gripper aside) keeps the TCP where it is, even
    // outside the box. Any other action from a TCP in the margin or outside moves it back in by
    // up to the margin: with its target on the TCP's own height, the IK step's first-order error
    // (≤ ~1.6 mm) took it further out, and Tier 0 cut the whole step — sideways motion included —
    // step after step (a push policy stood at 1.6 cm for ~50 steps).
    let moving = false;
    for (let i = 0; i < this.armSize; i++) if ((action[i] as number) !== 0) moving = true;
    const back = moving ? PANDA_TCP_BOX_MARGIN : 0;
    const dp: Vec3 = [0, 1, 2].map((i) => {
      const d = PANDA_TCP_STEP * clamp(action[i] as number, -1, 1);
      if (!box) return d;
      const p = pose.p[i] as number;
      const lo = Math.min((box.min[i] as number) + PANDA_TCP_BOX_MARGIN, p + back);
      const hi = Math.max((box.max[i] as number) - PANDA_TCP_BOX_MARGIN, p - back);
      return clamp(p + d, lo, hi) - p;
    }) as Vec3;
    const ready = readyRotation(this.robot);
    const yaw = this.option.yaw ? yawOf(pose.q, ready) + PANDA_YAW_STEP * clamp(action[3] as number, -1, 1) : 0;
    const goal = quatMul(quatFromAxisAngle([0, 0, 1], yaw), ready);
    return dampedLeastSquares(pandaTcpJacobian(this.robot, q), [...dp, ...rotationError(goal, pose.q)], 0.05);
  }
}

const readyRotations = new WeakMap<UrdfRobot, Quat>();
function readyRotation(robot: UrdfRobot): Quat {
  let r = readyRotations.get(robot);
  if (!r) readyRotations.set(robot, (r = pandaTcpPose(robot, PANDA_READY).q));
  return r;
}

/**
 * The hand's yaw about world z relative to `ready` (the angle of R·R_ready⁻¹ about z, for a hand
 * pointing roughly down).
 */
function yawOf(q: Quat, ready: Quat): number {
  const d = quatMul(q, quatConj(ready));
  return wrap(2 * Math.atan2(d[2], d[3]));
}

function wrap(a: number): number {
  return a - 2 * Math.PI * Math.round(a / (2 * Math.PI));
}

/** Small-angle rotation vector taking `from` to `to` (world frame). */
function rotationError(to: Quat, from: Quat): Vec3 {
  let d = quatMul(to, quatConj(from));
  if (d[3] < 0) d = [-d[0], -d[1], -d[2], -d[3]];
  return [2 * d[0], 2 * d[1], 2 * d[2]];
}

/**
 * What a scripted Panda expert wants next, whatever the action frame: the TCP heading for `goal`
 * (at most `maxStep` m this step, hand pointing down) and the fingers at `opening` (m, each).
 */
export interface PandaIntent {
  readonly goal: Vec3;
  readonly maxStep: number;
  readonly opening?: number;
}

/**
 * A scripted expert that plans in intents, acting in `actions`' frame (default: joint deltas) —
 * so demos, the simulated person and `--policy scripted` work for either `action` option.
 * Joint deltas: one IK step toward the goal (`pandaIkStep`), as the experts always did. Tool
 * frame: the displacement toward the goal (from the TCP of q, at most `maxStep`) in action units.
 * The observation starts with q (7), as every Panda task's.
 */
export function intentPolicy(plan: (obs: Float32Array) => PandaIntent, actions?: PandaActionMap): Policy {
  const map = actions ?? pandaActions(undefined);
  const robot = loadDescription('panda');
  return (obs) => {
    const { goal, maxStep, opening } = plan(obs);
    const q = obs.subarray(0, 7);
    const out = new Float32Array(map.space.shape[0] as number);
    if (map.frame === 'joint') {
      const dq = pandaIkStep(robot, q, goal, maxStep);
      for (let i = 0; i < 7; i++) out[i] = clamp((dq[i] as number) / PANDA_MAX_DELTA, -1, 1);
    } else {
      let d = sub(goal, pandaTcpPose(robot, q).p);
      const n = Math.hypot(...d);
      const step = Math.min(maxStep, PANDA_TCP_STEP);
      if (n > step) d = [d[0] * (step / n), d[1] * (step / n), d[2] * (step / n)];
      for (let i = 0; i < 3; i++) out[i] = clamp((d[i] as number) / PANDA_TCP_STEP, -1, 1);
    }
    if (map.gripperIndex >= 0) out.set(map.hold(opening ?? PANDA_FINGER_TRAVEL).subarray(map.gripperIndex), map.gripperIndex);
    return out;
  };
}
