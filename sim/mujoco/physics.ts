import type { MjData, MjModel } from '@mujoco/mujoco';
import { meshExtents, meshProblem, type SceneMesh, type SceneShape, type SceneState } from '../../control/scene.js';
import { fingerGains, servoGains } from '../articulation.js';
import { compose, mat3ToQuat, quatMul, transformPoint, type Mat3, type Pose, type Quat, type Vec3 } from '../math3d.js';
import { PhysicsError, type Physics, type PhysicsModel } from '../physics.js';
import { fingerPosition, gripperJoints, movableJoints } from '../urdf/kinematics.js';
import type { UrdfJoint, UrdfRobot } from '../urdf/types.js';
import { compileMjcf } from './mjcf-file.js';
import { linkBodyName, linkPlacements, urdfToMjcf, type MjcfOptions } from './mjcf.js';
import { mujoco, type Mujoco } from './module.js';

/** MuJoCo's geom types (mjtGeom) that the viewer draws as primitives; meshes (mjGEOM_MESH) beside them. */
const GEOM_KIND: Partial<Record<number, SceneShape['kind']>> = { 2: 'sphere', 3: 'capsule', 5: 'cylinder', 6: 'box' };
const MJ_GEOM_MESH = 7;
/** Geom types the scene carries as triangles made here: mjGEOM_PLANE, mjGEOM_HFIELD, mjGEOM_ELLIPSOID. */
const MJ_GEOM_PLANE = 0;
const MJ_GEOM_HFIELD = 1;
const MJ_GEOM_ELLIPSOID = 4;
/** Half extent drawn for an infinite plane (size 0), m: MuJoCo's floors, to the horizon of any camera here. */
const INFINITE_PLANE = 50;
/** Most faces a height field's drawn surface gets (a larger grid is drawn at every k-th sample). */
const MAX_HFIELD_FACES = 20_000;
/** The viewer's capsules and cylinders lie along local y, MuJoCo's along z: +90° about x. */
const Z_TO_Y: Quat = [Math.SQRT1_2, 0, 0, Math.SQRT1_2];

/** Simulation time after a reset, s (see `restore`). Time enters no force of these models. */
const TIME_ORIGIN = 1000;

/** Live views into MjData (wasm memory); re-fetched whenever the heap grew (old views detach). */
interface Views {
  qpos: Float64Array;
  qvel: Float64Array;
  ctrl: Float64Array;
  xpos: Float64Array;
  xquat: Float64Array;
  geomXpos: Float64Array;
  geomXmat: Float64Array;
  xfrc: Float64Array;
}

/** `touching`'s reach, m: a link within this of an object touches it. */
const TOUCH_DISTANCE = 1e-3;

/**
 * A {@link PhysicsModel} on MuJoCo (`@mujoco/mujoco`, DeepMind's official wasm build): the model
 * is written as MJCF from the same URDF and actuation the Rapier engine uses ({@link urdfToMjcf}),
 * integrated with `implicitfast` at the task's step. MuJoCo's own message names the element when
 * a model does not compile.
 *
 * Divergence: MuJoCo resets its data when an acceleration or state goes bad (mjWARN_BADQACC …);
 * `step` notices the reset (simulation time jumped back) or a NaN joint state and throws a
 * {@link PhysicsError} instead of handing the task a teleported robot.
 *
 * Lifetime: the model and data live in wasm memory; `close()` deletes both.
 */
export class MujocoPhysics implements Physics {
  readonly engine = 'mujoco' as const;
  readonly robot: UrdfRobot;
  readonly joints: readonly UrdfJoint[];
  readonly fingers: readonly UrdfJoint[];
  readonly dof: number;
  readonly dt: number;
  readonly substeps: number;
  /** MuJoCo steps per physics step (`PhysicsOptions.mujocoSplit`; 1 for an MJCF file's model). */
  readonly split: number;
  private readonly mj: Mujoco;
  private readonly m: MjModel;
  private readonly d: MjData;
  private views: Views;
  private readonly qposAdr: Int32Array;
  private readonly dofAdr: Int32Array;
  /** The actuator (ctrl index) driving each joint. */
  private readonly ctrlIndex: Int32Array;
  /** Each finger joint's qpos address and actuator. */
  private readonly fingerQpos: Int32Array;
  private readonly fingerCtrl: Int32Array;
  /** The fingers' commanded opening (the leading finger's position), m. */
  private opening = 0;
  private readonly linkBody = new Map<string, number>();
  /** A link riding another link's body: its pose in that body (absent: the body's own frame). */
  private readonly linkOffset = new Map<string, Pose>();
  private readonly objects = new Map<string, { body: number; geom: number; qposAdr: number; dofAdr: number; free: boolean }>();
  /** Each link's collision geoms. */
  private readonly linkGeoms = new Map<string, number[]>();
  /** Drawn geoms; `body` ≥ 0 where the shape rides its body's frame (meshes), −1 where the geom's. */
  private readonly sceneShapes: { geom: number; body: number; shape: SceneShape; axial: boolean }[] = [];
  /** Each geom's bounding box in its own frame (center, half sizes: MuJoCo's geom_aabb), for `touching`'s bound test. */
  private readonly geomBox: Float64Array;
  /** Scratch of `boxesApart`: two boxes on one axis (centre, half extent each). */
  private readonly axisBoxes = new Float64Array(4);
  /** The weight (world force, N) of each free object of a weightless world (see `gravityCompensation` in mjcf.ts), applied after every reset. */
  private readonly weights: { body: number; force: Vec3 }[] = [];
  private readonly holdTargets: boolean;
  /** The simulation time `step` expects MuJoCo's clock to show. */
  private time = TIME_ORIGIN;
  private closed = false;

