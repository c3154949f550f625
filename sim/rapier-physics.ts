import type { Collider, World } from '@dimforge/rapier3d-simd-compat';
import type { SceneShape, SceneState } from '../control/scene.js';
import { Articulation, quat4, vec3 } from './articulation.js';
import { rotate, type Pose, type Quat, type Vec3 } from './math3d.js';
import { checkSceneObjects, PhysicsError, type Physics, type PhysicsModel } from './physics.js';
import { rapier } from './rapier.js';
import type { UrdfJoint, UrdfRobot } from './urdf/types.js';

/**
 * A {@link PhysicsModel} on Rapier: one world, the robot as impulse-joint bodies with motors
 * ({@link Articulation}), and the scene objects as colliders (fixtures) or dynamic bodies.
 *
 * `restore()` rebuilds the world. Why rebuild: a reset must not carry solver warm-start or
 * contact state from one episode into the next (same seed ⇒ bit-identical episodes, however
 * many came before). Restoring a `takeSnapshot()` does that too, but leaks ~2.7 KB of wasm memory
 * per restore in rapier 0.21 (measured: +290 MB over 100k restores; 0.20's SIMD build too, +18 MB over 10k); rebuilding is ~2× slower
 * (~0.1 ms for the Panda scene) and flat in memory. Same insertion order ⇒ same handles.
 *
 * Lifetime: the world lives in wasm memory; `close()` frees it.
 */
export class RapierPhysics implements Physics {
  readonly engine = 'rapier' as const;
  readonly robot: UrdfRobot;
  readonly joints: readonly UrdfJoint[];
  readonly fingers: readonly UrdfJoint[];
  readonly dof: number;
  readonly dt: number;
  readonly substeps: number;
  /** Physics steps per world step ({@link PhysicsOptions.mergeSteps}). */
  private readonly merge: number;
  /** Solver iterations per physics step (Rapier's default unless the timing sets them). */
  private iterations = 4;
  /** Physics steps the world's timestep now spans. */
  private span = 1;
  private world: World;
  private arm: Articulation;
  /** Collider and body handles of each scene object. */
  private objects = new Map<string, { collider: number; body: number | null }>();
  /** Bounding radius of each collider asked about by {@link touching} (this world's). */
  private radii = new Map<number, number>();
  /** World bounding box of each fixture asked about by {@link touching} (this world's). */
  private boxes = new Map<number, { c: Vec3; h: Vec3 }>();
  private closed = false;

  constructor(private readonly model: PhysicsModel) {
    this.robot = model.robot;
    this.dt = model.timing.dt;
    this.substeps = model.timing.substeps;
    this.merge = model.timing.mergeSteps ?? 1;
    if (!(Number.isInteger(this.merge) && this.merge >= 1)) throw new RangeError(`rapier: expected \`mergeSteps\` to be a positive integer, got \`${model.timing.mergeSteps}\``);
    checkSceneObjects(model.objects ?? []);
    ({ world: this.world, arm: this.arm } = this.build());
    // Software stops act once per world step: over a merged one (40 ms on the Panda) a joint ran
    // 0.9 rad past its bound. Refused rather than simulated wrong.
    const soft = this.arm.softwareStopJoints;
    if (this.merge > 1 && soft.length) {
      this.world.free();
      throw new RangeError(`rapier: \`mergeSteps\` ${this.merge} with joints whose range is a turn or more (${soft.join(', ')}): Rapier cannot stop those, and the software stops act once per world step; use mergeSteps 1`);
    }
    this.joints = this.arm.joints;
    this.fingers = this.arm.fingers;
    this.dof = this.arm.dof;
  }

  private build(): { world: World; arm: Articulation } {
    const R = rapier();
    const { timing } = this.model;
    const g = timing.gravity ?? [0, 0, -9.81];
    const world = new R.World({ x: g[0], y: g[1], z: g[2] });
    world.timestep = timing.dt;
    if (timing.solverIterations !== undefined) world.numSolverIterations = timing.solverIterations;
    this.iterations = world.numSolverIterations;
    this.span = 1;
    if (timing.pgsIterations !== undefined) world.integrationParameters.numInternalPgsIterations = timing.pgsIterations;
    const arm = new Articulation(world, this.model.robot, this.model.actuation);
    this.objects = new Map();
    this.radii = new Map();
    this.boxes = new Map();
    for (const o of this.model.objects ?? []) {
      const shape = o.kind === 'box' ? R.ColliderDesc.cuboid(o.size[0] as number, o.size[1] as number, o.size[2] as number) : R.ColliderDesc.ball(o.size[0] as number);
      const rotation = rapierQuat(o.rotation ?? [0, 0, 0, 1]);
      shape.setFriction(o.friction ?? 0.5);
      if (o.mass === undefined) {
        const collider = world.createCollider(shape.setTranslation(...o.position).setRotation(rotation));
        this.objects.set(o.name, { collider: collider.handle, body: null });
      } else {
        const body = world.createRigidBody(R.RigidBodyDesc.dynamic().setTranslation(...o.position).setRotation(rotation).setCanSleep(false));
        const collider = world.createCollider(shape.setMass(o.mass), body);
        this.objects.set(o.name, { collider: collider.handle, body: body.handle });
      }
    }
    return { world, arm };
  }

