import type { EnvSpec } from '../control/env.js';
import type { Rng } from '../control/rng.js';
import { box, discrete } from '../control/spaces.js';
import { loadDescription } from '../sim/descriptions.js';
import { checkEngine, PhysicsTask } from '../sim/physics-task.js';
import type { EngineName, PhysicsFactory } from '../sim/physics.js';
import type { TaskStep } from '../sim/sim-env.js';

export interface CartPoleOptions {
  /** `continuous`: force = 10·a, a ∈ [−1, 1]. `discrete`: action 0 pushes left, 1 right (±10 N). */
  readonly actions?: 'continuous' | 'discrete';
  /** |x| beyond which the `cart_near_edge` cost is 1. Default 1.8 m (terminates at 2.4). */
  readonly edgeMargin?: number;
  /** Physics engine: `rapier` (default) or `mujoco` (the same model, sim/mujoco/). */
  readonly engine?: EngineName | PhysicsFactory;
}

const FORCE = 10;
const X_LIMIT = 2.4;
const THETA_LIMIT = (12 * 2 * Math.PI) / 360;

/**
 * Cart-pole balancing on Rapier (robots/descriptions/cartpole.urdf: a prismatic cart and a
 * hinged pole, Gymnasium's masses and lengths), 50 Hz control, 400 Hz physics.
 *
 * - Observation: [x, ẋ, θ, θ̇] (θ = 0 upright, positive toward +x).
 * - Action: `CartPoleContinuous-v0` force 10·a N with a ∈ [−1, 1]; `CartPoleDiscrete-v0`
 *   Discrete(2): 0 → −10 N, 1 → +10 N (Gymnasium's CartPole action set).
 * - Reward: +1 per step, including the terminal one (as Gymnasium).
 * - Terminates when |x| > 2.4 m or |θ| > 12°. 500 steps.
 * - Reset: x, ẋ, θ, θ̇ ~ U(−0.05, 0.05).
 * - Success: the episode reaches the time limit (reported on every step still balanced).
 * - Constraint `cart_near_edge`: 1 when |x| > edgeMargin.
 */
export class CartPole extends PhysicsTask {
  static readonly CONTINUOUS_ID = 'CartPoleContinuous-v0';
  static readonly DISCRETE_ID = 'CartPoleDiscrete-v0';
  readonly spec: EnvSpec;
  private readonly discreteActions: boolean;
  private readonly edgeMargin: number;
  private readonly force = new Float64Array(2);

  constructor(options: CartPoleOptions = {}) {
    super({ robot: loadDescription('cartpole'), actuation: { mode: 'torque' }, timing: { dt: 0.0025, substeps: 8, gravity: [0, 0, -9.8] } }, checkEngine(options.engine));
    this.discreteActions = options.actions === 'discrete';
    this.edgeMargin = options.edgeMargin ?? 1.8;
    this.spec = {
      id: this.discreteActions ? CartPole.DISCRETE_ID : CartPole.CONTINUOUS_ID,
      observationSpace: box([-4.8, -Infinity, -Math.PI, -Infinity], [4.8, Infinity, Math.PI, Infinity]),
      actionSpace: this.discreteActions ? discrete(2) : box([-1], [1]),
      controlHz: 50,
      maxEpisodeSteps: 500,
      // Runs on to the time limit past a success (a person's success button ends it truncated).
      successEnds: false,
      constraints: ['cart_near_edge'],
      kind: 'sim',
      observationNames: ['cart x', 'cart ẋ', 'pole θ', 'pole θ̇'],
      ...(this.discreteActions ? {} : { actionNames: ['force'] }),
    };
  }

  protected resetTask(rng: Rng): { obs: Float32Array } {
    this.restoreWorld();
    const s = [0, 0, 0, 0].map(() => rng.uniform(-0.05, 0.05));
    this.setJointState([s[0] as number, s[2] as number], [s[1] as number, s[3] as number]);
    
    return { obs: this.observe() };
  }

  protected override stepTask(action: Float32Array): TaskStep {
    const a = action[0] as number;
    this.force[0] = this.discreteActions ? (a === 1 ? FORCE : -FORCE) : FORCE * a;
    this.physics.command(this.force);
    this.simulate();
    const x = this.q[0] as number;
    const theta = this.q[1] as number;
    const terminated = Math.abs(x) > X_LIMIT || Math.abs(theta) > THETA_LIMIT;
    return {
      obs: this.observe(),
      reward: 1,
      costs: Float32Array.of(Math.abs(x) > this.edgeMargin ? 1 : 0),
      terminated,
      success: !terminated,
    };
  }

  private observe(): Float32Array {
    return Float32Array.of(this.q[0] as number, this.qd[0] as number, this.q[1] as number, this.qd[1] as number);
  }
}

/**
 * Scripted balance controller (a hand-tuned linear state feedback) for both cart-pole
 * variants: continuous force in [−1, 1], or the sign of it as a discrete action.
 */
export function cartPoleExpert(discreteActions: boolean): (obs: Float32Array) => Float32Array {
  return (obs) => {
    const f = 0.1 * (obs[0] as number) + 0.15 * (obs[1] as number) + 3 * (obs[2] as number) + 0.5 * (obs[3] as number);
    if (discreteActions) return Float32Array.of(f > 0 ? 1 : 0);
    return Float32Array.of(Math.max(-1, Math.min(1, f)));
  };
}
