import type { Rng } from '../control/rng.js';
import type { JointLimits } from '../control/safety/joint-filter.js';
import type { Box } from '../control/spaces.js';
import type { JointPositionControl } from '../control/safety/safety-limits.js';
import type { WorkspaceBox } from '../control/safety/workspace.js';
import { loadDescription } from '../sim/descriptions.js';
import { quatConj, quatMul, sub, type Pose, type Quat, type Vec3 } from '../sim/math3d.js';
import { PhysicsTask } from '../sim/physics-task.js';
import type { EngineName, PhysicsFactory, PhysicsOptions, SceneObject } from '../sim/physics.js';
import { forwardKinematics } from '../sim/urdf/kinematics.js';
import type { UrdfRobot } from '../sim/urdf/types.js';

/** Franka's "ready" configuration: hand pointing down, TCP at (0.307, 0, 0.487). */
export const PANDA_READY: readonly number[] = [0, -Math.PI / 4, 0, (-3 * Math.PI) / 4, 0, Math.PI / 2, Math.PI / 4];
/** The fingers' opening (each, m) when a task with a gripper starts an episode: fully open, 8 cm between the pads. */
export const PANDA_FINGER_OPEN = 0.04;
/** Largest joint-target change per control step, rad (0.08 rad at 25 Hz = 2 rad/s). */
export const PANDA_MAX_DELTA = 0.08;
export const PANDA_TCP = 'panda_tcp';
const TABLE_HALF = 0.025;
/**
 * The table the Panda tasks stand on: a 2.3 m × 2 m top at z = 0, from 1 m behind the base to
 * 1.3 m in front of it. Behind the base it reaches past the arm (0.7 m until 2026-12-06, when the
 * wrist could dip below the top's height beyond its back edge): everything the arm reaches below
 * the top lies over the table, so MuJoCo may meet the arm with the top face as a plane
 * (`robotFloor`; tasks/panda.test.ts sweeps the reach).
 */
export const PANDA_TABLE = { half: [1.15, 1, TABLE_HALF], center: [0.15, 0, -TABLE_HALF] } as const;
/**
 * The table as a scene object of the physics. The shoulder links (1–3) cannot reach it within
 * the joint limits — over a grid of joints 1–3 across their ranges the lowest point of their
 * collision shapes stays 9.3 cm above the top (tasks/panda.test.ts) — so MuJoCo does not test
 * those pairs; and it lies under all of the arm's reach below the top (`robotFloor`).
 */
export const PANDA_TABLE_OBJECT: SceneObject = { name: 'table', kind: 'box', size: PANDA_TABLE.half, position: [...PANDA_TABLE.center], friction: 0.5, clearOf: ['panda_link1', 'panda_link2', 'panda_link3'], robotFloor: true };
/** The arm's links that may not touch the table (all but the base bolted onto it). */
const PANDA_ARM_LINKS: readonly string[] = ['panda_link1', 'panda_link2', 'panda_link3', 'panda_link4', 'panda_link5', 'panda_link6', 'panda_link7', 'panda_link8', 'panda_hand', 'panda_tcp', 'panda_leftfinger', 'panda_rightfinger'];
/** The gripper's finger links (pads), in the physics' `fingers` order. */
export const PANDA_FINGER_LINKS: readonly string[] = ['panda_leftfinger', 'panda_rightfinger'];

/**
 * The Panda tasks' physics: 250 Hz steps, 25 Hz control. On Rapier a control period is one world
 * step of 40 solver substeps (1 ms, as before) with 5 PGS iterations each instead of ten world
 * steps of 4 × 8 — ~1.9× faster, closer to MuJoCo; the joints give a little more under load
 * (docs/benchmarks.md, "Rapier ≥ 2×": what each setting buys and costs). Fewer iterations (3 × 6,
 * 2 × 8) were faster still but let the TCP drift 2.7 mm from the measured joints' kinematics,
 * past what the robot-task and names tests allow.
 */
