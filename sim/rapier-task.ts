import type { World } from '@dimforge/rapier3d-compat';
import { Articulation, type ArticulationOptions } from './articulation.js';
import { rapier } from './rapier.js';
import { SimEnv } from './sim-env.js';
import type { UrdfRobot } from './urdf/types.js';

export interface PhysicsOptions {
  /** Physics step, s. */
  readonly dt: number;
  /** Physics steps per control step (control period = dt × substeps). */
  readonly substeps: number;
  readonly gravity?: readonly [number, number, number];
  readonly solverIterations?: number;
}

/**
 * Base of the Rapier tasks: owns one world and one articulated robot, steps physics
 * `substeps` times per control step, and resets by restoring a snapshot of the freshly built
 * world (exact: no solver warm-start or contact state leaks from one episode into the next),
 * after which the task teleports the robot to its sampled start state.
 *
 * Lifetime: the world lives in wasm memory; `close()` frees it.
 */
export abstract class RapierTask extends SimEnv {
  protected world: World;
  protected readonly robot: Articulation;
  protected readonly q: Float64Array;
  protected readonly qd: Float64Array;
  private readonly snapshot: Uint8Array;
  private readonly substeps: number;

  constructor(urdf: UrdfRobot, articulation: ArticulationOptions, physics: PhysicsOptions, buildScene?: (world: World) => void) {
    super();
    const R = rapier();
    const g = physics.gravity ?? [0, 0, -9.81];
    this.world = new R.World({ x: g[0], y: g[1], z: g[2] });
    this.world.timestep = physics.dt;
    if (physics.solverIterations !== undefined) this.world.numSolverIterations = physics.solverIterations;
    this.substeps = physics.substeps;
    this.robot = new Articulation(this.world, urdf, articulation);
    buildScene?.(this.world);
    this.q = new Float64Array(this.robot.dof);
    this.qd = new Float64Array(this.robot.dof);
    this.snapshot = this.world.takeSnapshot();
  }

  /** Physics time per control step, s. */
  get controlDt(): number {
    return this.world.timestep * this.substeps;
  }

  /** Restores the world built in the constructor. Call at the start of `resetTask`. */
  protected restoreWorld(): void {
    const fresh = rapier().World.restoreSnapshot(this.snapshot);
    this.world.free();
    this.world = fresh;
    this.robot.bind(fresh);
  }

  /** Advances physics by one control period and refreshes `q`, `qd`. */
  protected simulate(): void {
    for (let i = 0; i < this.substeps; i++) this.world.step();
    this.robot.readState(this.q, this.qd);
  }

  /** Raw physics time for one control period, without any env work (benchmarks). */
  physicsOnly(): void {
    for (let i = 0; i < this.substeps; i++) this.world.step();
  }

  protected override dispose(): void {
    this.world.free();
  }
}