  /**
   * `source`: MJCF to compile instead of the model written from the URDF, or a compiled model
   * (see {@link MujocoPhysics.fromFile}); joints are commanded through the actuator on each.
   */
  constructor(model: PhysicsModel, source?: string | MjModel) {
    this.mj = mujoco();
    this.robot = model.robot;
    this.joints = movableJoints(model.robot);
    this.fingers = model.actuation.weldFingers ? [] : gripperJoints(model.robot);
    this.dof = this.joints.length;
    this.dt = model.timing.dt;
    this.substeps = model.timing.substeps;
    const a = model.actuation;
    this.holdTargets = a.mode === 'position';
    const mjcf = typeof source === 'string' ? source : source ? null : MujocoPhysics.mjcf(model);
    this.m = mjcf === null ? (source as MjModel) : this.mj.MjModel.from_xml_string(mjcf);
    try {
      this.d = new this.mj.MjData(this.m);
    } catch (err) {
      if (mjcf !== null) this.m.delete();
      throw err;
    }
    try {
      // MuJoCo steps per physics step, from the compiled model's own step: dt / k for a model
      // written with `mujocoSplit` k (also when its MJCF comes back as `source`), 1 for a file's.
      const ts = this.m.opt.timestep as number;
      this.split = Math.round(this.dt / ts);
      if (!(this.split >= 1 && Math.abs(this.split * ts - this.dt) <= 1e-9 * this.dt)) throw new RangeError(`mujoco: the model's time step ${ts} s does not divide the physics step ${this.dt} s`);
      this.views = this.fetchViews();
      this.d.time = TIME_ORIGIN;
      const { mjOBJ_BODY, mjOBJ_JOINT, mjOBJ_GEOM } = this.mj.mjtObj;
      const id = (type: number, name: string, what: string): number => {
        const i = this.mj.mj_name2id(this.m, type, name);
        if (i >= 0) return i;
        // A file's nameless body or joint goes by `body<id>` / `joint<id>` in its description (robotOfModel).
        const generated = /^(body|joint)(\d+)$/.exec(name);
        const adr = (type === mjOBJ_BODY.value ? this.m.name_bodyadr : type === mjOBJ_JOINT.value ? this.m.name_jntadr : null) as Int32Array | null;
        const k = generated && adr && generated[1] === (type === mjOBJ_BODY.value ? 'body' : 'joint') ? Number(generated[2]) : -1;
        if (adr && k >= 0 && k < adr.length && nameAt(this.m, adr, k) === '') return k;
        throw new RangeError(`mujoco: the model has no ${what} "${name}"`);
      };
      const jntQpos = this.m.jnt_qposadr as Int32Array;
      const jntDof = this.m.jnt_dofadr as Int32Array;
      const jointIds = this.joints.map((j) => id(mjOBJ_JOINT.value, j.name, 'joint'));
      this.qposAdr = Int32Array.from(jointIds, (j) => jntQpos[j] as number);
      this.ctrlIndex = actuatorOfJoint(this.m, jointIds, this.joints.map((j) => j.name));
      this.dofAdr = Int32Array.from(jointIds, (j) => jntDof[j] as number);
      const fingerIds = this.fingers.map((j) => id(mjOBJ_JOINT.value, j.name, 'joint'));
      this.fingerQpos = Int32Array.from(fingerIds, (j) => jntQpos[j] as number);
      this.fingerCtrl = actuatorOfJoint(this.m, fingerIds, this.fingers.map((j) => j.name));
      // A model written from the URDF has no body for a link on a fixed joint (or a welded finger):
      // it rides its parent's body (linkPlacements), and its geoms keep its name (`link#i`). A
      // file's model has a body per link.
      const written = typeof source !== 'object'; // urdfToMjcf's MJCF (a file's model comes compiled)
      const placements = linkPlacements(model.robot, a.weldFingers ?? false);
      const fused = written && model.robot.links.some((l) => placements.get(l.name)?.body !== l.name);
      const geomBody = Int32Array.from(this.m.geom_bodyid as Int32Array);
      for (const link of model.robot.links) {
        const at = fused ? placements.get(link.name) : undefined;
        this.linkBody.set(link.name, id(mjOBJ_BODY.value, written ? linkBodyName(at?.body ?? link.name) : link.name, 'body'));
        if (at && at.body !== link.name) this.linkOffset.set(link.name, at.offset);
        this.linkGeoms.set(
          link.name,
          fused ? link.collisions.map((_, i) => this.mj.mj_name2id(this.m, mjOBJ_GEOM.value, `${link.name}#${i}`)).filter((g) => g >= 0) : [...geomBody.keys()].filter((g) => geomBody[g] === this.linkBody.get(link.name)),
        );
      }
      for (const o of model.objects ?? []) {
        const geom = id(mjOBJ_GEOM.value, o.name, 'geom');
        const free = o.mass !== undefined;
        const joint = free ? id(mjOBJ_JOINT.value, o.name, 'joint') : -1;
        this.objects.set(o.name, { body: geomBody[geom] as number, geom, qposAdr: free ? (jntQpos[joint] as number) : -1, dofAdr: free ? (jntDof[joint] as number) : -1, free });
      }
      this.describeScene(model);
      this.geomBox = Float64Array.from(this.m.geom_aabb as Float64Array);
      // The MJCF written from the URDF with the arm compensated has no gravity: objects get their
      // weight here (also when that MJCF, or a variant of it, comes back as `source`).
      const weightless = Array.from(this.m.opt.gravity as Float64Array).every((v) => v === 0);
      if (typeof source !== 'object' && a.gravityCompensation && weightless) {
        const g = model.timing.gravity ?? [0, 0, -9.81];
        const mass = this.m.body_mass as Float64Array;
        for (const o of this.objects.values()) if (o.free) this.weights.push({ body: o.body, force: [0, 1, 2].map((i) => (mass[o.body] as number) * (g[i] as number)) as Vec3 });
        this.applyWeights();
      }
    } catch (err) {
      // Nothing of a half-built physics stays in wasm memory (a file's model is its caller's).
      this.d.delete();
      if (mjcf !== null) this.m.delete();
      throw err;
    }
  }