export const PANDA_TIMING: PhysicsOptions = { dt: 0.004, substeps: 10, gravity: [0, 0, -9.81], solverIterations: 4, pgsIterations: 5, mergeSteps: 10 };
/**
 * A Panda task that grasps keeps the settings its grasp was tuned on (contacts found every 4 ms,
 * 4 × 8 iterations per step): with 3 × 6 merged the scripted pick in the tool frame fell from
 * ≥ 18/20 to 16/20, and the TCP driven down at the table stopped 5.0 mm above it (the pads
 * touch at 5 mm; the test asks for 6). On MuJoCo its steps are split in two of 2 ms
 * (`mujocoSplit`): at 4 ms the squeeze popped the cube out of the pads in 4 of 20 scripted picks.
 */
export const PANDA_GRASP_TIMING: PhysicsOptions = { dt: 0.004, substeps: 10, gravity: [0, 0, -9.81], pgsIterations: 8, mujocoSplit: 2 };

/**
 * What a Panda task's actions mean — joint deltas or the tool frame, with or without the gripper
 * (`pandaActions` in panda-action.ts builds one from a task's `action` option): the action box
 * and names, joint targets for an action, the action for (filtered) targets, the gripper's part.
 */
export interface PandaActionMap {
  readonly space: Box;
  readonly names: readonly string[];
  /** `joint`: joint-target deltas; `tcp`: the tool frame (Δ position, optional yaw). */
  readonly frame: 'joint' | 'tcp';
  /** Index of the gripper entry, or −1 (the fingers are then held closed). */
  readonly gripperIndex: number;
  /** The arm's joint targets `action` commands from joint positions `q`. */
  toTargets(action: ArrayLike<number>, q: ArrayLike<number>, box?: WorkspaceBox): Float64Array;
  /** The action commanding `targets` from `q`; entries that command no arm joint (the gripper) are kept from `action`. */
  toAction(targets: ArrayLike<number>, q: ArrayLike<number>, action?: ArrayLike<number>, box?: WorkspaceBox): Float32Array;
  /** The finger opening (m, each finger) the gripper entry of `action` commands. */
  fingerOpening(action: ArrayLike<number>): number;
  /** The action holding the arm still and the fingers at `opening`. */
  hold(opening: number): Float32Array;
}
/** Links whose frames the workspace check keeps off the table (the base and shoulder cannot reach it). */
export const PANDA_CONTROL_LINKS: readonly string[] = ['panda_link3', 'panda_link4', 'panda_link5', 'panda_link6', 'panda_link7', 'panda_hand', 'panda_tcp'];
/**
 * The table-top workspace: every control point at least 8 cm above the table, within reach.
 * The margin covers the arm's coasting past its commands (up to ~7 cm measured when driven
 * down at full speed): with it no link frame reaches the table top.
 */
export const PANDA_TABLE_WORKSPACE = { min: [-0.9, -0.9, 0.08], max: [0.9, 0.9, 1.2] } as const;

/**
 * Shared plumbing of the Panda tasks: the arm from robots/descriptions/panda.urdf on a table
 * (top at z = 0), joint-position control with gravity compensation at 250 Hz physics and 25 Hz
 * control, actions as joint-target deltas, and the two constraint costs both tasks report:
 * `joint_velocity` (any |q̇ᵢ| above its URDF limit) and `table_contact` (any arm link but the
 * bolted base touching the table).
 */
export abstract class PandaTask extends PhysicsTask implements JointPositionControl {
  protected readonly lower: Float64Array;
  protected readonly upper: Float64Array;
  protected readonly velocityLimit: Float64Array;
  /** What the actions mean (the task's `action` option). */
  readonly actions: PandaActionMap;
  /** The fingers' commanded opening, m (what the hold action keeps). */
  private fingerTarget = 0;

