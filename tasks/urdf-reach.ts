import { existsSync, readFileSync } from 'node:fs';
import type { EnvSpec } from '../control/env.js';
import type { Rng } from '../control/rng.js';
import { box } from '../control/spaces.js';
import { loadDescription } from '../sim/descriptions.js';
import type { Pose } from '../sim/math3d.js';
import { MujocoPhysics } from '../sim/mujoco/physics.js';
import { checkEngine, PhysicsTask } from '../sim/physics-task.js';
import type { EngineName, PhysicsFactory } from '../sim/physics.js';
import type { TaskStep } from '../sim/sim-env.js';
import { forwardKinematics } from '../sim/urdf/kinematics.js';
import { parseUrdf } from '../sim/urdf/parse.js';
import type { UrdfRobot } from '../sim/urdf/types.js';

export interface UrdfReachOptions {
  /** Path of the robot's URDF file (in a config: relative to the config file). Default: the shipped Panda. */
  readonly urdf?: string;
  /** The end-effector link whose origin must reach the goal. Default: the last link of the chain. */
  readonly tip?: string;
  /** Largest joint-target change per step, rad (m for prismatic joints). Default 0.05. */
  readonly maxDelta?: number;
  /** Success radius, m. Default 0.05. */
  readonly successRadius?: number;
  /** Control rate, Hz. Default 25. */
  readonly controlHz?: number;
  /** Physics engine: `rapier` (default) or `mujoco` (the same model, sim/mujoco/). */
  readonly engine?: EngineName | PhysicsFactory;
  /**
   * An MJCF file instead of a URDF (engine `mujoco`): a MuJoCo Menagerie-style arm, meshes and
   * includes read through MuJoCo's in-memory file system; its actuated joints are the robot's.
   * In a config: relative to the config file.
   */
  readonly mjcf?: string;
}

const PHYSICS_DT = 0.004;

/**
 * `UrdfReach-v0`: any fixed-base arm described by a URDF — a user's own, named in a config as
 * `env.options.urdf` — moves its `tip` link to random goals. The URDF goes through the same
 * checks as the shipped ones (`parseUrdf`: numbers, masses, inertias, limits), and every
 * finite joint limit is enforced (past ±π by software stops).
 *
 * - Joint-position control with gravity compensation; actions a ∈ [−1, 1]ⁿ move the targets by
 *   `maxDelta`·a from the measured positions, clipped to the joint limits.
 * - Observation (2n + 6): [q, q̇, tip position, goal position].
 * - Reward: −‖tip − goal‖ (m). Success: within `successRadius`. 100 steps, never terminates.
 * - Reset: q uniform in the middle half of each joint's range (±π/4 for continuous joints); the
 *   goal is the tip's position at another such sample, so every goal is reachable.
 * - Constraint `joint_velocity`: 1 when any |q̇ᵢ| exceeds its URDF velocity limit.
 */
export class UrdfReach extends PhysicsTask {
  static readonly ID = 'UrdfReach-v0';
  readonly spec: EnvSpec;
  private readonly description: UrdfRobot;
  private readonly tipLink: string;
  private readonly maxDelta: number;
  private readonly successRadius: number;
  private readonly lower: Float64Array;
  private readonly upper: Float64Array;
  private readonly velocityLimit: Float64Array;
  private goal: [number, number, number] = [0, 0, 0];
  /** The robot came from an MJCF file: its kinematics are the engine's (no URDF to compute them from). */
  private readonly fromFile: boolean;