  /**
   * A model from an MJCF file (a MuJoCo Menagerie arm with its meshes, say): its bodies are the
   * links, its actuated hinge and slide joints the robot's joints (in tree order, each driven
   * by its position actuator), at the file's own time step; `controlHz` sets the substeps.
   */
  static fromFile(path: string, controlHz: number): MujocoPhysics {
    const { model: m, name } = compileMjcf(path);
    try {
      const robot = robotOfModel(mujoco(), m, path, name);
      const dt = m.opt.timestep;
      // MuJoCo compiles timestep="0" (the control period then takes infinitely many steps: a hang).
      if (!(dt > 0 && Number.isFinite(dt))) throw new Error(`MJCF file ${path}: <option timestep> must be a positive number of seconds, got ${dt}`);
      const substeps = Math.max(1, Math.round(1 / (controlHz * dt)));
      return new MujocoPhysics({ robot, actuation: { mode: 'position' }, timing: { dt, substeps } }, m);
    } catch (err) {
      m.delete();
      throw err;
    }
  }

  /**
   * The MJCF this engine compiles for a model from a URDF: the Rapier articulation's servos,
   * gravity compensation (a weightless world: free objects' weight is applied by the physics,
   * see `gravityCompensation` in mjcf.ts), objects.
   */
  static mjcf(model: PhysicsModel, overrides: Pick<MjcfOptions, 'fuse' | 'servoDampingOnJoints' | 'contactPairs'> = {}): string {
    const a = model.actuation;
    const gains = servoGains(movableJoints(model.robot), a);
    const fingers = fingerGains(a.weldFingers ? [] : gripperJoints(model.robot));
    return urdfToMjcf(model.robot, {
      fingers: { kp: fingers.stiffness, kv: fingers.damping },
      weldFingers: a.weldFingers ?? false,
      timestep: model.timing.dt / checkSplit(model.timing.mujocoSplit),
      gravity: model.timing.gravity,
      actuation: a.mode === 'position' ? { mode: 'position', kp: gains.stiffness, kv: gains.damping } : a.mode === 'velocity' ? { mode: 'velocity', kv: gains.velocityGain } : { mode: 'torque' },
      gravityCompensation: a.gravityCompensation,
      objects: model.objects,
      friction: a.friction,
      ...overrides,
    });
  }

