import type { EnvSpec } from '../control/env.js';
import type { Rng } from '../control/rng.js';
import { box } from '../control/spaces.js';
import { loadDescription } from '../sim/descriptions.js';
import { checkEngine, PhysicsTask } from '../sim/physics-task.js';
import type { EngineName, PhysicsFactory } from '../sim/physics.js';
import type { TaskStep } from '../sim/sim-env.js';

export interface ReacherOptions {
  /** |q̇ᵢ| above which the `joint_velocity` cost is 1. Default 10 rad/s. */
  readonly velocityLimit?: number;
  /** Success radius, m. Default 0.02. */
  readonly successRadius?: number;
  /** Physics engine: `rapier` (default) or `mujoco` (the same model, sim/mujoco/). */
  readonly engine?: EngineName | PhysicsFactory;
}

const MAX_TORQUE = 0.05;

/**
 * `Reacher2D-v0`: a two-link planar arm (robots/descriptions/reacher2d.urdf, links 0.10 and
 * 0.11 m, torque-controlled) brings its fingertip to a random target, as Gymnasium's Reacher.
 * 50 Hz control, 500 Hz physics.
 *
 * - Observation (10): [cos q₁, cos q₂, sin q₁, sin q₂, target x, target y, q̇₁, q̇₂,
 *   fingertip − target (x, y)].
 * - Action: joint torques a ∈ [−1, 1]² scaled to ±0.05 N·m.
 * - Reward: −‖fingertip − target‖ − 0.1·‖a‖² (distance in m).
 * - Reset: q ~ U(−0.1, 0.1) + (0, 0), q̇ ~ U(−0.005, 0.005); target uniform in the disc of
 *   radius 0.2 m (resampled until inside it, as Gymnasium does).
 * - Success: fingertip within `successRadius` (default 2 cm). Never terminates; 50 steps.
 * - Constraint `joint_velocity`: 1 when any |q̇ᵢ| > velocityLimit.
 */
export class Reacher extends PhysicsTask {
  static readonly ID = 'Reacher2D-v0';
  readonly spec: EnvSpec = {
    id: Reacher.ID,
    observationSpace: box(-Infinity, Infinity, [10]),
    actionSpace: box([-1, -1], [1, 1]),
    controlHz: 50,
    maxEpisodeSteps: 50,
    // Runs on to the time limit past a success (a person's success button ends it truncated).
    successEnds: false,
    constraints: ['joint_velocity'],
    kind: 'sim',
    observationNames: ['cos q1', 'cos q2', 'sin q1', 'sin q2', 'target x', 'target y', 'q̇1', 'q̇2', 'tip−target x', 'tip−target y'],
    actionNames: ['torque 1', 'torque 2'],
  };
  private targetX = 0;
  private targetY = 0;
  private readonly torque = new Float64Array(2);
  private readonly velocityLimit: number;
  private readonly successRadius: number;

  constructor(options: ReacherOptions = {}) {
    super({ robot: loadDescription('reacher2d'), actuation: { mode: 'torque' }, timing: { dt: 0.002, substeps: 10, gravity: [0, 0, -9.81] } }, checkEngine(options.engine));
    this.velocityLimit = options.velocityLimit ?? 10;
    this.successRadius = options.successRadius ?? 0.02;
  }

  /** Current target (x, y) in metres. */
  get target(): [number, number] {
    return [this.targetX, this.targetY];
  }

  protected resetTask(rng: Rng): { obs: Float32Array } {
    this.restoreWorld();
    this.setJointState([rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1)], [rng.uniform(-0.005, 0.005), rng.uniform(-0.005, 0.005)]);
    
    do {
      this.targetX = rng.uniform(-0.2, 0.2);
      this.targetY = rng.uniform(-0.2, 0.2);
    } while (Math.hypot(this.targetX, this.targetY) >= 0.2);
    return { obs: this.observe() };
  }

  protected override stepTask(action: Float32Array): TaskStep {
    this.torque[0] = MAX_TORQUE * (action[0] as number);
    this.torque[1] = MAX_TORQUE * (action[1] as number);
    this.physics.command(this.torque);
    this.simulate();
    const [fx, fy] = this.fingertip();
    const dist = Math.hypot(fx - this.targetX, fy - this.targetY);
    const ctrl = (action[0] as number) ** 2 + (action[1] as number) ** 2;
    const fast = Math.abs(this.qd[0] as number) > this.velocityLimit || Math.abs(this.qd[1] as number) > this.velocityLimit;
    return {
      obs: this.observe(),
      reward: -dist - 0.1 * ctrl,
      costs: Float32Array.of(fast ? 1 : 0),
      terminated: false,
      success: dist < this.successRadius,
      metrics: { distance: dist },
    };
  }

  /** Named state for cost expressions: `q`, `qd` (2 each), `fingertip` and `target` (x, y in m). */
  stateVariables(): { q: number[]; qd: number[]; fingertip: number[]; target: number[] } {
    return { q: Array.from(this.q), qd: Array.from(this.qd), fingertip: this.fingertip(), target: [this.targetX, this.targetY] };
  }

  /** Fingertip (x, y) from the simulated link bodies. */
  fingertip(): [number, number] {
    const p = this.physics.linkPose('fingertip').p;
    return [p[0], p[1]];
  }

  private observe(): Float32Array {
    const [fx, fy] = this.fingertip();
    const q1 = this.q[0] as number;
    const q2 = this.q[1] as number;
    return Float32Array.of(Math.cos(q1), Math.cos(q2), Math.sin(q1), Math.sin(q2), this.targetX, this.targetY, this.qd[0] as number, this.qd[1] as number, fx - this.targetX, fy - this.targetY);
  }
}

/**
 * Scripted expert for Reacher2D-v0: Jacobian-transpose PD control of the fingertip,
 * τ = Jᵀ·(−kp·(fingertip − target)) − kd·q̇, computed from the observation alone.
 */
export function reacherExpert(): (obs: Float32Array) => Float32Array {
  const l1 = 0.1;
  const l2 = 0.11;
  return (obs) => {
    const [c1, c2, s1, s2] = [obs[0] as number, obs[1] as number, obs[2] as number, obs[3] as number];
    const c12 = c1 * c2 - s1 * s2;
    const s12 = s1 * c2 + c1 * s2;
    const fx = -20 * (obs[8] as number);
    const fy = -20 * (obs[9] as number);
    const t1 = (-l1 * s1 - l2 * s12) * fx + (l1 * c1 + l2 * c12) * fy - 0.01 * (obs[6] as number);
    const t2 = -l2 * s12 * fx + l2 * c12 * fy - 0.01 * (obs[7] as number);
    return Float32Array.of(Math.max(-1, Math.min(1, t1 / MAX_TORQUE)), Math.max(-1, Math.min(1, t2 / MAX_TORQUE)));
  };
}