  constructor(options: UrdfReachOptions = {}) {
    const hz = options.controlHz ?? 25;
    if (!(hz > 0 && hz <= 250)) throw new RangeError(`Expected \`controlHz\` to be in (0, 250], got \`${hz}\``);
    const engine = checkEngine(options.engine);
    if (options.mjcf !== undefined && (engine !== 'mujoco' || options.urdf !== undefined)) throw new RangeError('Option `mjcf` needs `engine: mujoco` and no `urdf`');
    const description = options.mjcf !== undefined ? null : options.urdf === undefined ? loadDescription('panda') : loadUrdfFile(options.urdf);
    super(
      description ? { robot: description, actuation: { mode: 'position', gravityCompensation: true }, timing: { dt: PHYSICS_DT, substeps: Math.max(1, Math.round(1 / (hz * PHYSICS_DT))), gravity: [0, 0, -9.81], pgsIterations: 8 } } : MujocoPhysics.fromFile(options.mjcf as string, hz),
      engine,
    );
    this.fromFile = description === null;
    this.description = this.physics.robot;
    const n = this.physics.dof;
    if (n === 0) throw new Error(`${this.fromFile ? 'MJCF' : 'URDF'} robot "${this.description.name}" has no movable joint`);
    const links = this.description.links.map((l) => l.name);
    this.tipLink = options.tip ?? (links[links.length - 1] as string);
    if (!links.includes(this.tipLink)) throw new Error(`tip link "${this.tipLink}" is not in ${this.fromFile ? 'MJCF' : 'URDF'} robot "${this.description.name}" (links: ${links.join(', ')})`);
    this.maxDelta = options.maxDelta ?? 0.05;
    this.successRadius = options.successRadius ?? 0.05;
    const joints = this.physics.joints;
    this.lower = Float64Array.from(joints, (j) => (Number.isFinite(j.limit?.lower ?? Number.NaN) ? (j.limit?.lower as number) : -Math.PI));
    this.upper = Float64Array.from(joints, (j) => (Number.isFinite(j.limit?.upper ?? Number.NaN) ? (j.limit?.upper as number) : Math.PI));
    this.velocityLimit = Float64Array.from(joints, (j) => j.limit?.velocity ?? Infinity);
    this.spec = {
      id: UrdfReach.ID,
      observationSpace: box(-Infinity, Infinity, [2 * n + 6]),
      actionSpace: box(new Array<number>(n).fill(-1), new Array<number>(n).fill(1)),
      controlHz: 1 / (this.physics.dt * this.physics.substeps),
      maxEpisodeSteps: 100,
      // Runs on to the time limit past a success (a person's success button ends it truncated).
      successEnds: false,
      constraints: ['joint_velocity'],
      kind: 'sim',
      observationNames: [...Array.from({ length: n }, (_, i) => `q${i + 1}`), ...Array.from({ length: n }, (_, i) => `q̇${i + 1}`), 'tip x', 'tip y', 'tip z', 'goal x', 'goal y', 'goal z'],
      actionNames: Array.from({ length: n }, (_, i) => `Δq${i + 1}`),
    };
  }

  /** The robot as loaded (after the URDF checks and repairs; warnings in `.warnings`). */
  get urdf(): UrdfRobot {
    return this.description;
  }

  protected resetTask(rng: Rng): { obs: Float32Array } {
    this.restoreWorld();
    this.goal = this.tipAt(this.sample(rng));
    this.setJointState(this.sample(rng));
    
    return { obs: this.observe() };
  }

  protected override stepTask(action: Float32Array): TaskStep {
    const targets = Float64Array.from(this.q, (q, i) => Math.min(this.upper[i] as number, Math.max(this.lower[i] as number, q + this.maxDelta * (action[i] as number))));
    this.physics.command(targets);
    this.simulate();
    const tip = this.physics.linkPose(this.tipLink).p;
    const distance = Math.hypot(tip[0] - this.goal[0], tip[1] - this.goal[1], tip[2] - this.goal[2]);
    let fast = 0;
    for (let i = 0; i < this.q.length; i++) if (Math.abs(this.qd[i] as number) > (this.velocityLimit[i] as number)) fast = 1;
    return { obs: this.observe(), reward: -distance, costs: Float32Array.of(fast), terminated: false, success: distance < this.successRadius, metrics: { distance } };
  }

  /** Named state for cost expressions: `q`, `qd`, `tip` and `goal` (x, y, z in m). */
  stateVariables(): { q: number[]; qd: number[]; tip: number[]; goal: number[] } {
    return { q: Array.from(this.q), qd: Array.from(this.qd), tip: [...this.physics.linkPose(this.tipLink).p], goal: [...this.goal] };
  }

  private sample(rng: Rng): number[] {
    return Array.from(this.lower, (lo, i) => {
      const hi = this.upper[i] as number;
      const mid = (lo + hi) / 2;
      const half = Math.min((hi - lo) / 4, Math.PI / 4);
      return rng.uniform(mid - half, mid + half);
    });
  }

  private tipAt(q: number[]): [number, number, number] {
    if (this.fromFile) {
      this.physics.setJointState(q); // the next setJointState replaces this state
      return [...this.physics.linkPose(this.tipLink).p];
    }
    const pose = forwardKinematics(this.description, q).get(this.tipLink) as Pose;
    return [pose.p[0], pose.p[1], pose.p[2]];
  }

  private observe(): Float32Array {
    const tip = this.physics.linkPose(this.tipLink).p;
    return Float32Array.from([...this.q, ...this.qd, ...tip, ...this.goal]);
  }
}

/** Reads and checks a user's URDF file; errors name the file. */
function loadUrdfFile(path: string): UrdfRobot {
  if (!existsSync(path)) throw new Error(`URDF file ${path} not found`);
  try {
    return parseUrdf(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`URDF file ${path}: ${(err as Error).message}`, { cause: err });
  }
}