  /**
   * Robot geoms are named `link#i` (as the Rapier colliders are); objects by their names; a
   * nameless geom (common in MJCF files) after its body, `body#k` with k the first index no other
   * geom's name holds. Drawn as MuJoCo's viewer does by default: groups 0–2, not fully
   * transparent by their own or their material's colour (Menagerie models put their collision
   * meshes in group 3 beside the visual ones). A mesh geom's shape carries its triangles in its
   * body's frame and rides the body (MuJoCo's mesh frame is the mesh's inertial frame, which
   * moves with the mesh's shape: a wrist camera attached to `hand#0` would ride that). Planes
   * (a Menagerie scene's floor; an infinite one drawn 50 m out), ellipsoids and height fields
   * have no primitive in the scene: they go as triangles made here ({@link planeMesh},
   * {@link ellipsoidMesh}, {@link gridMesh}), so the dashboard and the cameras draw them too.
   */
  private describeScene(model: PhysicsModel): void {
    const m = this.m;
    const types = m.geom_type as Int32Array;
    const sizes = m.geom_size as Float64Array;
    const group = m.geom_group as Int32Array;
    const rgba = m.geom_rgba as Float32Array;
    const matId = m.geom_matid as Int32Array;
    const matRgba = m.mat_rgba as Float32Array;
    const bodyOf = m.geom_bodyid as Int32Array;
    const dataId = m.geom_dataid as Int32Array;
    const geomPos = m.geom_pos as Float64Array;
    const geomQuat = m.geom_quat as Float64Array;
    const objects = new Map((model.objects ?? []).map((o) => [o.name, o]));
    const given = Array.from({ length: m.ngeom }, (_, g) => nameAt(m, m.name_geomadr as Int32Array, g));
    const taken = new Set(given.filter((n) => n !== ''));
    const perBody = new Map<number, number>();
    for (let g = 0; g < m.ngeom; g++) {
      const type = types[g] as number;
      const made = type === MJ_GEOM_PLANE || type === MJ_GEOM_HFIELD || type === MJ_GEOM_ELLIPSOID;
      const kind = type === MJ_GEOM_MESH || made ? 'mesh' : GEOM_KIND[type];
      const mat = matId[g] as number;
      const alpha = mat >= 0 ? (matRgba[4 * mat + 3] as number) * (rgba[4 * g + 3] as number) : (rgba[4 * g + 3] as number);
      if (!kind || (group[g] as number) > 2 || alpha === 0) continue;
      const body = bodyOf[g] as number;
      let name = given[g] as string;
      if (!name) {
        const owner = nameAt(m, m.name_bodyadr as Int32Array, body) || (body === 0 ? 'world' : `body${body}`);
        for (let k = perBody.get(body) ?? 0; ; k++) {
          name = `${owner}#${k}`;
          perBody.set(body, k + 1);
          if (!taken.has(name)) break;
        }
        taken.add(name);
      }
      const object = objects.get(name);
      // A geom of the world body itself (an MJCF file's floor, terrain, walls) is a fixture, not the robot.
      const role: SceneShape['role'] = object ? (object.mass === undefined ? 'fixture' : 'object') : body === 0 ? 'fixture' : 'robot';
      if (kind === 'mesh') {
        const p: Vec3 = [geomPos[3 * g] as number, geomPos[3 * g + 1] as number, geomPos[3 * g + 2] as number];
        const q: Quat = [geomQuat[4 * g + 1] as number, geomQuat[4 * g + 2] as number, geomQuat[4 * g + 3] as number, geomQuat[4 * g] as number];
        const local: SceneMesh | undefined =
          type === MJ_GEOM_PLANE ? planeMesh(sizes[3 * g] as number, sizes[3 * g + 1] as number)
          : type === MJ_GEOM_ELLIPSOID ? ellipsoidMesh([sizes[3 * g] as number, sizes[3 * g + 1] as number, sizes[3 * g + 2] as number])
          : type === MJ_GEOM_HFIELD ? hfieldMesh(m, dataId[g] as number)
          : undefined;
        const mesh = made ? (local ? placed(local, { p, q }) : undefined) : meshOf(m, dataId[g] as number, { p, q });
        // One shape a viewer cannot take (a plane or mesh posed kilometres out) is left out, not the whole scene with it.
        if (!mesh || meshProblem(mesh) !== null) continue;
        this.sceneShapes.push({ geom: g, body, shape: { name, kind, size: meshExtents(mesh.vertices), role, mesh }, axial: false });
        continue;
      }
      const s = [sizes[3 * g] as number, sizes[3 * g + 1] as number, sizes[3 * g + 2] as number];
      const dims = kind === 'box' ? s : kind === 'sphere' ? [s[0] as number] : [s[0] as number, s[1] as number];
      this.sceneShapes.push({ geom: g, body: -1, shape: { name, kind, size: dims.map((v) => Math.round(v * 1e6) / 1e6), role }, axial: kind === 'capsule' || kind === 'cylinder' });
    }
  }

  private fetchViews(): Views {
    const d = this.d;
    return { qpos: d.qpos, qvel: d.qvel, ctrl: d.ctrl, xpos: d.xpos, xquat: d.xquat, geomXpos: d.geom_xpos, geomXmat: d.geom_xmat, xfrc: d.xfrc_applied };
  }

  /** Writes the free objects' weights into `xfrc_applied` (MuJoCo's reset clears it). */
  private applyWeights(): void {
    const { xfrc } = this.v();
    for (const { body, force } of this.weights) xfrc.set(force, 6 * body);
  }

  /**
   * MuJoCo's compiled model and its data, for benchmarks that step them directly (the raw
   * model's row): owned by this physics, freed by `close()`.
   */
  get compiled(): { readonly model: MjModel; readonly data: MjData } {
    this.v();
    return { model: this.m, data: this.d };
  }

  /** The data's views, fresh: a grown wasm heap detaches every earlier view (length 0). */
  private v(): Views {
    if (this.closed) throw new Error('mujoco: the physics was closed');
    if (this.views.qpos.length === 0) this.views = this.fetchViews();
    return this.views;
  }

  /**
   * Resets the data with the clock at {@link TIME_ORIGIN}: MuJoCo's own reset after an unstable
   * step sets it to 0, which `step` then cannot miss (reading its warning counters costs ~20 µs).
   */
  restore(): void {
    this.v();
    this.mj.mj_resetData(this.m, this.d);
    this.applyWeights();
    this.opening = 0;
    this.d.time = TIME_ORIGIN;
    this.mj.mj_forward(this.m, this.d);
    this.time = TIME_ORIGIN;
  }

  setJointState(q: ArrayLike<number>, qd?: ArrayLike<number>): void {
    const { qpos, qvel, ctrl } = this.v();
    for (let k = 0; k < this.dof; k++) {
      qpos[this.qposAdr[k] as number] = q[k] as number;
      qvel[this.dofAdr[k] as number] = qd ? (qd[k] as number) : 0;
      ctrl[this.ctrlIndex[k] as number] = this.holdTargets ? (q[k] as number) : 0;
    }
    // The fingers at their commanded opening, at rest relative to the hand.
    this.fingers.forEach((j, f) => {
      const v = fingerPosition(j, this.opening);
      qpos[this.fingerQpos[f] as number] = v;
      ctrl[this.fingerCtrl[f] as number] = v;
    });
    this.mj.mj_forward(this.m, this.d);
  }

