import type { EnvSpec } from '../control/env.js';
import type { Rng } from '../control/rng.js';
import { box } from '../control/spaces.js';
import { loadDescription } from '../sim/descriptions.js';
import { wrapAngle } from '../sim/math3d.js';
import { checkEngine, PhysicsTask } from '../sim/physics-task.js';
import type { EngineName, PhysicsFactory } from '../sim/physics.js';
import type { TaskStep } from '../sim/sim-env.js';

export interface RapierPendulumOptions {
  /** |θ̇| above which the `joint_velocity` cost is 1. Default 6 rad/s. */
  readonly velocityLimit?: number;
  /** Physics engine: `rapier` (default) or `mujoco` (the same model, sim/mujoco/). */
  readonly engine?: EngineName | PhysicsFactory;
}

/**
 * `RapierPendulum-v0`: swing-up of a physical 1 m, 1 kg rod (robots/descriptions/pendulum.urdf)
 * on a torque-controlled hinge, simulated by Rapier (g = 10 so it is the physical twin of
 * Pendulum-v1; physics at 200 Hz, control at 20 Hz).
 *
 * - Observation: [cos θ, sin θ, θ̇], θ = 0 upright.
 * - Action: hinge torque ∈ [−2, 2] N·m (too weak to lift the rod directly: it must swing).
 * - Reward: −(wrap(θ)² + 0.1·θ̇² + 0.001·u²), from the state before the step (as Pendulum-v1).
 * - Reset: θ ~ U(−π, π), θ̇ ~ U(−1, 1). 200 steps. Never terminates.
 * - Success: |wrap(θ)| < 0.1 and |θ̇| < 1.
 * - Constraint `joint_velocity`: 1 when |θ̇| > velocityLimit.
 */
export class RapierPendulum extends PhysicsTask {
  static readonly ID = 'RapierPendulum-v0';
  readonly spec: EnvSpec = {
    id: RapierPendulum.ID,
    observationSpace: box([-1, -1, -Infinity], [1, 1, Infinity]),
    actionSpace: box([-2], [2]),
    controlHz: 20,
    maxEpisodeSteps: 200,
    // Runs on to the time limit past a success (a person's success button ends it truncated).
    successEnds: false,
    constraints: ['joint_velocity'],
    kind: 'sim',
    observationNames: ['cos θ', 'sin θ', 'θ̇'],
    actionNames: ['torque'],
  };
  private readonly velocityLimit: number;

  constructor(options: RapierPendulumOptions = {}) {
    super({ robot: loadDescription('pendulum'), actuation: { mode: 'torque' }, timing: { dt: 0.005, substeps: 10, gravity: [0, 0, -10] } }, checkEngine(options.engine));
    this.velocityLimit = options.velocityLimit ?? 6;
  }

  /** Teleports to (θ, θ̇) (tests, reference comparisons). */
  setState(theta: number, thetaDot: number): Float32Array {
    this.setJointState([theta], [thetaDot]);
    
    return this.observe();
  }

  protected resetTask(rng: Rng): { obs: Float32Array } {
    this.restoreWorld();
    return { obs: this.setState(rng.uniform(-Math.PI, Math.PI), rng.uniform(-1, 1)) };
  }

  protected override stepTask(action: Float32Array): TaskStep {
    const u = action[0] as number;
    const th = wrapAngle(this.q[0] as number);
    const thDot = this.qd[0] as number;
    const cost = th * th + 0.1 * thDot * thDot + 0.001 * u * u;
    this.physics.command(action);
    this.simulate();
    const newTh = wrapAngle(this.q[0] as number);
    const newThDot = this.qd[0] as number;
    return {
      obs: this.observe(),
      reward: -cost,
      costs: Float32Array.of(Math.abs(newThDot) > this.velocityLimit ? 1 : 0),
      terminated: false,
      success: Math.abs(newTh) < 0.1 && Math.abs(newThDot) < 1,
    };
  }

  private observe(): Float32Array {
    const th = this.q[0] as number;
    return Float32Array.of(Math.cos(th), Math.sin(th), this.qd[0] as number);
  }
}