  /**
   * `objects`: the task's bodies besides the arm and the table (a cube); `actions`: what its
   * actions mean (`pandaActions(options.action, …)`). Without a gripper entry the fingers stay
   * closed, as the rigid hand of the description before the gripper was.
   */
  constructor(engine: EngineName | PhysicsFactory, objects: readonly SceneObject[], actions: PandaActionMap) {
    super(
      {
        robot: loadDescription('panda'),
        // Without a gripper action the fingers stay closed: Rapier welds them to the hand.
        actuation: { mode: 'position', gravityCompensation: true, weldFingers: actions.gripperIndex < 0 },
        timing: actions.gripperIndex < 0 ? PANDA_TIMING : PANDA_GRASP_TIMING,
        objects: [PANDA_TABLE_OBJECT, ...objects],
      },
      engine,
    );
    const joints = this.physics.joints;
    this.lower = Float64Array.from(joints, (j) => j.limit?.lower ?? -Math.PI);
    this.upper = Float64Array.from(joints, (j) => j.limit?.upper ?? Math.PI);
    this.velocityLimit = Float64Array.from(joints, (j) => j.limit?.velocity ?? Infinity);
    this.actions = actions;
  }

  /**
   * Restores the world and places the arm at `base` (default READY) + U(±noise) per joint (within
   * limits); a task with a gripper action starts with the fingers open.
   */
  protected resetArm(rng: Rng, noise: number, base: readonly number[] = PANDA_READY): void {
    this.restoreWorld();
    this.fingerTarget = 0;
    if (this.actions.gripperIndex >= 0) this.commandFingers(PANDA_FINGER_OPEN);
    const q0 = base.map((v, i) => clamp(v + rng.uniform(-noise, noise), this.lower[i] as number, this.upper[i] as number));
    this.setJointState(q0);
  }

  /**
   * Commands the arm's joint targets for `action` (joint deltas: q + 0.08·a; tool frame: one IK
   * step), clipped to the joint limits, and the fingers to the gripper entry's opening.
   */
  protected override act(action: Float32Array): void {
    this.physics.command(this.targetsFor(action, this.q));
    if (this.actions.gripperIndex >= 0) this.commandFingers(this.actions.fingerOpening(action));
  }

  private commandFingers(opening: number): void {
    this.fingerTarget = opening;
    this.physics.commandFingers?.(opening);
  }

  /** The distance between the finger pads, m (0: closed; 0.08: open). */
  protected gripperWidth(): number {
    const f = new Float64Array(2);
    this.physics.readFingers?.(f);
    return (f[0] as number) + (f[1] as number);
  }

  /** Whether both finger pads touch scene object `name` (a grasp). */
  protected grasping(name: string): boolean {
    return PANDA_FINGER_LINKS.every((l) => this.physics.touching([l], name));
  }

  /** The joint targets an action commands from joint positions `q` (the action mapping, clipped to the joint limits): what the simulator's servos and a robot receive. */
  targetsFor(action: Float32Array, q: ArrayLike<number>): Float64Array {
    const targets = this.actionToTargets(action, q);
    for (let i = 0; i < 7; i++) targets[i] = clamp(targets[i] as number, this.lower[i] as number, this.upper[i] as number);
    return targets;
  }

  /** The arm's URDF description (kinematics for IK, Jacobians and the robot side). */
  get description(): UrdfRobot {
    return this.physics.robot;
  }

  /** Names of the seven arm joints, in action / observation order. */
  get jointNames(): string[] {
    return this.physics.joints.map((j) => j.name);
  }

  /**
   * The arm as hardware exposes it, for robot emulators: `physicsSteps` physics steps (default
   * one control period) toward joint position `targets` (clipped to the joint limits), no task
   * logic.
   */
  driveJoints(targets: ArrayLike<number>, physicsSteps?: number): void {
    const t = Float64Array.from({ length: 7 }, (_, i) => clamp(targets[i] as number, this.lower[i] as number, this.upper[i] as number));
    this.physics.command(t);
    this.simulate(physicsSteps);
  }

  /**
   * The gripper as hardware exposes it, for robot emulators: the fingers' position target (each,
   * m), held until the next; the physics clips it to the fingers' travel.
   */
  driveFingers(opening: number): void {
    this.physics.commandFingers?.(opening);
  }

  /** The finger joints' names and positions (m), in the physics' `fingers` order; empty without a gripper. */
  fingerState(): { names: string[]; positions: Float64Array } {
    const fingers = this.physics.fingers ?? [];
    const positions = new Float64Array(fingers.length);
    this.physics.readFingers?.(positions);
    return { names: fingers.map((j) => j.name), positions };
  }