  commandFingers(opening: number): void {
    const { ctrl } = this.v();
    const leader = this.fingers.find((j) => !j.mimic);
    if (!leader) throw new RangeError(`mujoco: ${this.robot.name} has no gripper (fingers are prismatic joints coupled by <mimic>)`);
    if (!Number.isFinite(opening)) throw new RangeError(`mujoco: finger opening must be finite, got ${opening}`);
    const lo = leader.limit?.lower ?? -Infinity;
    const hi = leader.limit?.upper ?? Infinity;
    this.opening = opening < lo ? lo : opening > hi ? hi : opening;
    this.fingers.forEach((j, f) => (ctrl[this.fingerCtrl[f] as number] = fingerPosition(j, this.opening)));
  }

  readFingers(out: Float64Array): void {
    const { qpos } = this.v();
    for (let f = 0; f < this.fingers.length; f++) out[f] = qpos[this.fingerQpos[f] as number] as number;
  }

  readJointState(q: Float64Array, qd: Float64Array): void {
    const { qpos, qvel } = this.v();
    for (let k = 0; k < this.dof; k++) {
      q[k] = qpos[this.qposAdr[k] as number] as number;
      qd[k] = qvel[this.dofAdr[k] as number] as number;
    }
  }

  command(values: ArrayLike<number>): void {
    const { ctrl } = this.v();
    // MuJoCo zeroes every control, silently but for a warning counter, when one is not finite or
    // beyond mjMAXVAL (1e10): the servos would head for zero. Refused before anything is written.
    if (values.length !== this.dof) throw new RangeError(`mujoco: ${values.length} commands for ${this.dof} joints`);
    for (let k = 0; k < this.dof; k++) {
      const v = values[k] as number;
      if (!(Math.abs(v) <= 1e10)) throw new RangeError(`mujoco: command[${k}] = ${v} for joint "${this.joints[k]?.name}" is not finite or beyond 1e10`);
    }
    for (let k = 0; k < this.dof; k++) ctrl[this.ctrlIndex[k] as number] = values[k] as number;
  }

  step(steps = this.substeps): void {
    if (this.closed) throw new Error('mujoco: the physics was closed');
    for (let i = 0, n = steps * this.split; i < n; i++) this.mj.mj_step(this.m, this.d);
    this.time += steps * this.dt;
    const { qpos } = this.v();
    let finite = true;
    for (let k = 0; k < this.dof; k++) finite &&= Number.isFinite(qpos[this.qposAdr[k] as number]);
    // MuJoCo resets the data (its clock back to 0) when it finds a bad state or acceleration.
    if (!finite || Math.abs(this.d.time - this.time) > 0.5 * this.dt) {
      throw new PhysicsError(`mujoco: the simulation of ${this.robot.name} diverged ${(this.time - TIME_ORIGIN).toFixed(3)} s after the reset (${finite ? 'MuJoCo reset its state after an unstable step: bad qacc/qvel' : 'NaN joint state'})`);
    }
  }

  linkPose(link: string): Pose {
    const b = this.linkBody.get(link);
    if (b === undefined) throw new RangeError(`mujoco: ${this.robot.name} has no link "${link}"`);
    const offset = this.linkOffset.get(link);
    return offset ? compose(this.bodyPose(b), offset) : this.bodyPose(b);
  }

  objectPose(name: string): Pose {
    return this.bodyPose(this.object(name).body);
  }

  objectVelocity(name: string): Vec3 {
    const o = this.object(name);
    if (!o.free) return [0, 0, 0];
    const { qvel } = this.v();
    // A free joint's first three velocities are its body's linear velocity in the world frame.
    return [qvel[o.dofAdr] as number, qvel[o.dofAdr + 1] as number, qvel[o.dofAdr + 2] as number];
  }

  placeObject(name: string, position: Vec3, rotation: Quat = [0, 0, 0, 1]): void {
    const o = this.object(name);
    if (!o.free) throw new RangeError(`mujoco: scene object "${name}" is a fixture; it cannot be moved`);
    const { qpos, qvel } = this.v();
    qpos.set([...position, rotation[3], rotation[0], rotation[1], rotation[2]], o.qposAdr);
    qvel.fill(0, o.dofAdr, o.dofAdr + 6);
    this.mj.mj_forward(this.m, this.d);
  }

  /**
   * By geom distance (`mj_geomDistance`), not by the contact list: reading `d.contact` copies
   * every contact out of wasm (~80 µs for the push scene, measured), and MuJoCo's contacts start
   * at penetration, not within 1 mm. A pair whose world bounding boxes are more than 1 mm apart
   * on an axis cannot be within 1 mm: it is settled here without the call (~3 µs a pair through
   * the bindings; the table test of a step was ten of them).
   */
  touching(links: readonly string[], object: string): boolean {
    this.v();
    const target = this.object(object).geom;
    for (const link of links) {
      for (const g of this.linkGeoms.get(link) ?? []) {
        if (this.boxesApart(g, target)) continue;
        if (this.mj.mj_geomDistance(this.m, this.d, g, target, 2 * TOUCH_DISTANCE, null) <= TOUCH_DISTANCE) return true;
      }
    }
    return false;
  }

  /** Whether geoms `a` and `b`'s world-aligned bounding boxes are more than {@link TOUCH_DISTANCE} apart on some axis. */
  private boxesApart(a: number, b: number): boolean {
    const s = this.axisBoxes;
    for (let i = 0; i < 3; i++) {
      this.worldBoxOnAxis(a, i, 0);
      this.worldBoxOnAxis(b, i, 2);
      if (Math.abs((s[0] as number) - (s[2] as number)) > (s[1] as number) + (s[3] as number) + TOUCH_DISTANCE) return true;
    }
    return false;
  }

