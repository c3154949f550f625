import type { Collider, World } from '@dimforge/rapier3d-compat';
import type { SceneShape, SceneSource, SceneState } from '../control/scene.js';
import type { Pose } from './math3d.js';
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
  /**
   * PGS iterations inside each solver iteration (rapier's default is 1). A long chain of impulse
   * joints driven by effort-limited motors needs more: with 1, the Panda's shoulder motor
   * delivered ~1/5 of its 87 N·m to the arm (measured accelerating and braking it), so braking
   * failed and the joint stop gave way by up to 0.1 rad under bang-bang commands.
   */
  readonly pgsIterations?: number;
}

/**
 * Base of the Rapier tasks: owns one world and one articulated robot, steps physics
 * `substeps` times per control step, and resets by rebuilding the world from the description
 * (then the task teleports the robot to its sampled start state).
 *
 * Why rebuild: a reset must not carry solver warm-start or contact state from one episode into
 * the next (same seed ⇒ bit-identical episodes, however many came before). Restoring a
 * `takeSnapshot()` does that too, but leaks ~2.7 KB of wasm memory per restore in rapier 0.21
 * (measured: +290 MB over 100k restores); rebuilding is ~2× slower (~0.1 ms for the Panda scene)
 * and flat in memory. Same insertion order ⇒ same handles, so stored handles stay valid.
 *
 * Lifetime: the world lives in wasm memory; `close()` frees it.
 */
export abstract class RapierTask extends SimEnv implements SceneSource {
  protected world: World;
  protected robot: Articulation;
  protected readonly q: Float64Array;
  protected readonly qd: Float64Array;
  private readonly build: () => { world: World; robot: Articulation };
  private readonly substeps: number;

  constructor(urdf: UrdfRobot, articulation: ArticulationOptions, physics: PhysicsOptions, buildScene?: (world: World) => void) {
    super();
    this.build = () => {
      const R = rapier();
      const g = physics.gravity ?? [0, 0, -9.81];
      const world = new R.World({ x: g[0], y: g[1], z: g[2] });
      world.timestep = physics.dt;
      if (physics.solverIterations !== undefined) world.numSolverIterations = physics.solverIterations;
      if (physics.pgsIterations !== undefined) world.integrationParameters.numInternalPgsIterations = physics.pgsIterations;
      const robot = new Articulation(world, urdf, articulation);
      buildScene?.(world);
      return { world, robot };
    };
    ({ world: this.world, robot: this.robot } = this.build());
    this.substeps = physics.substeps;
    this.q = new Float64Array(this.robot.dof);
    this.qd = new Float64Array(this.robot.dof);
  }

  /** Physics time per control step, s. */
  get controlDt(): number {
    return this.world.timestep * this.substeps;
  }

  /** Replaces the world with a freshly built one. Call at the start of `resetTask`. */
  protected restoreWorld(): void {
    this.world.free();
    ({ world: this.world, robot: this.robot } = this.build());
  }

  /** Physics time step, s. */
  get physicsDt(): number {
    return this.world.timestep;
  }

  /** Advances physics by `steps` physics steps (default one control period) and refreshes `q`, `qd`. */
  protected simulate(steps = this.substeps): void {
    for (let i = 0; i < steps; i++) {
      this.robot.beforeStep();
      this.world.step();
    }
    this.robot.readState(this.q, this.qd);
  }

  /** Raw physics time for one control period, without any env work (benchmarks). */
  physicsOnly(): void {
    for (let i = 0; i < this.substeps; i++) {
      this.robot.beforeStep();
      this.world.step();
    }
  }

  /**
   * The scene as the viewer draws it: every collider of the world (the robot's links named by
   * link, dynamic bodies as objects, the rest as fixtures) and the task's markers.
   */
  scene(): SceneState {
    const R = rapier();
    const linkOf = new Map<number, string>();
    for (const [link, handles] of this.robot.linkColliders) handles.forEach((h, i) => linkOf.set(h, `${link}#${i}`));
    const shapes: SceneShape[] = [];
    const poses: number[] = [];
    const counts = { object: 0, fixture: 0 };
    this.world.forEachCollider((c: Collider) => {
      const size = colliderSize(c, R.ShapeType);
      if (!size) return;
      const link = linkOf.get(c.handle);
      const other = c.parent()?.isDynamic() ? 'object' : 'fixture';
      // Rapier keeps sizes in f32: round its noise away (0.08, not 0.07999999821).
      const dims = size.size.map((v) => Math.round(v * 1e6) / 1e6);
      shapes.push(link ? { name: link, kind: size.kind, size: dims, role: 'robot' } : { name: `${other}-${counts[other]++}`, kind: size.kind, size: dims, role: other });
      const t = c.translation();
      const q = c.rotation();
      poses.push(t.x, t.y, t.z, q.x, q.y, q.z, q.w);
    });
    for (const m of this.sceneMarkers()) {
      shapes.push(m.shape);
      poses.push(...m.pose.p, ...m.pose.q);
    }
    return { shapes, poses };
  }

  /** Targets and zones that are not colliders (a goal, a keep-out box), for the viewer. */
  protected sceneMarkers(): { shape: SceneShape; pose: Pose }[] {
    return [];
  }

  protected override dispose(): void {
    this.world.free();
  }
}

function colliderSize(c: Collider, T: ReturnType<typeof rapier>['ShapeType']): { kind: SceneShape['kind']; size: number[] } | null {
  switch (c.shapeType()) {
    case T.Cuboid: {
      const h = c.halfExtents();
      return h ? { kind: 'box', size: [h.x, h.y, h.z] } : null;
    }
    case T.Ball:
      return { kind: 'sphere', size: [c.radius()] };
    case T.Capsule:
      return { kind: 'capsule', size: [c.radius(), c.halfHeight()] };
    case T.Cylinder:
      return { kind: 'cylinder', size: [c.radius(), c.halfHeight()] };
    default:
      return null; // meshes and the like: not drawn
  }
}