  restore(): void {
    this.live();
    this.world.free();
    ({ world: this.world, arm: this.arm } = this.build());
  }

  setJointState(q: ArrayLike<number>, qd?: ArrayLike<number>): void {
    this.live();
    this.arm.setState(q, qd);
  }

  readJointState(q: Float64Array, qd: Float64Array): void {
    this.live();
    this.arm.readState(q, qd);
  }

  command(values: ArrayLike<number>): void {
    this.live();
    // As MuJoCo's: a NaN target would freeze its joint for good (Rapier's motor takes it silently).
    if (values.length !== this.dof) throw new RangeError(`rapier: ${values.length} commands for ${this.dof} joints`);
    for (let k = 0; k < this.dof; k++) {
      const v = values[k] as number;
      if (!Number.isFinite(v)) throw new RangeError(`rapier: command[${k}] = ${v} for joint "${this.joints[k]?.name}" is not finite`);
    }
    this.arm.command(values);
  }

  commandFingers(opening: number): void {
    this.live();
    this.arm.commandFingers(opening);
  }

  readFingers(out: Float64Array): void {
    this.live();
    this.arm.readFingers(out);
  }

  step(steps = this.substeps): void {
    this.live();
    for (let done = 0; done < steps; ) {
      const k = Math.min(this.merge, steps - done);
      // Set only on change: a control period is always the same k.
      if (k !== this.span) {
        this.span = k;
        this.world.timestep = k * this.dt;
        this.world.numSolverIterations = k * this.iterations;
      }
      this.arm.beforeStep();
      this.world.step();
      done += k;
    }
    // One body stands for all: a diverged impulse solver puts NaN everywhere it touches.
    const p = this.arm.linkPose(this.robot.joints[this.robot.joints.length - 1]?.child ?? this.robot.root).p;
    if (!(Number.isFinite(p[0]) && Number.isFinite(p[1]) && Number.isFinite(p[2]))) {
      throw new PhysicsError(`rapier: the simulation diverged (NaN body pose) for ${this.robot.name}`);
    }
  }

  linkPose(link: string): Pose {
    this.live();
    return this.arm.linkPose(link);
  }

  objectPose(name: string): Pose {
    this.live();
    const o = this.object(name);
    // A body's pose, not its collider's: a teleported body's colliders follow only at the next step.
    const c = o.body === null ? this.world.getCollider(o.collider) : this.world.getRigidBody(o.body);
    const t = c.translation();
    const r = c.rotation();
    return { p: [t.x, t.y, t.z], q: [r.x, r.y, r.z, r.w] };
  }

  objectVelocity(name: string): Vec3 {
    this.live();
    const { body } = this.object(name);
    return body === null ? [0, 0, 0] : vec3(this.world.getRigidBody(body).linvel());
  }

  placeObject(name: string, position: Vec3, rotation: Quat = [0, 0, 0, 1]): void {
    this.live();
    const { body } = this.object(name);
    if (body === null) throw new RangeError(`rapier: scene object "${name}" is a fixture; it cannot be moved`);
    const b = this.world.getRigidBody(body);
    b.setTranslation({ x: position[0], y: position[1], z: position[2] }, true);
    b.setRotation(rapierQuat(rotation), true);
    b.setLinvel({ x: 0, y: 0, z: 0 }, true);
    b.setAngvel({ x: 0, y: 0, z: 0 }, true);
  }

  /**
   * By shape distance at the colliders' current poses (`contactCollider`, as MuJoCo's
   * `mj_geomDistance`), not by the narrow phase's contact manifolds: `contactPair` handed back a
   * manifold frozen at its first distance while closing fingers pressed 6 mm into a cube and lifted
   * it (measured), so a grasp never read as touching.
   */
  touching(links: readonly string[], object: string): boolean {
    this.live();
    // Colliders follow teleported bodies only at the next step (a reset's pose would be missed).
    this.world.propagateModifiedBodyPositionsToColliders();
    const o = this.object(object);
    const other = this.world.getCollider(o.collider);
    // A link collider whose bounding sphere stays over 1 mm from the object's bounds cannot touch
    // it: settled without Rapier's shape distance (the arm above the table, most steps).
    const box = o.body === null ? this.fixtureBox(o.collider) : null;
    const at = box ? null : vec3(other.translation());
    const reach = box ? 0 : this.boundingRadius(other);
    for (const link of links) {
      for (const h of this.arm.linkColliders.get(link) ?? []) {
        const c = this.world.getCollider(h);
        const t = c.translation();
        const r = this.boundingRadius(c) + TOUCH_DISTANCE;
        if (box ? sphereOutsideBox(t, r, box) : Math.hypot(t.x - (at as Vec3)[0], t.y - (at as Vec3)[1], t.z - (at as Vec3)[2]) > r + reach) continue;
        const contact = c.contactCollider(other, TOUCH_DISTANCE);
        if (contact && contact.distance <= TOUCH_DISTANCE) return true;
      }
    }
    return false;
  }