  /** Geom `g`'s world bounding box on axis `i` into `axisBoxes[at]` (centre) and `[at + 1]` (half extent): p + R·c, Σⱼ |Rᵢⱼ|·hⱼ. */
  private worldBoxOnAxis(g: number, i: number, at: number): void {
    const { geomXpos: p, geomXmat: R } = this.views;
    const box = this.geomBox;
    let c = p[3 * g + i] as number;
    let h = 0;
    for (let j = 0; j < 3; j++) {
      const r = R[9 * g + 3 * i + j] as number;
      c += r * (box[6 * g + j] as number);
      h += Math.abs(r) * (box[6 * g + 3 + j] as number);
    }
    this.axisBoxes[at] = c;
    this.axisBoxes[at + 1] = h;
  }

  scene(): SceneState {
    this.v();
    const xpos = this.d.geom_xpos as Float64Array;
    const xmat = this.d.geom_xmat as Float64Array;
    const poses: number[] = [];
    for (const { geom: g, body, axial } of this.sceneShapes) {
      if (body >= 0) {
        const { p, q } = this.bodyPose(body);
        poses.push(...p, ...q);
        continue;
      }
      const m = Array.from(xmat.subarray(9 * g, 9 * g + 9)) as Mat3; // row-major, as ours
      const q = axial ? quatMul(mat3ToQuat(m), Z_TO_Y) : mat3ToQuat(m);
      poses.push(xpos[3 * g] as number, xpos[3 * g + 1] as number, xpos[3 * g + 2] as number, ...q);
    }
    return { shapes: this.sceneShapes.map((s) => s.shape), poses };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.d.delete();
    this.m.delete();
  }

  private bodyPose(b: number): Pose {
    const { xpos, xquat } = this.v();
    return {
      p: [xpos[3 * b] as number, xpos[3 * b + 1] as number, xpos[3 * b + 2] as number],
      q: [xquat[4 * b + 1] as number, xquat[4 * b + 2] as number, xquat[4 * b + 3] as number, xquat[4 * b] as number],
    };
  }

  private object(name: string): { body: number; geom: number; qposAdr: number; dofAdr: number; free: boolean } {
    const o = this.objects.get(name);
    if (!o) throw new RangeError(`mujoco: no scene object "${name}" (have: ${[...this.objects.keys()].join(', ') || 'none'})`);
    return o;
  }
}

/** `PhysicsOptions.mujocoSplit`: an integer 1–16 (default 1). */
function checkSplit(split: number | undefined): number {
  const k = split ?? 1;
  if (!(Number.isInteger(k) && k >= 1 && k <= 16)) throw new RangeError(`Expected timing \`mujocoSplit\` to be an integer in [1, 16], got \`${k}\``);
  return k;
}

/** For each joint, the index of the actuator that drives it (transmission type joint). */
function actuatorOfJoint(m: MjModel, jointIds: readonly number[], names: readonly string[]): Int32Array {
  const type = m.actuator_trntype as Int32Array;
  const trn = m.actuator_trnid as Int32Array;
  return Int32Array.from(jointIds, (j, k) => {
    for (let a = 0; a < m.nu; a++) if (type[a] === 0 && trn[2 * a] === j) return a;
    throw new RangeError(`mujoco: joint "${names[k]}" has no actuator (every robot joint needs one, e.g. <position joint="${names[k]}" kp=…/>)`);
  });
}

/**
 * The robot of a compiled MJCF model as a description: bodies as links, each body's single
 * actuated hinge or slide joint as a revolute / prismatic joint (range, axis, the actuator's
 * force limit), everything else fixed (welded or passive). Bodies are in tree order already.
 */
