import type { EnvSpec } from '../control/env.js';
import type { Rng } from '../control/rng.js';
import { box } from '../control/spaces.js';
import type { SceneSource, SceneState } from '../control/scene.js';
import { quatMul, type Quat } from '../sim/math3d.js';
import { SimEnv, type TaskStep } from '../sim/sim-env.js';

export interface PendulumOptions {
  /** Gravity, m/s². Default 10 (as Gymnasium). */
  readonly g?: number;
  /** |θ̇| above which the `joint_velocity` cost is 1. Default 6 rad/s (the hard cap is 8). */
  readonly velocityLimit?: number;
}

/**
 * `Pendulum-v1`: Gymnasium's inverted pendulum swing-up, reproduced exactly (float64 state,
 * action cast to float32 and clipped to ±2, reward computed before the update) so learning
 * curves compare with published ones.
 *
 * - Observation: [cos θ, sin θ, θ̇] (θ = 0 upright), θ̇ ∈ [−8, 8].
 * - Action: torque u ∈ [−2, 2].
 * - Reward: −(wrap(θ)² + 0.1·θ̇² + 0.001·u²), in [−16.27, 0].
 * - Reset: θ ~ U(−π, π), θ̇ ~ U(−1, 1). Never terminates; 200 steps (time limit). 20 Hz.
 * - Success: |wrap(θ)| < 0.1 rad and |θ̇| < 1 (balanced upright).
 * - Constraint `joint_velocity`: 1 when |θ̇| > velocityLimit, else 0.
 */
export class Pendulum extends SimEnv implements SceneSource {
  static readonly ID = 'Pendulum-v1';
  readonly spec: EnvSpec = {
    id: Pendulum.ID,
    observationSpace: box([-1, -1, -8], [1, 1, 8]),
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
  private theta = 0;
  private thetaDot = 0;
  private readonly g: number;
  private readonly velocityLimit: number;

  constructor(options: PendulumOptions = {}) {
    super();
    this.g = options.g ?? 10;
    this.velocityLimit = options.velocityLimit ?? 6;
  }

  /** Sets the state directly (reference comparisons, tests). */
  setState(theta: number, thetaDot: number): void {
    this.theta = theta;
    this.thetaDot = thetaDot;
  }

  protected resetTask(rng: Rng): { obs: Float32Array } {
    this.theta = rng.uniform(-Math.PI, Math.PI);
    this.thetaDot = rng.uniform(-1, 1);
    return { obs: this.observe() };
  }

  protected stepTask(action: Float32Array): TaskStep {
    const dt = 0.05;
    const u = action[0] as number; // already float32 and clipped to ±2
    const th = this.theta;
    const wrapped = pythonMod(th + Math.PI, 2 * Math.PI) - Math.PI;
    const cost = wrapped * wrapped + 0.1 * this.thetaDot * this.thetaDot + 0.001 * (u * u);
    // Same operation order as Gymnasium: thdot + (3g/(2l)·sin θ + 3/(m l²)·u)·dt, with m = l = 1.
    let thDot = this.thetaDot + (((3 * this.g) / 2) * Math.sin(th) + 3 * u) * dt;
    thDot = Math.min(8, Math.max(-8, thDot));
    this.thetaDot = thDot;
    this.theta = th + thDot * dt;
    const upright = Math.abs(pythonMod(this.theta + Math.PI, 2 * Math.PI) - Math.PI) < 0.1 && Math.abs(thDot) < 1;
    return {
      obs: this.observe(),
      reward: -cost,
      costs: Float32Array.of(Math.abs(thDot) > this.velocityLimit ? 1 : 0),
      terminated: false,
      success: upright,
    };
  }

  /** Named state for cost expressions: `theta` (rad, 0 upright), `thdot` (rad/s). */
  stateVariables(): { theta: number; thdot: number } {
    return { theta: this.theta, thdot: this.thetaDot };
  }

  /** The range of the state variables (θ wraps; θ̇ is clipped to ±8). */
  stateBounds(): { theta: [number, number]; thdot: [number, number] } {
    return { theta: [-Math.PI, Math.PI], thdot: [-8, 8] };
  }

  /**
   * The pendulum for the viewer: a 1 m rod (capsule) swinging in the x–z plane about a pivot at
   * 1.2 m, θ = 0 pointing up.
   */
  scene(): SceneState {
    const half = this.theta / 2;
    const q: Quat = [0, -Math.sin(half), 0, Math.cos(half)]; // θ about −y: positive θ swings toward −x, as in Gym's rendering
    const rod = [-0.5 * Math.sin(this.theta), 0, 1.2 + 0.5 * Math.cos(this.theta)];
    // The capsule lies along local y; turn it to local z first (90° about x), then swing it.
    const upright: Quat = [Math.SQRT1_2, 0, 0, Math.SQRT1_2];
    return {
      shapes: [
        { name: 'base', kind: 'box', size: [0.05, 0.05, 0.6], role: 'fixture' },
        { name: 'pivot', kind: 'sphere', size: [0.05], role: 'robot' },
        { name: 'rod', kind: 'capsule', size: [0.04, 0.5], role: 'robot' },
      ],
      poses: [0, 0.1, 0.6, 0, 0, 0, 1, 0, 0, 1.2, 0, 0, 0, 1, ...rod, ...quatMul(q, upright)],
    };
  }

  private observe(): Float32Array {
    return Float32Array.of(Math.cos(this.theta), Math.sin(this.theta), this.thetaDot);
  }
}

/** Python's `%` (result has the divisor's sign), which Gymnasium's angle_normalize uses. */
function pythonMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/**
 * Scripted swing-up for Pendulum-v1 and RapierPendulum-v0 (same physical parameters):
 * energy pumping u = k·(E* − E)·sign(θ̇) far from the top, a PD balance near it.
 * E = ½·(ml²/3)·θ̇² + mg(l/2)·cos θ, E* = mg·l/2 (upright at rest); m = l = 1, g = 10.
 */
export function pendulumExpert(): (obs: Float32Array) => Float32Array {
  return (obs) => {
    const th = Math.atan2(obs[1] as number, obs[0] as number);
    const thDot = obs[2] as number;
    if (Math.abs(th) < 0.6) return Float32Array.of(clip(-(10 * th + 2 * thDot), 2));
    const energy = (0.5 / 3) * thDot * thDot + 5 * Math.cos(th);
    const pump = (5 - energy) * (thDot >= 0 ? 1 : -1);
    return Float32Array.of(clip(2 * pump + (thDot === 0 ? 1 : 0), 2));
  };
}

function clip(v: number, limit: number): number {
  return Math.max(-limit, Math.min(limit, v));
}