  /** Joint limits for the safety layer (from the URDF). */
  get jointLimits(): JointLimits {
    return { lower: this.lower, upper: this.upper, velocity: this.velocityLimit };
  }

  jointPositions(): ArrayLike<number> {
    return this.q;
  }

  jointVelocities(): ArrayLike<number> {
    return this.qd;
  }

  /** The arm's joint targets: q + 0.08·a for joint deltas, one IK step in the tool frame toward a point clipped into the task's workspace. */
  actionToTargets(action: Float32Array, q: ArrayLike<number>): Float64Array {
    return this.actions.toTargets(action, q, this.workspace);
  }

  /** The action for (Tier 0's filtered) `targets`; the gripper entry comes from `action`, the one that was filtered. */
  targetsToAction(targets: ArrayLike<number>, q: ArrayLike<number>, action?: Float32Array): Float32Array {
    return this.actions.toAction(targets, q, action, this.workspace);
  }

  /** Holds the arm where it is and the fingers at their last command (a grasped object stays grasped). */
  holdAction(): Float32Array {
    return this.actions.hold(this.fingerTarget);
  }

  /** Origins of links 3–7, the hand and the TCP at `joints` (forward kinematics), for workspace checks. */
  controlPoints(joints: ArrayLike<number>): Float64Array {
    const poses = forwardKinematics(this.physics.robot, joints);
    return Float64Array.from(PANDA_CONTROL_LINKS.flatMap((l) => (poses.get(l) as Pose).p));
  }

  /** The Tier 0 workspace box for this task (the table top). */
  readonly workspace: WorkspaceBox = PANDA_TABLE_WORKSPACE;

  /** Named state for cost expressions: `q`, `qd` (7 each) and `tcp` (x, y, z in m). */
  stateVariables(): { q: number[]; qd: number[]; tcp: number[] } {
    return { q: Array.from(this.q), qd: Array.from(this.qd), tcp: [...this.tcp()] };
  }

  /** Ranges of the state variables: joint limits, ± velocity limits, and the reach of the TCP. */
  stateBounds(): { q: [number[], number[]]; qd: [number[], number[]]; tcp: [number[], number[]] } {
    return {
      q: [Array.from(this.lower), Array.from(this.upper)],
      qd: [Array.from(this.velocityLimit, (v) => -v), Array.from(this.velocityLimit)],
      tcp: [[-1.2, -1.2, -0.1], [1.2, 1.2, 1.5]],
    };
  }

  /** Tool centre point, from the simulated bodies. */
  protected tcp(): Vec3 {
    return this.physics.linkPose(PANDA_TCP).p;
  }

  protected armCosts(): [number, number] {
    let fast = 0;
    for (let i = 0; i < 7; i++) if (Math.abs(this.qd[i] as number) > (this.velocityLimit[i] as number)) fast = 1;
    return [fast, this.touchesTable() ? 1 : 0];
  }

  private touchesTable(): boolean {
    return this.physics.touching(PANDA_ARM_LINKS, PANDA_TABLE_OBJECT.name);
  }
}

