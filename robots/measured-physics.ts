import type { SceneShape, SceneState } from '../control/scene.js';
import { IDENTITY_POSE, type Pose, type Quat, type Vec3 } from '../sim/math3d.js';
import { PhysicsError, type Physics, type PhysicsModel, type SceneObject } from '../sim/physics.js';
import { forwardKinematics, movableJoints } from '../sim/urdf/kinematics.js';
import { urdfScene } from '../sim/urdf/scene.js';
import type { UrdfJoint, UrdfRobot } from '../sim/urdf/types.js';

/**
 * How close a link frame may come to a fixture before it counts as touching it. A robot reports
 * no contacts, so contact is geometric here: a link origin within 2 cm of a box fixture (the
 * table's top) counts, as the robot task always counted it.
 */
export const MEASURED_TOUCH_MARGIN = 0.02;

/**
 * The physics a robot provides to a task: the same interface the simulators implement, from
 * measured joint states and the commands the task gives. It does not simulate: {@link step} is
 * refused (the robot env advances time by waiting a control period for the robot's next state),
 * `setJointState` records the start pose the task asks for (the robot env drives there), link
 * poses come from forward kinematics of the measured joints, contact with fixtures is geometric
 * ({@link MEASURED_TOUCH_MARGIN}). A free object's pose is not measured (no camera or tracker
 * yet): a task that reads one is refused when it is built, naming the object.
 */
export class MeasuredPhysics implements Physics {
  readonly engine = 'measured' as const;
  readonly robot: UrdfRobot;
  readonly joints: readonly UrdfJoint[];
  readonly dof: number;
  readonly dt: number;
  readonly substeps: number;
  private readonly fixtures: Map<string, SceneObject>;
  private readonly q: Float64Array;
  private readonly qd: Float64Array;
  private readonly commanded: Float64Array;
  private readonly start: Float64Array;
  private hasCommand = false;
  private poses: Map<string, Pose> | null = null;

  constructor(model: PhysicsModel) {
    const free = (model.objects ?? []).filter((o) => o.mass !== undefined);
    if (free.length) throw new PhysicsError(`the task needs the pose of ${free.map((o) => `\`${o.name}\``).join(', ')}, which a robot does not measure (only joint states); it runs in simulation only`);
    this.robot = model.robot;
    // The arm's joints (a gripper's fingers are not among them: they move on a gripper command).
    this.joints = movableJoints(model.robot);
    this.dof = this.joints.length;
    this.dt = model.timing.dt;
    this.substeps = model.timing.substeps;
    this.fixtures = new Map((model.objects ?? []).map((o) => [o.name, o]));
    this.q = new Float64Array(this.dof);
    this.qd = new Float64Array(this.dof);
    this.commanded = new Float64Array(this.dof);
    this.start = new Float64Array(this.dof);
  }

  /** A robot's state is what it measures: nothing to restore. */
  restore(): void {}

  /** Records the start pose a reset asks for (the robot env drives the robot there) and takes it as the state until a measurement arrives. */
  setJointState(q: ArrayLike<number>, qd?: ArrayLike<number>): void {
    this.start.set(Array.from({ length: this.dof }, (_, i) => q[i] as number));
    this.measure(q, qd ?? new Float64Array(this.dof));
  }

  /** The start pose the last reset asked for. */
  startPose(): Float64Array {
    return Float64Array.from(this.start);
  }

  /** The robot's newest measured joint state. */
  measure(q: ArrayLike<number>, qd: ArrayLike<number>): void {
    if (q.length < this.dof || qd.length < this.dof) throw new RangeError(`Expected ${this.dof} joint positions and velocities, got ${q.length} and ${qd.length}`);
    for (let i = 0; i < this.dof; i++) {
      const p = q[i] as number;
      const v = qd[i] as number;
      if (!Number.isFinite(p) || !Number.isFinite(v)) throw new PhysicsError(`measured joint state of ${this.joints[i]?.name} is not finite (q ${p}, q̇ ${v})`);
      this.q[i] = p;
      this.qd[i] = v;
    }
    this.poses = null;
  }

  readJointState(q: Float64Array, qd: Float64Array): void {
    q.set(this.q);
    qd.set(this.qd);
  }

  /** Records the task's command; the robot env sends it ({@link lastCommand}). */
  command(values: ArrayLike<number>): void {
    for (let i = 0; i < this.dof; i++) this.commanded[i] = values[i] as number;
    this.hasCommand = true;
  }

  /** What the task commanded last (joint targets, in joint order); throws before any command. */
  lastCommand(): Float64Array {
    if (!this.hasCommand) throw new Error('MeasuredPhysics: no command yet');
    return Float64Array.from(this.commanded);
  }

  /** A robot moves in real time: the robot env waits for its next state instead. */
  step(): void {
    throw new PhysicsError('a robot is not stepped: its env waits one control period for the next measured state');
  }

  linkPose(link: string): Pose {
    this.poses ??= forwardKinematics(this.robot, this.q);
    const pose = this.poses.get(link);
    if (!pose) throw new RangeError(`no link "${link}" in ${this.robot.name}`);
    return pose;
  }

  objectPose(name: string): Pose {
    const o = this.fixture(name);
    return { p: [...o.position] as Vec3, q: o.rotation ? ([...o.rotation] as Quat) : IDENTITY_POSE.q };
  }

  objectVelocity(name: string): Vec3 {
    this.fixture(name);
    return [0, 0, 0];
  }

  placeObject(name: string): void {
    throw new PhysicsError(`a robot cannot place \`${name}\``);
  }

  /** Whether any of `links`' frames lies within {@link MEASURED_TOUCH_MARGIN} of fixture `object` (axis-aligned boxes and spheres). */
  touching(links: readonly string[], object: string): boolean {
    const o = this.fixture(object);
    return links.some((l) => {
      const p = this.linkPose(l).p;
      if (o.kind === 'sphere') return Math.hypot(p[0] - o.position[0], p[1] - o.position[1], p[2] - o.position[2]) <= (o.size[0] as number) + MEASURED_TOUCH_MARGIN;
      return [0, 1, 2].every((k) => Math.abs((p[k] as number) - (o.position[k] as number)) <= (o.size[k] as number) + MEASURED_TOUCH_MARGIN);
    });
  }

  /** The arm's URDF collision shapes at the measured joints (as the simulator names them) and the fixtures. */
  scene(): SceneState {
    const arm = urdfScene(this.robot, this.q);
    const shapes: SceneShape[] = [...arm.shapes];
    const poses = [...arm.poses];
    for (const o of this.fixtures.values()) {
      shapes.push({ name: o.name, kind: o.kind, size: [...o.size], role: 'fixture' });
      poses.push(...o.position, ...(o.rotation ?? IDENTITY_POSE.q));
    }
    return { shapes, poses };
  }

  close(): void {}

  private fixture(name: string): SceneObject {
    const o = this.fixtures.get(name);
    if (!o) throw new RangeError(`no fixture "${name}" in the robot's scene`);
    return o;
  }
}
