import type { Rng } from '../control/rng.js';
import type { SceneShape, SceneSource, SceneState } from '../control/scene.js';
import type { Pose } from './math3d.js';
import { MujocoPhysics } from './mujoco/physics.js';
import type { EngineName, Physics, PhysicsFactory, PhysicsModel } from './physics.js';
import { RapierPhysics } from './rapier-physics.js';
import { SimEnv, type TaskStep } from './sim-env.js';

export type { PhysicsOptions } from './physics.js';

/** Builds `model` on `engine`; the engine's wasm module must be loaded (`make()` does it). */
export function createPhysics(model: PhysicsModel, engine: EngineName): Physics {
  switch (engine) {
    case 'rapier':
      return new RapierPhysics(model);
    case 'mujoco':
      return new MujocoPhysics(model);
  }
}

/**
 * A task's `engine` option: `rapier` (default) or `mujoco` — or, in code only (a config cannot
 * hold one), a factory of the physics, as the robot side passes its measured physics.
 */
export function checkEngine(engine: unknown): EngineName | PhysicsFactory {
  if (engine === undefined) return 'rapier';
  if (engine === 'rapier' || engine === 'mujoco' || typeof engine === 'function') return engine as EngineName | PhysicsFactory;
  throw new RangeError(`Expected option \`engine\` to be "rapier" or "mujoco", got \`${String(engine)}\``);
}

/**
 * Base of the physical tasks (dm_control's Task over a Physics): the task owns its meaning —
 * observation, reward, success, costs, reset distribution — and drives a {@link Physics} it does
 * not own the engine of, so the same task runs on Rapier and on MuJoCo. One control step is
 * `substeps` physics steps; a reset restores the physics to the model's initial state (no
 * contact or solver history from earlier episodes), then the task places the robot and objects.
 *
 * Lifetime: the physics holds wasm memory; `close()` frees it.
 */
export abstract class PhysicsTask extends SimEnv implements SceneSource {
  protected readonly physics: Physics;
  protected readonly q: Float64Array;
  protected readonly qd: Float64Array;

  /** `model` built on `engine` (or by a physics factory), or a physics built already (a MuJoCo model from an MJCF file). */
  constructor(model: PhysicsModel | Physics, engine: EngineName | PhysicsFactory = 'rapier') {
    super();
    this.physics = 'step' in model ? model : typeof engine === 'function' ? engine(model) : createPhysics(model, engine);
    this.q = new Float64Array(this.physics.dof);
    this.qd = new Float64Array(this.physics.dof);
  }

  /** The engine under this task (`measured` on a robot). */
  get engine(): EngineName | 'measured' {
    return this.physics.engine;
  }

  /** Physics time per control step, s. */
  get controlDt(): number {
    return this.physics.dt * this.physics.substeps;
  }

  /** Physics time step, s. */
  get physicsDt(): number {
    return this.physics.dt;
  }

  /** Back to the model's initial state. Call at the start of `resetTask`. */
  protected restoreWorld(): void {
    this.physics.restore();
  }

  /** Teleports the robot and refreshes `q`, `qd`. */
  protected setJointState(q: ArrayLike<number>, qd?: ArrayLike<number>): void {
    this.physics.setJointState(q, qd);
    this.physics.readJointState(this.q, this.qd);
  }

  /** Advances physics by `steps` physics steps (default one control period) and refreshes `q`, `qd`. */
  protected simulate(steps?: number): void {
    this.physics.step(steps);
    this.physics.readJointState(this.q, this.qd);
  }

  /**
   * One control step in three phases (dm_control's before_step / physics.step / after_step):
   * {@link act} turns the action into commands, the physics advances one control period,
   * {@link afterStep} reads the outcome. A robot runs the same task with a physics that measures
   * instead of simulating (robots/measured-physics.ts): the robot env sends what `act` commanded,
   * waits a control period for the measured state, then calls `afterStep` through
   * {@link measuredStep}. Tasks that cannot be split override `stepTask` instead.
   */
  protected stepTask(action: Float32Array): TaskStep {
    this.act(action);
    this.simulate();
    return this.afterStep(action);
  }

  /** Commands the physics for `action` (validated, clipped). */
  protected act(_action: Float32Array): void {
    throw new Error(`${this.spec.id}: this task has no act/afterStep phases (it overrides stepTask)`);
  }

  /** Reward, costs, success and observation once the physics advanced after {@link act}. */
  protected afterStep(_action: Float32Array): TaskStep {
    throw new Error(`${this.spec.id}: this task has no act/afterStep phases (it overrides stepTask)`);
  }

  /** The observation of the current physics state (what a reset returns). */
  protected observation(): Float32Array {
    throw new Error(`${this.spec.id}: this task does not expose its observation alone`);
  }

  /**
   * For a physics that measures (a robot): draws an episode from `rng` exactly as a reset does
   * (start pose, goal, in the same order), so a seed gives the same episode on both. The start
   * pose is what the task asked of `setJointState`; the robot is then driven there.
   */
  measuredReset(rng: Rng): void {
    this.resetTask(rng);
  }

  /** The observation from the state the physics now reports (after a robot reached its start). */
  measuredObservation(): Float32Array {
    this.physics.readJointState(this.q, this.qd);
    return this.observation();
  }

  /** Commands for `action` from the state the physics now reports, without advancing it. */
  measuredAct(action: Float32Array): void {
    this.physics.readJointState(this.q, this.qd);
    this.act(action);
  }

  /** The step's outcome from the state the physics reports once the robot moved. */
  measuredStep(action: Float32Array): TaskStep {
    this.physics.readJointState(this.q, this.qd);
    return this.afterStep(action);
  }

  /** The physics under this task, for benchmarks that step its engine directly (owned by the task: `close()` frees it). */
  get simulation(): Physics {
    return this.physics;
  }

  /** Raw physics time for one control period, without any env work (benchmarks). */
  physicsOnly(): void {
    this.physics.step();
  }

  /** The scene as the viewer draws it: the physics' bodies and the task's markers. */
  scene(): SceneState {
    const base = this.physics.scene();
    const shapes = [...base.shapes];
    const poses = [...base.poses];
    for (const m of this.sceneMarkers()) {
      shapes.push(m.shape);
      poses.push(...m.pose.p, ...m.pose.q);
    }
    return { shapes, poses };
  }

  /** Targets and zones that are not bodies (a goal, a keep-out box), for the viewer. */
  protected sceneMarkers(): { shape: SceneShape; pose: Pose }[] {
    return [];
  }

  protected override dispose(): void {
    this.physics.close();
  }
}