function robotOfModel(mj: Mujoco, m: MjModel, path: string, modelName: string): UrdfRobot {
  const { mjOBJ_BODY, mjOBJ_JOINT } = mj.mjtObj;
  const adr = (type: number): Int32Array => (type === mjOBJ_BODY.value ? m.name_bodyadr : m.name_jntadr) as Int32Array;
  const name = (type: number, i: number, fallback: string): string => nameAt(m, adr(type), i) || fallback;
  const parent = m.body_parentid as Int32Array;
  const pos = m.body_pos as Float64Array;
  const quat = m.body_quat as Float64Array;
  const jntType = m.jnt_type as Int32Array;
  const jntBody = m.jnt_bodyid as Int32Array;
  const jntAxis = m.jnt_axis as Float64Array;
  const jntRange = m.jnt_range as Float64Array;
  const trnType = m.actuator_trntype as Int32Array;
  const trn = m.actuator_trnid as Int32Array;
  const forceRange = m.actuator_forcerange as Float64Array;
  const biasType = m.actuator_biastype as Int32Array;
  const biasPrm = m.actuator_biasprm as Float64Array;
  const links = Array.from({ length: m.nbody - 1 }, (_, i) => ({ name: name(mjOBJ_BODY.value, i + 1, `body${i + 1}`), inertial: null, collisions: [] }));
  const joints: UrdfJoint[] = [];
  for (let b = 1; b < m.nbody; b++) {
    if (parent[b] === 0) continue;
    const own = [...Array(m.njnt).keys()].filter((j) => jntBody[j] === b);
    const driven = own.filter((j) => [...Array(m.nu).keys()].some((a) => trnType[a] === 0 && trn[2 * a] === j));
    // Such a body would be welded in the description while MuJoCo moves it, its actuators never commanded.
    if (own.length > 1 && driven.length) throw new Error(`MJCF file ${path}: body "${name(mjOBJ_BODY.value, b, `body${b}`)}" has ${own.length} joints; each actuated robot joint needs a body of its own`);
    const actuator = own.length === 1 ? [...Array(m.nu).keys()].find((a) => trnType[a] === 0 && trn[2 * a] === own[0]) : undefined;
    const j = own[0] as number;
    const movable = actuator !== undefined && (jntType[j] === 3 || jntType[j] === 2); // mjJNT_HINGE = 3, mjJNT_SLIDE = 2
    // The task commands position targets: a motor or velocity actuator would read them as torques
    // or speeds. A position servo's bias is affine (mjBIAS_AFFINE = 1) with −kp on the position.
    if (movable && !(biasType[actuator] === 1 && (biasPrm[10 * actuator + 1] as number) < 0)) {
      throw new Error(`MJCF file ${path}: the actuator on joint "${name(mjOBJ_JOINT.value, j, `joint${j}`)}" is not a position servo (the robot's joints need <position joint=… kp=…/> actuators)`);
    }
    const effort = actuator !== undefined && (forceRange[2 * actuator + 1] as number) > (forceRange[2 * actuator] as number) ? (forceRange[2 * actuator + 1] as number) : Infinity;
    // jnt_limited is a bool array the bindings cannot hand out; an unlimited joint's range is 0 0.
    const limited = movable && (jntRange[2 * j + 1] as number) > (jntRange[2 * j] as number);
    joints.push({
      name: movable ? name(mjOBJ_JOINT.value, j, `joint${j}`) : `${name(mjOBJ_BODY.value, b, `body${b}`)}_fixed`,
      type: !movable ? 'fixed' : jntType[j] === 2 ? 'prismatic' : limited ? 'revolute' : 'continuous',
      parent: name(mjOBJ_BODY.value, parent[b] as number, `body${parent[b]}`),
      child: name(mjOBJ_BODY.value, b, `body${b}`),
      origin: { p: [pos[3 * b] as number, pos[3 * b + 1] as number, pos[3 * b + 2] as number], q: [quat[4 * b + 1] as number, quat[4 * b + 2] as number, quat[4 * b + 3] as number, quat[4 * b] as number] },
      axis: movable ? [jntAxis[3 * j] as number, jntAxis[3 * j + 1] as number, jntAxis[3 * j + 2] as number] : [1, 0, 0],
      limit: movable ? { lower: limited ? (jntRange[2 * j] as number) : -Infinity, upper: limited ? (jntRange[2 * j + 1] as number) : Infinity, effort, velocity: Infinity } : null,
      damping: 0,
      friction: 0,
    });
  }
  // The robot: the first body under the world whose subtree has an actuated joint (free objects
  // and fixtures beside it are scene bodies).
  const movable = joints.filter((j) => j.type !== 'fixed');
  if (!movable.length) throw new Error(`MJCF file ${path}: no hinge or slide joint with an actuator (the robot's joints need <position joint=…/> actuators)`);
  let root = movable[0]?.parent as string;
  for (let up = joints.find((j) => j.child === root); up; up = joints.find((j) => j.child === root)) root = up.parent;
  // A floating base (a free joint on the robot's bodies) falls under the task: refused.
  const rootId = mj.mj_name2id(m, mjOBJ_BODY.value, root);
  const inRobot = (b: number): boolean => b === rootId || (b > 0 && inRobot(parent[b] as number));
  for (let j = 0; j < m.njnt; j++) {
    const b = jntBody[j] as number;
    if (jntType[j] === 0 && inRobot(b)) throw new Error(`MJCF file ${path}: the robot's body "${name(mjOBJ_BODY.value, b, `body${b}`)}" has a free joint (a floating base); its base must be fixed to the world`); // mjJNT_FREE = 0
  }
  return { name: modelName, links, joints, root, warnings: [] };
}

/**
 * The name of a model object from its entry in a name-address array (`name_geomadr`,
 * `name_bodyadr`, …), '' when it has none. (The bindings' `mj_id2name` returns the string at
 * address 0 of the heap, "emsc", for a nameless object, not null.)
 */
export function nameAt(m: MjModel, adr: Int32Array, i: number): string {
  const names = m.names as Int8Array;
  const start = adr[i] as number;
  let end = start;
  while (end < names.length && names[end] !== 0) end++;
  return Buffer.from(names.buffer, names.byteOffset + start, end - start).toString('utf8');
}

/** `mesh` with its vertices moved by `frame` (a geom's pose in its body), to the micrometre. */
function placed(mesh: { readonly vertices: ArrayLike<number>; readonly faces: readonly number[] }, frame: Pose): SceneMesh {
  const vertices: number[] = [];
  const v = mesh.vertices;
  for (let i = 0; i < v.length; i += 3) {
    const w = transformPoint(frame, [v[i] as number, v[i + 1] as number, v[i + 2] as number]);
    vertices.push(Math.round(w[0] * 1e6) / 1e6, Math.round(w[1] * 1e6) / 1e6, Math.round(w[2] * 1e6) / 1e6);
  }
  return { vertices, faces: mesh.faces };
}