/** A task's `successHold` option: steps in a row the success must hold before the episode ends (1–100, default 1). */
export function checkSuccessHold(hold: number | undefined): number {
  const h = hold ?? 1;
  if (!(Number.isInteger(h) && h >= 1 && h <= 100)) throw new RangeError(`Expected option \`successHold\` to be an integer in [1, 100], got \`${h}\``);
  return h;
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * One damped-least-squares IK step for the Panda TCP: the joint change that moves the TCP
 * toward `goal` (at most `maxStep` m) while keeping the hand orientation of the READY pose
 * (pointing down). Numeric 6×7 Jacobian from the URDF kinematics. Used by scripted experts.
 */
export function pandaIkStep(robot: UrdfRobot, q: ArrayLike<number>, goal: Vec3, maxStep = 0.04, damping = 0.05): Float64Array {
  const pose = pandaTcpPose(robot, Array.from({ length: 7 }, (_, i) => q[i] as number));
  let dp = sub(goal, pose.p);
  const n = Math.hypot(...dp);
  if (n > maxStep) dp = [dp[0] * (maxStep / n), dp[1] * (maxStep / n), dp[2] * (maxStep / n)];
  return dampedLeastSquares(pandaTcpJacobian(robot, q), [...dp, ...rotationError(readyTcpRotation(robot), pose.q)], damping);
}

/**
 * How far a full Cartesian teleop command moves the IK goal per 25 Hz step (2 cm). The joint
 * position control follows at about a third of it: ~6 mm per step, 0.15 m/s (measured).
 */
export const PANDA_TELEOP_STEP = 0.02;

/**
 * Cartesian teleop for the Panda tasks (their observations start with q (7); the TCP is at
 * 14–16): the command v ∈ [−1, 1]³ asks the TCP to move by `PANDA_TELEOP_STEP`·v, hand kept
 * pointing down, through one damped-least-squares IK step; returns the joint-delta action.
 * (See {@link PANDA_TELEOP_STEP} for the speed the arm reaches.)
 */
export function pandaTcpTeleop(): (obs: Float32Array, v: Float32Array) => Float32Array {
  const robot = loadDescription('panda');
  return (obs, v) => {
    const tcp: Vec3 = [obs[14] as number, obs[15] as number, obs[16] as number];
    const goal: Vec3 = [0, 1, 2].map((i) => (tcp[i] as number) + PANDA_TELEOP_STEP * clamp(v[i] as number, -1, 1)) as Vec3;
    const dq = pandaIkStep(robot, obs.subarray(0, 7), goal, PANDA_TELEOP_STEP);
    return Float32Array.from(dq, (d) => clamp(d / PANDA_MAX_DELTA, -1, 1));
  };
}

/**
 * The TCP's 6×7 Jacobian at `q` by forward differences of the URDF kinematics: rows 0–2 the
 * position (m/rad), rows 3–5 the rotation (rad/rad, as a rotation vector).
 */
export function pandaTcpJacobian(robot: UrdfRobot, q: ArrayLike<number>): number[][] {
  const base = Array.from({ length: 7 }, (_, i) => q[i] as number);
  const pose = pandaTcpPose(robot, base);
  const eps = 1e-5;
  const J: number[][] = Array.from({ length: 6 }, () => new Array<number>(7).fill(0));
  for (let i = 0; i < 7; i++) {
    const qi = [...base];
    qi[i] = (qi[i] as number) + eps;
    const p = pandaTcpPose(robot, qi);
    const dr = rotationError(p.q, pose.q);
    for (let r = 0; r < 3; r++) {
      (J[r] as number[])[i] = ((p.p[r] as number) - (pose.p[r] as number)) / eps;
      (J[r + 3] as number[])[i] = (dr[r] as number) / eps;
    }
  }
  return J;
}

/** Δq = Jᵀ (J Jᵀ + λ² I)⁻¹ e: the damped least-squares joint change for a task-space change e. */
export function dampedLeastSquares(J: number[][], e: readonly number[], damping: number): Float64Array {
  const A = J.map((row, r) => J.map((other, c) => row.reduce((s, v, k) => s + v * (other[k] as number), 0) + (r === c ? damping * damping : 0)));
  const y = solve(A, [...e]);
  const n = (J[0] as number[]).length;
  return Float64Array.from({ length: n }, (_, k) => J.reduce((s, row, r) => s + (row[k] as number) * (y[r] as number), 0));
}

let readyRotation: Quat | null = null;
function readyTcpRotation(robot: UrdfRobot): Quat {
  readyRotation ??= pandaTcpPose(robot, PANDA_READY).q;
  return readyRotation;
}

/** The TCP pose at joint positions `q`, from the URDF kinematics. */
export function pandaTcpPose(robot: UrdfRobot, q: ArrayLike<number>): Pose {
  return forwardKinematics(robot, q).get(PANDA_TCP) as Pose;
}

/** Small-angle rotation vector taking `from` to `to` (world frame). */
function rotationError(to: Quat, from: Quat): Vec3 {
  let d = quatMul(to, quatConj(from));
  if (d[3] < 0) d = [-d[0], -d[1], -d[2], -d[3]];
  return [2 * d[0], 2 * d[1], 2 * d[2]];
}

/** Gaussian elimination with partial pivoting for a small dense system. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i] as number]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs((M[r] as number[])[c] as number) > Math.abs((M[p] as number[])[c] as number)) p = r;
    [M[c], M[p]] = [M[p] as number[], M[c] as number[]];
    const pivot = (M[c] as number[])[c] as number;
    for (let r = c + 1; r < n; r++) {
      const f = ((M[r] as number[])[c] as number) / pivot;
      for (let k = c; k <= n; k++) (M[r] as number[])[k] = ((M[r] as number[])[k] as number) - f * ((M[c] as number[])[k] as number);
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = (M[r] as number[])[n] as number;
    for (let k = r + 1; k < n; k++) s -= ((M[r] as number[])[k] as number) * (x[k] as number);
    x[r] = s / ((M[r] as number[])[r] as number);
  }
  return x;
}

/** `name x`, `name y`, `name z`: the names of a 3-vector's entries in an observation. */
export function xyzNames(name: string, axes: string = 'xyz'): string[] {
  return Array.from(axes, (a) => `${name} ${a}`);
}

/** The Panda tasks' observations start with these 17: q1…q7, q̇1…q̇7 (rad, rad/s), the TCP (m). */
export const PANDA_ARM_OBSERVATION_NAMES: readonly string[] = [...Array.from({ length: 7 }, (_, i) => `q${i + 1}`), ...Array.from({ length: 7 }, (_, i) => `q̇${i + 1}`), ...xyzNames('tcp')];

/** The joint-delta action's entries: Δq1…Δq7 (× 0.08 rad), never TCP axes. */
export const PANDA_JOINT_ACTION_NAMES: readonly string[] = Array.from({ length: 7 }, (_, i) => `Δq${i + 1}`);

/**
 * The policy's joint-delta action at an observation (q at 0–6, as every Panda task's) as the
 * Cartesian teleop command v that moves the TCP the same way: d = FK(q + 0.08·a, clipped to the
 * joint limits) − FK(q), the displacement the action commands, then v = G⁻¹(d − d₀) where
 * d = d₀ + G·v is what {@link pandaTcpTeleop}'s own command v commands at this q (G probed with
 * small commands: the IK is linear there). A person driving in the tool frame then reads the
 * policy's proposal as the slider position that would do the same; it may exceed ±1 (a policy
 * is not bound to the teleop speed).
 */
export function pandaTcpOfAction(): (obs: Float32Array, action: Float32Array) => Float32Array {
  const robot = loadDescription('panda');
  const joints = robot.joints.filter((j) => j.type === 'revolute');
  const teleop = pandaTcpTeleop();
  const PROBE = 0.25;
  return (obs, action) => {
    const q = Array.from({ length: 7 }, (_, i) => obs[i] as number);
    const from = pandaTcpPose(robot, q).p;
    const displacement = (a: ArrayLike<number>): Vec3 => {
      const target = q.map((v, i) => clamp(v + PANDA_MAX_DELTA * clamp(a[i] as number, -1, 1), joints[i]?.limit?.lower ?? -Math.PI, joints[i]?.limit?.upper ?? Math.PI));
      return sub(pandaTcpPose(robot, target).p, from);
    };
    const d0 = displacement(teleop(obs, new Float32Array(3)));
    const G = [0, 1, 2].map((k) => sub(displacement(teleop(obs, Float32Array.from([0, 1, 2], (i) => (i === k ? PROBE : 0)))), d0).map((x) => x / PROBE));
    // G[k] is column k (the response to axis k): solve Σ_k G[k]·v_k = d − d0.
    const A = [0, 1, 2].map((r) => [0, 1, 2].map((k) => (G[k] as number[])[r] as number));
    return Float32Array.from(solve(A, sub(displacement(action), d0)));
  };
}