  /** A collider's bounding radius about its centre, m (cached for the world's life). */
  private boundingRadius(c: Collider): number {
    const known = this.radii.get(c.handle);
    if (known !== undefined) return known;
    const size = colliderSize(c, rapier().ShapeType);
    // Shapes the scene does not draw (meshes): no bound, always asked.
    const r = !size ? Infinity : size.kind === 'box' ? Math.hypot(...size.size) : size.kind === 'sphere' ? (size.size[0] as number) : size.kind === 'capsule' ? (size.size[0] as number) + (size.size[1] as number) : Math.hypot(size.size[0] as number, size.size[1] as number);
    this.radii.set(c.handle, r);
    return r;
  }

  /** A fixture's world bounding box (centre, half extents), m: fixtures do not move. */
  private fixtureBox(handle: number): { c: Vec3; h: Vec3 } {
    let box = this.boxes.get(handle);
    if (!box) {
      const c = this.world.getCollider(handle);
      const r = this.boundingRadius(c);
      const size = colliderSize(c, rapier().ShapeType);
      const t = vec3(c.translation());
      if (size?.kind === 'box') {
        // The rotated box's extent on each world axis: Σ |R_ij| h_j.
        const q = quat4(c.rotation());
        const axes = [rotate(q, [1, 0, 0]), rotate(q, [0, 1, 0]), rotate(q, [0, 0, 1])];
        const h = [0, 1, 2].map((i) => axes.reduce((sum, a, j) => sum + Math.abs(a[i] as number) * (size.size[j] as number), 0)) as Vec3;
        box = { c: t, h };
      } else box = { c: t, h: [r, r, r] };
      this.boxes.set(handle, box);
    }
    return box;
  }

  /**
   * Every collider of the world: the robot's links named by link (`link#i`), free bodies as
   * objects, the rest as fixtures, each under its scene object's name.
   */
  scene(): SceneState {
    this.live();
    const R = rapier();
    // Colliders follow teleported bodies only at the next step: without this, the scene of a
    // fresh reset showed the arm in its zero pose.
    this.world.propagateModifiedBodyPositionsToColliders();
    const names = new Map<number, { name: string; role: SceneShape['role'] }>();
    for (const [link, handles] of this.arm.linkColliders) handles.forEach((h, i) => names.set(h, { name: `${link}#${i}`, role: 'robot' }));
    for (const [name, o] of this.objects) names.set(o.collider, { name, role: o.body === null ? 'fixture' : 'object' });
    const shapes: SceneShape[] = [];
    const poses: number[] = [];
    this.world.forEachCollider((c: Collider) => {
      const size = colliderSize(c, R.ShapeType);
      const id = names.get(c.handle);
      if (!size || !id) return;
      // Rapier keeps sizes in f32: round its noise away (0.08, not 0.07999999821).
      shapes.push({ name: id.name, kind: size.kind, size: size.size.map((v) => Math.round(v * 1e6) / 1e6), role: id.role });
      const t = c.translation();
      const q = c.rotation();
      poses.push(t.x, t.y, t.z, q.x, q.y, q.z, q.w);
    });
    return { shapes, poses };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.world.free();
  }

  /** A freed world's methods fail with TypeErrors ("reading 'free'"): say what happened instead. */
  private live(): void {
    if (this.closed) throw new Error('rapier: the physics was closed');
  }

  private object(name: string): { collider: number; body: number | null } {
    const o = this.objects.get(name);
    if (!o) throw new RangeError(`rapier: no scene object "${name}" (have: ${[...this.objects.keys()].join(', ') || 'none'})`);
    return o;
  }
}

/** `touching`'s reach, m: a link within this of an object touches it. */
const TOUCH_DISTANCE = 1e-3;

/** Whether a sphere (centre `t`, radius `r`) lies wholly outside an axis-aligned box. */
function sphereOutsideBox(t: { x: number; y: number; z: number }, r: number, box: { c: Vec3; h: Vec3 }): boolean {
  return Math.abs(t.x - box.c[0]) > box.h[0] + r || Math.abs(t.y - box.c[1]) > box.h[1] + r || Math.abs(t.z - box.c[2]) > box.h[2] + r;
}

function rapierQuat(q: Quat): { x: number; y: number; z: number; w: number } {
  return { x: q[0], y: q[1], z: q[2], w: q[3] };
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