/**
 * A plane geom's drawn rectangle: half extents `sx` × `sy` in its z = 0 plane, facing +z (the
 * side it collides on); 0 (MuJoCo's infinite plane) and anything larger is drawn
 * {@link INFINITE_PLANE} m out.
 */
export function planeMesh(sx: number, sy: number): SceneMesh {
  const x = sx > 0 ? Math.min(sx, INFINITE_PLANE) : INFINITE_PLANE;
  const y = sy > 0 ? Math.min(sy, INFINITE_PLANE) : INFINITE_PLANE;
  return { vertices: [-x, -y, 0, x, -y, 0, x, y, 0, -x, y, 0], faces: [0, 1, 2, 0, 2, 3] };
}

/** An ellipsoid geom as a UV sphere of 16 × 10 quads scaled by its radii (outward faces counter-clockwise). */
export function ellipsoidMesh(radii: readonly [number, number, number]): SceneMesh {
  const [a, b, c] = radii;
  const around = 16;
  const rings = 10;
  const vertices: number[] = [0, 0, c]; // north pole
  for (let r = 1; r < rings; r++) {
    const theta = (Math.PI * r) / rings;
    for (let k = 0; k < around; k++) {
      const phi = (2 * Math.PI * k) / around;
      vertices.push(a * Math.sin(theta) * Math.cos(phi), b * Math.sin(theta) * Math.sin(phi), c * Math.cos(theta));
    }
  }
  vertices.push(0, 0, -c); // south pole
  const south = vertices.length / 3 - 1;
  const at = (r: number, k: number): number => 1 + (r - 1) * around + (k % around);
  const faces: number[] = [];
  for (let k = 0; k < around; k++) faces.push(0, at(1, k), at(1, k + 1));
  for (let r = 1; r < rings - 1; r++) {
    for (let k = 0; k < around; k++) faces.push(at(r, k), at(r + 1, k), at(r + 1, k + 1), at(r, k), at(r + 1, k + 1), at(r, k + 1));
  }
  for (let k = 0; k < around; k++) faces.push(south, at(rings - 1, k + 1), at(rings - 1, k));
  return { vertices, faces };
}

/**
 * A height field geom's top surface: its grid (x along columns, y along rows, over ±radius),
 * each sample's height its normalised elevation × `size[2]`, faces up. A grid over
 * {@link MAX_HFIELD_FACES} faces is drawn at every k-th row and column (the last ones kept).
 */
function hfieldMesh(m: MjModel, id: number): SceneMesh | undefined {
  if (id < 0 || id >= m.nhfield) return undefined;
  const nrow = (m.hfield_nrow as Int32Array)[id] as number;
  const ncol = (m.hfield_ncol as Int32Array)[id] as number;
  if (!(nrow >= 2 && ncol >= 2)) return undefined;
  const size = (m.hfield_size as Float64Array).subarray(4 * id, 4 * id + 4);
  const data = (m.hfield_data as Float32Array).subarray((m.hfield_adr as Int32Array)[id] as number);
  return gridMesh(nrow, ncol, [size[0] as number, size[1] as number, size[2] as number], (r, c) => data[r * ncol + c] as number);
}

/** The surface of an `nrow` × `ncol` height grid over ±rx × ±ry, heights `height(r, c)` × `rz` (see {@link hfieldMesh}). */
export function gridMesh(nrow: number, ncol: number, [rx, ry, rz]: readonly [number, number, number], height: (r: number, c: number) => number): SceneMesh {
  let step = 1;
  while (2 * Math.ceil((nrow - 1) / step) * Math.ceil((ncol - 1) / step) > MAX_HFIELD_FACES) step++;
  const pick = (n: number): number[] => {
    const out: number[] = [];
    for (let i = 0; i < n - 1; i += step) out.push(i);
    out.push(n - 1);
    return out;
  };
  const rows = pick(nrow);
  const cols = pick(ncol);
  const vertices: number[] = [];
  for (const r of rows) for (const c of cols) vertices.push(-rx + (2 * rx * c) / (ncol - 1), -ry + (2 * ry * r) / (nrow - 1), height(r, c) * rz);
  const faces: number[] = [];
  const w = cols.length;
  for (let i = 0; i + 1 < rows.length; i++) {
    for (let j = 0; j + 1 < w; j++) {
      const v = i * w + j;
      faces.push(v, v + 1, v + w + 1, v, v + w + 1, v + w);
    }
  }
  return { vertices, faces };
}

/** Mesh `id`'s triangles from the compiled model, its vertices placed by `frame` (the geom's pose in its body). */
function meshOf(m: MjModel, id: number, frame: Pose): SceneMesh | undefined {
  if (id < 0 || id >= m.nmesh) return undefined;
  const va = (m.mesh_vertadr as Int32Array)[id] as number;
  const vn = (m.mesh_vertnum as Int32Array)[id] as number;
  const fa = (m.mesh_faceadr as Int32Array)[id] as number;
  const fn = (m.mesh_facenum as Int32Array)[id] as number;
  if (!(vn > 0 && fn > 0)) return undefined;
  const vert = (m.mesh_vert as Float32Array).subarray(3 * va, 3 * (va + vn));
  // Faces index the mesh's own vertices (MuJoCo stores them relative to its vertadr).
  const face = (m.mesh_face as Int32Array).subarray(3 * fa, 3 * (fa + fn));
  return placed({ vertices: vert, faces: Array.from(face) }, frame);
}
