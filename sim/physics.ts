import type { SceneState } from '../control/scene.js';
import type { ArticulationOptions } from './articulation.js';
import type { Pose, Quat, Vec3 } from './math3d.js';
import type { UrdfJoint, UrdfRobot } from './urdf/types.js';

/** Physics engines a task can run on. */
export const ENGINES = ['rapier', 'mujoco'] as const;
export type EngineName = (typeof ENGINES)[number];

/** Physics timing and solver settings. */
export interface PhysicsOptions {
  /** Physics step, s. */
  readonly dt: number;
  /** Physics steps per control step (control period = dt × substeps). */
  readonly substeps: number;
  readonly gravity?: readonly [number, number, number];
  /** Rapier only: solver iterations per step. */
  readonly solverIterations?: number;
  /**
   * Rapier only: PGS iterations inside each solver iteration (rapier's default is 1). A long
   * chain of impulse joints driven by effort-limited motors needs more: with 1, the Panda's
   * shoulder motor delivered ~1/5 of its 87 N·m to the arm (measured accelerating and braking
   * it), so braking failed and the joint stop gave way by up to 0.1 rad under bang-bang commands.
   */
  readonly pgsIterations?: number;
  /**
   * Rapier only: physics steps one `world.step()` advances (default 1): `step(n)` runs ⌈n / k⌉
   * world steps of up to k·dt, each with k × `solverIterations` solver substeps, so the solver's
   * substep (dt / `solverIterations`) and with it the arm's motion stay the same (measured on the
   * Panda: the TCP within 0.1 mm of single steps over 50 control periods) while the work done
   * once per world step — collision detection, islands, assembling the constraints, the
   * software joint stops — is done once per k. Contacts are then found once per k·dt (Rapier's
   * contact constraints follow the bodies within a world step).
   */
  readonly mergeSteps?: number;
  /**
   * MuJoCo only: MuJoCo steps per physics step (default 1), each of dt / k, for models built from
   * a URDF (an MJCF file keeps its own time step). A task that grasps needs 2: at 4 ms, MuJoCo's
   * soft contacts under-resolve the pads closing on the cube, and the squeeze popped it up and out
   * of the hand in 4 of 20 scripted picks (20/20 at 2 ms and at 1 ms, measured).
   */
  readonly mujocoSplit?: number;
}

/** A body of the scene besides the robot: a fixed fixture (a table) or a free object (a cube). */
export interface SceneObject {
  readonly name: string;
  readonly kind: 'box' | 'sphere';
  /** Half extents (box) or radius (sphere), m. */
  readonly size: readonly number[];
  /** Initial pose. */
  readonly position: Vec3;
  readonly rotation?: Quat;
  /** Mass of a free object, kg; absent: a fixture. */
  readonly mass?: number;
  readonly friction?: number;
  /**
   * A fixture's robot links that cannot reach it within their joint limits (the Panda's shoulder
   * links and the table): MuJoCo does not test those pairs for contact (`<exclude>`). Only what
   * a test keeps true belongs here (tasks/panda.test.ts sweeps the joint ranges for the table).
   */
  readonly clearOf?: readonly string[];
  /**
   * A box fixture that lies under everything the robot reaches below its top face (the Panda's
   * table): MuJoCo tests the robot's geoms against that face as a plane, which costs a height
   * test where the box cost a narrow phase each step (sim/mujoco/mjcf.ts). Only what a test keeps
   * true belongs here (tasks/panda.test.ts sweeps the Panda's reach for the table).
   */
  readonly robotFloor?: boolean;
}

/**
 * What a task asks of the physics: one robot from a URDF with its actuators, the timing, and the
 * other bodies. Every engine builds the same model from it (same inertias, limits, damping,
 * servo gains), so a task is written once (dm_control's split of Task and Physics).
 */
export interface PhysicsModel {
  readonly robot: UrdfRobot;
  readonly actuation: ArticulationOptions;
  readonly timing: PhysicsOptions;
  readonly objects?: readonly SceneObject[];
}

/**
 * The physics under a task: what tasks read and do, whatever the engine. Joint order is the
 * URDF's order of movable joints. Lifetime: engines hold wasm memory; `close()` frees it.
 */
export interface Physics {
  /** The simulator, or `measured`: a robot's joint states behind the same interface (robots/measured-physics.ts). */
  readonly engine: EngineName | 'measured';
  readonly robot: UrdfRobot;
  /** Movable joints, in command and state order. */
  readonly joints: readonly UrdfJoint[];
  readonly dof: number;
  /** Physics step, s. */
  readonly dt: number;
  /** Physics steps per control period. */
  readonly substeps: number;
  /** Back to the model's initial state: bodies at their initial poses, at rest, no contact or solver history. */
  restore(): void;
  /** Teleports the robot to joint positions `q` (velocities `qd`, default 0); position servos hold `q`. */
  setJointState(q: ArrayLike<number>, qd?: ArrayLike<number>): void;
  readJointState(q: Float64Array, qd: Float64Array): void;
  /** One command per joint, by the actuation mode: torques / forces, position or velocity targets. */
  command(values: ArrayLike<number>): void;
  /**
   * A gripper's finger joints (prismatic joints coupled by URDF `<mimic>`, see `gripperJoints`),
   * not among `joints`: position servos driven together by {@link commandFingers}. Empty
   * without a gripper. After `restore()` they are closed (opening 0) and commanded closed.
   * Both engines implement the gripper members; a physics that measures a robot without a
   * gripper link may leave them out (tasks that need a gripper say so).
   */
  readonly fingers?: readonly UrdfJoint[];
  /**
   * Commands the gripper: the leading finger's position target, m (the others follow by their
   * mimic), clipped to its limits; held until the next command and through `setJointState`,
   * which places the fingers there. Throws on a robot without fingers or a non-finite opening.
   */
  commandFingers?(opening: number): void;
  /** Each finger joint's position (m), in `fingers` order. */
  readFingers?(out: Float64Array): void;
  /** Advances `steps` physics steps (default one control period). Throws {@link PhysicsError} on divergence. */
  step(steps?: number): void;
  /** World pose of a robot link frame. */
  linkPose(link: string): Pose;
  /** World pose of a scene object. */
  objectPose(name: string): Pose;
  /** Linear velocity of a free object's centre, world frame, m/s. */
  objectVelocity(name: string): Vec3;
  /** Teleports a free object (at rest). */
  placeObject(name: string, position: Vec3, rotation?: Quat): void;
  /** Whether any of `links` touches scene object `object` (penetration or within 1 mm). */
  touching(links: readonly string[], object: string): boolean;
  /** Robot links and scene objects as the viewer draws them. */
  scene(): SceneState;
  close(): void;
}

/** The simulation diverged (NaN state, solver instability): the episode's data is garbage from here. */
/**
 * Refuses scene objects no engine can build as asked, the same on every engine (a config that
 * fails only on MuJoCo would surface at `eval --engine mujoco`, long after training).
 */
export function checkSceneObjects(objects: readonly SceneObject[]): void {
  for (const o of objects) {
    if (o.robotFloor && (o.kind !== 'box' || o.mass !== undefined || (o.rotation && (o.rotation[0] !== 0 || o.rotation[1] !== 0 || o.rotation[2] !== 0)))) {
      throw new RangeError(`object ${o.name}: robotFloor is for an unrotated box fixture (its top face becomes the robot's floor)`);
    }
  }
}

export class PhysicsError extends Error {
  override readonly name = 'PhysicsError';
}

/** Builds the physics of `model` on `engine` (the engine's wasm module must be loaded). */
export type PhysicsFactory = (model: PhysicsModel) => Physics;
