import type { ImpulseJoint, RigidBody, World } from '@dimforge/rapier3d-simd-compat';
import {
  add, compose, cross, dot, IDENTITY_POSE, quatConj, quatFromAxisAngle, quatMul, quatToMat3, rotate, rotateSymmetric, scale, sub,
  symmetricEigen, transformPoint, wrapAngle, type Mat3, type Pose, type Quat, type Vec3,
} from './math3d.js';
import { rapier } from './rapier.js';
import { fingerPosition, forwardKinematics, gripperJoints, movableJoints } from './urdf/kinematics.js';
import { geometryFrame } from './urdf/scene.js';
import type { Geometry, UrdfJoint, UrdfRobot } from './urdf/types.js';

/** How joint commands are interpreted. */
export type ControlMode = 'torque' | 'position' | 'velocity';

export interface ArticulationOptions {
  /** World pose of the root link. Default: identity. */
  readonly base?: Pose;
  /** Whether the root link is welded to the world. Default: true. */
  readonly fixedBase?: boolean;
  readonly mode: ControlMode;
  /**
   * Position-mode joint stiffness, N·m/rad (N/m for prismatic joints), per joint or one for all.
   * Physical (force-based) gains: Rapier's acceleration-based motors scale by the child link's
   * inertia alone and cannot hold an arm against the gravity load of the links beyond it.
   * Default: 50 × the joint's effort limit (Panda shoulder: 4350 N·m/rad), so a full-effort
   * load deflects a joint by 0.02 rad.
   */
  readonly stiffness?: number | readonly number[];
  /**
   * Position-mode joint damping, N·m·s/rad. Default: 5 × the effort limit with gravity
   * compensation, 1 × without (under a gravity load, high damping with few solver iterations
   * fights Rapier's soft motor constraint and the arm sags).
   */
  readonly damping?: number | readonly number[];
  /** Velocity-mode gain, N·m·s/rad. Default: 5 × the effort limit. */
  readonly velocityGain?: number | readonly number[];
  /**
   * Ideal gravity compensation (robot bodies feel no gravity), as the torque controllers of
   * arms like the Panda provide internally. Payloads and objects still feel gravity. Default: false.
   */
  readonly gravityCompensation?: boolean;
  /** Collider friction. Default: 0.8. */
  readonly friction?: number;
  /**
   * Rapier collision groups for the robot's colliders (membership << 16 | filter). Default:
   * member of group 0, collides with everything except group 0 — no self-collision.
   */
  readonly collisionGroups?: number;
  /**
   * Rapier: weld a gripper's fingers closed to the hand (their links ride on the hand's body)
   * instead of servoing them, for a task that never commands them. Two bodies and two joints fewer
   * for the solver (measured: ~20% of a Panda step); the closed fingers sit where servoed ones
   * held closed do, to within their servo's sag. `commandFingers` then says there is no gripper.
   * Default: false.
   */
  readonly weldFingers?: boolean;
}

/** How far a revolute position target is handed to Rapier from its joint at most, rad ({@link Articulation.sendTarget}). */
const SHORT_WAY = Math.PI - 0.3;
/** A re-aimed joint is settled within this of its target (rad) … */
const SETTLE_RAD = 0.5;
/** … and this slow (rad/s): it cannot then swing π past its target, where Rapier's wrapped motor would aim at the next turn. */
const SETTLE_RATE = 1;

/** How far under a full turn a range past ±π must be to be counted from its middle (rad). */
const CENTRED_RANGE_SLACK = 0.2;

/** A link's place on a Rapier body: links joined by fixed joints share one body. */
interface LinkPlacement {
  readonly body: number;
  /** The link frame in the body frame. */
  readonly offset: Pose;
}

interface JointBinding {
  readonly joint: UrdfJoint;
  readonly parentBody: number;
  readonly childBody: number;
  /** Joint axis in both body frames (bodies are axis-aligned with the world at q = 0). */
  readonly axis: Vec3;
  readonly anchor1: Vec3;
  readonly anchor2: Vec3;
  readonly handle: number;
}

const DEFAULT_GROUPS = (0x0001 << 16) | 0xfffe;

/**
 * A URDF robot built from Rapier rigid bodies and impulse joints.
 *
 * Rapier's JS bindings expose no joint-coordinate getters for impulse joints, so joint
 * positions and velocities are computed from the two bodies' states: every body frame is
 * aligned with the world when q = 0, which makes the joint axis the same vector in both body
 * frames, and q the twist of the relative rotation about that axis. Rapier's internal joint angle
 * is the URDF q wrapped to (−π, π], less the range's middle on a joint whose range is past ±π but
 * under a turn (`angleOffset`).
 */
export class Articulation {
  readonly robot: UrdfRobot;
  readonly joints: readonly UrdfJoint[];
  readonly dof: number;
  readonly mode: ControlMode;
  /** A gripper's finger joints ({@link gripperJoints}; empty without one): position servos on one opening command, whatever `mode`. */
  readonly fingers: readonly UrdfJoint[];
  /** Handles of every collider the robot owns (for contact queries). */
  readonly colliderHandles: ReadonlySet<number>;
  /** Collider handles per link name. */
  readonly linkColliders: ReadonlyMap<string, readonly number[]>;
  private readonly world: World;
  private readonly bodyHandles: number[] = [];
  private readonly placements = new Map<string, LinkPlacement>();
  /** The arm's joints, in q order. */
  private readonly bindings: JointBinding[] = [];
  /** The fingers' joints, in {@link fingers} order. */
  private readonly fingerBindings: JointBinding[] = [];
  /** Every movable joint, parents before children (velocities propagate down this list). */
  private readonly chain: { binding: JointBinding; arm: number; finger: number }[] = [];
  private readonly fingerGains: { stiffness: Float64Array; damping: Float64Array };
  /** The fingers' commanded opening (the leading finger's position), m. */
  private opening = 0;
  private readonly lastQ: Float64Array;
  /**
   * Revolute joints whose finite limits reach past ±π by a turn or more (±2π is common on UR
   * arms): Rapier's joint limits act on the angle wrapped to (−π, π], so they cannot hold them
   * (measured: q reached 465 rad). These are stopped in {@link beforeStep} instead. (A range past
   * ±π but under a turn is counted from its middle, {@link angleOffset}, and Rapier's stops hold it.)
   */
  private readonly softwareStops: number[] = [];
  /** Per arm joint: q at Rapier's joint angle 0 (the middle of a range past ±π, else 0); position targets go to Rapier less it. */
  private readonly angleOffset: number[] = [];
  /** Position mode: each joint's commanded target, within its limits. */
  private readonly desired: Float64Array;
  /** Position mode: 1 for a joint whose far target is re-aimed before each world step ({@link aim}). */
  private readonly aiming: Uint8Array;
  private readonly base: Pose;
  private readonly homeRotation = new Map<string, Quat>();
  /** For each body, the link whose frame is the body frame. */
  private readonly bodyRootLink: string[] = [];
  private readonly stiffness: Float64Array;
  private readonly dampingGain: Float64Array;
  private readonly velocityGain: Float64Array;

  constructor(world: World, robot: UrdfRobot, options: ArticulationOptions) {
    const R = rapier();
    this.world = world;
    this.robot = robot;
    this.joints = movableJoints(robot);
    this.dof = this.joints.length;
    const welded = new Set(options.weldFingers ? gripperJoints(robot) : []);
    this.fingers = options.weldFingers ? [] : gripperJoints(robot);
    this.fingerGains = fingerGains(this.fingers);
    this.mode = options.mode;
    this.base = options.base ?? IDENTITY_POSE;
    this.lastQ = new Float64Array(this.dof);
    this.desired = new Float64Array(this.dof);
    this.aiming = new Uint8Array(this.dof);
    ({ stiffness: this.stiffness, damping: this.dampingGain, velocityGain: this.velocityGain } = servoGains(this.joints, options));
    const home = forwardKinematics(robot, new Float64Array(this.dof), this.base);
    for (const [name, pose] of home) this.homeRotation.set(name, pose.q);

    // 1. Placements: one body per root or movable-joint child; fixed-joint (and welded finger)
    //    children ride on their parent's body, at q = 0 (a closed finger).
    const bodyRootLink = this.bodyRootLink;
    bodyRootLink.push(robot.root);
    this.placements.set(robot.root, { body: 0, offset: { p: [0, 0, 0], q: home.get(robot.root)!.q } });
    for (const j of robot.joints) {
      const childHome = home.get(j.child) as Pose;
      if (j.type === 'fixed' || welded.has(j)) {
        const parent = this.placements.get(j.parent) as LinkPlacement;
        const bodyPos = home.get(bodyRootLink[parent.body] as string)!.p;
        this.placements.set(j.child, { body: parent.body, offset: { p: sub(childHome.p, bodyPos), q: childHome.q } });
      } else {
        bodyRootLink.push(j.child);
        this.placements.set(j.child, { body: bodyRootLink.length - 1, offset: { p: [0, 0, 0], q: childHome.q } });
      }
    }

    // 2. Bodies with their combined mass properties (on the descriptor: mass set on a live body
    //    is only applied at the next step, and a snapshot taken before that step loses it), then
    //    colliders (density 0: the URDF inertials are the mass model).
    const handles = new Set<number>();
    const perLink = new Map<string, number[]>();
    const friction = options.friction ?? 0.8;
    const groups = options.collisionGroups ?? DEFAULT_GROUPS;
    bodyRootLink.forEach((rootLink, b) => {
      const links = robot.links.filter((l) => this.placements.get(l.name)?.body === b);
      const offsets = links.map((l) => (this.placements.get(l.name) as LinkPlacement).offset);
      const fixed = b === 0 && (options.fixedBase ?? true);
      const m = combineInertials(links.map((l, i) => ({ inertial: l.inertial, offset: offsets[i] as Pose })));
      const desc = (fixed ? R.RigidBodyDesc.fixed() : R.RigidBodyDesc.dynamic())
        .setTranslation(...(home.get(rootLink) as Pose).p)
        .setCanSleep(false)
        .setGravityScale(options.gravityCompensation ? 0 : 1)
        .setAdditionalMassProperties(m.mass, vec(m.com), vec(m.principal), quat(m.frame));
      const body = world.createRigidBody(desc);
      this.bodyHandles.push(body.handle);
      links.forEach((link, i) => {
        const own: number[] = [];
        perLink.set(link.name, own);
        for (const c of link.collisions) {
          const local = compose(compose(offsets[i] as Pose, c.origin), geometryFrame(c.geometry));
          const cd = colliderDesc(c.geometry)
            .setTranslation(...local.p)
            .setRotation(quat(local.q))
            .setDensity(0)
            .setFriction(friction)
            .setCollisionGroups(groups);
          const handle = world.createCollider(cd, body).handle;
          handles.add(handle);
          own.push(handle);
        }
      });
    });
    this.colliderHandles = handles;
    this.linkColliders = perLink;

    // 3. Impulse joints with motors, created children first. Why: the order Rapier's
    //    Gauss-Seidel sweeps the joints in follows their creation, and root first the shoulder
    //    servo's torque reached the links beyond it over many sweeps, so the arm lagged. Measured
    //    on the Panda with its fingers welded, one control period after an 80 mrad step on joint
    //    2: 18% of MuJoCo's motion root first, 55% children first at the same 4 × 8 iterations;
    //    the TCP 4.7 → 1.0 cm off MuJoCo's over 50 expert steps (docs/benchmarks.md, "Rapier ≥
    //    2×"). With two servoed fingers on the hand the order made no difference (measured).
    //    Bindings stay in q order.
    const fingerSet = new Set(this.fingers);
    const movable = robot.joints.filter((x) => x.type !== 'fixed' && !welded.has(x));
    const created = new Map<UrdfJoint, ImpulseJoint>();
    for (const j of [...movable].reverse()) created.set(j, this.createJoint(j, home));
    for (const j of movable) {
      const joint = created.get(j) as ImpulseJoint;
      const parentBody = (this.placements.get(j.parent) as LinkPlacement).body;
      const childBody = (this.placements.get(j.child) as LinkPlacement).body;
      const jointHome = home.get(j.child) as Pose;
      const axis = rotate(jointHome.q, j.axis);
      const anchor1 = sub(jointHome.p, home.get(bodyRootLink[parentBody] as string)!.p);
      const anchor2: Vec3 = [0, 0, 0];
      joint.setContactsEnabled(false);
      // Physical joint stops. Set on the joint: rapier 0.20–0.21 ignore JointData.limits/limitsEnabled
      // (measured: a pushed joint sailed past ±0.5 rad to 1.54 rad).
      const wide = j.type !== 'prismatic' && j.limit !== null && (j.limit.lower <= -Math.PI || j.limit.upper >= Math.PI) && (Number.isFinite(j.limit.lower) || Number.isFinite(j.limit.upper));
      const finger = fingerSet.has(j);
      // A range past ±π but under a turn (the Panda's joint 6: −0.02…3.75 rad): Rapier's angle
      // counted from the range's middle, so its stops hold it — software stops act once per world
      // step, and a 40 ms step let joint 6 run 0.4 rad past its bound.
      const centred = wide && !finger && j.limit !== null && Number.isFinite(j.limit.lower) && Number.isFinite(j.limit.upper) && j.limit.upper - j.limit.lower < 2 * Math.PI - CENTRED_RANGE_SLACK;
      const offset = centred && j.limit ? (j.limit.lower + j.limit.upper) / 2 : 0;
      if (centred) {
        const unit = joint as unknown as { frameX2(): { x: number; y: number; z: number; w: number }; setFrameX2(q: { x: number; y: number; z: number; w: number }): void };
        // The child's joint frame turned back by the offset about the joint axis (its x).
        unit.setFrameX2(quat(quatMul(quat4(unit.frameX2()), quatFromAxisAngle([1, 0, 0], -offset))));
      }
      if (wide && !finger && !centred) this.softwareStops.push(this.bindings.length);
      else if (j.limit && Number.isFinite(j.limit.lower)) (joint as unknown as { setLimits(lo: number, hi: number): void }).setLimits(j.limit.lower - offset, j.limit.upper - offset);
      if (!finger) this.angleOffset.push(offset);
      const binding: JointBinding = { joint: j, parentBody, childBody, axis, anchor1, anchor2, handle: joint.handle };
      if (finger) {
        this.fingerBindings.push(binding);
        this.chain.push({ binding, arm: -1, finger: this.fingerBindings.length - 1 });
        this.configureFinger(this.fingerBindings.length - 1);
      } else {
        this.bindings.push(binding);
        this.chain.push({ binding, arm: this.bindings.length - 1, finger: -1 });
        this.configureMotor(joint, j, this.bindings.length - 1);
      }
    }
  }

  /** The impulse joint of URDF joint `j` between its parent's and its child's bodies (bodies are axis-aligned with the world at q = 0). */
  private createJoint(j: UrdfJoint, home: Map<string, Pose>): ImpulseJoint {
    const R = rapier();
    const parentBody = (this.placements.get(j.parent) as LinkPlacement).body;
    const childBody = (this.placements.get(j.child) as LinkPlacement).body;
    const jointHome = home.get(j.child) as Pose;
    const axis = rotate(jointHome.q, j.axis);
    const anchor1 = sub(jointHome.p, home.get(this.bodyRootLink[parentBody] as string)!.p);
    const data = j.type === 'prismatic' ? R.JointData.prismatic(vec(anchor1), vec([0, 0, 0]), vec(axis)) : R.JointData.revolute(vec(anchor1), vec([0, 0, 0]), vec(axis));
    return this.world.createImpulseJoint(data, this.world.getRigidBody(this.bodyHandles[parentBody] as number), this.world.getRigidBody(this.bodyHandles[childBody] as number), true);
  }

  /** A finger's position servo toward the commanded opening (its mimic applied), force-limited by its effort. */
  private configureFinger(f: number): void {
    const R = rapier();
    const b = this.fingerBindings[f] as JointBinding;
    const unit = this.world.getImpulseJoint(b.handle) as unknown as { configureMotorModel(m: number): void; setMotorMaxForce(f: number): void; configureMotorPosition(t: number, k: number, d: number): void };
    unit.configureMotorModel(R.MotorModel.ForceBased);
    if (b.joint.limit) unit.setMotorMaxForce(b.joint.limit.effort);
    unit.configureMotorPosition(fingerPosition(b.joint, this.opening), this.fingerGains.stiffness[f] as number, this.fingerGains.damping[f] as number);
  }

  /**
   * Commands the gripper: the leading finger toward `opening` m (clipped to its limits), the
   * others by their mimic. Held until the next command (and across {@link setState}).
   */
  commandFingers(opening: number): void {
    const leader = this.fingerBindings.find((b) => !b.joint.mimic)?.joint;
    if (!leader) throw new RangeError(`Articulation "${this.robot.name}": no gripper (fingers are prismatic joints coupled by <mimic>)`);
    if (!Number.isFinite(opening)) throw new RangeError(`Articulation "${this.robot.name}": finger opening must be finite, got ${opening}`);
    const lo = leader.limit?.lower ?? -Infinity;
    const hi = leader.limit?.upper ?? Infinity;
    this.opening = opening < lo ? lo : opening > hi ? hi : opening;
    for (let f = 0; f < this.fingerBindings.length; f++) this.configureFinger(f);
  }

  /** Each finger joint's position (m), in {@link fingers} order. */
  readFingers(out: Float64Array): void {
    for (let f = 0; f < this.fingerBindings.length; f++) out[f] = this.prismaticState(this.fingerBindings[f] as JointBinding).q;
  }

  /** A prismatic joint's position and rate from its two bodies. */
  private prismaticState(b: JointBinding): { q: number; qd: number } {
    const parent = this.world.getRigidBody(this.bodyHandles[b.parentBody] as number);
    const child = this.world.getRigidBody(this.bodyHandles[b.childBody] as number);
    const rp = quat4(parent.rotation());
    const rc = quat4(child.rotation());
    const xp = add(vec3(parent.translation()), rotate(rp, b.anchor1));
    const xc = add(vec3(child.translation()), rotate(rc, b.anchor2));
    const r = sub(xc, xp);
    const wp = vec3(parent.angvel());
    const relVel = sub(sub(pointVelocity(child, xc), pointVelocity(parent, xp)), cross(wp, r));
    return { q: dot(rotate(quatConj(rp), r), b.axis), qd: dot(relVel, rotate(rp, b.axis)) };
  }

  private configureMotor(joint: ImpulseJoint, j: UrdfJoint, k: number): void {
    const R = rapier();
    const unit = joint as unknown as { configureMotorModel(m: number): void; setMotorMaxForce(f: number): void; configureMotorPosition(t: number, k: number, d: number): void; configureMotorVelocity(v: number, f: number): void };
    if (this.mode === 'torque') {
      // URDF viscous damping as a zero-velocity motor with a physical (force-based) gain.
      // Only when positive: Rapier treats a velocity motor with factor 0 as a rigid lock.
      if (j.damping > 0) {
        unit.configureMotorModel(R.MotorModel.ForceBased);
        unit.configureMotorVelocity(0, j.damping);
      }
      return;
    }
    unit.configureMotorModel(R.MotorModel.ForceBased);
    if (j.limit) unit.setMotorMaxForce(j.limit.effort);
    if (this.mode === 'position') unit.configureMotorPosition(-(this.angleOffset[k] as number), this.stiffness[k] as number, this.dampingGain[k] as number);
    else unit.configureMotorVelocity(0, this.velocityGain[k] as number);
  }

  /** Rapier body of a link (a link joined by fixed joints shares its parent's body). */
  bodyOf(link: string): RigidBody {
    const p = this.placements.get(link);
    if (!p) throw new RangeError(`Articulation "${this.robot.name}": unknown link "${link}"`);
    return this.world.getRigidBody(this.bodyHandles[p.body] as number);
  }

  /** World pose of a link frame, from the simulated bodies. */
  linkPose(link: string): Pose {
    const p = this.placements.get(link);
    if (!p) throw new RangeError(`Articulation "${this.robot.name}": unknown link "${link}"`);
    return compose(bodyPose(this.world.getRigidBody(this.bodyHandles[p.body] as number)), p.offset);
  }

  /**
   * Writes joint positions and velocities into `q` and `qd`. Revolute angles are unwrapped
   * against the previous reading, so continuous joints do not jump at ±π.
   */
  readState(q: Float64Array, qd: Float64Array): void {
    // Each body read once (a chain's joints share a body each way): every read is a wasm call.
    const rotations: (Quat | undefined)[] = [];
    const spins: (Vec3 | undefined)[] = [];
    const rotation = (i: number): Quat => (rotations[i] ??= quat4(this.world.getRigidBody(this.bodyHandles[i] as number).rotation()));
    const spin = (i: number): Vec3 => (spins[i] ??= vec3(this.world.getRigidBody(this.bodyHandles[i] as number).angvel()));
    for (let k = 0; k < this.bindings.length; k++) {
      const b = this.bindings[k] as JointBinding;
      if (b.joint.type === 'prismatic') {
        const s = this.prismaticState(b);
        q[k] = s.q;
        qd[k] = s.qd;
      } else {
        const rp = rotation(b.parentBody);
        q[k] = this.unwrappedAngle(k, rp, rotation(b.childBody));
        qd[k] = relativeRate(b, rp, spin);
      }
    }
  }

  /**
   * Call before every `world.step()`: re-aims far position targets ({@link sendTarget}), and
   * holds the joints whose limits Rapier cannot (a turn or more) at their bounds — a joint past a
   * bound gets its outward relative velocity removed and is pulled back (Baumgarte, 20% of the
   * overshoot per step). Nothing to do for most robots most steps.
   */
  beforeStep(): void {
    // Far targets re-aimed from where their joints are now (sendTarget).
    if (this.mode === 'position') for (let k = 0; k < this.dof; k++) if (this.aiming[k]) this.aim(k);
    if (!this.softwareStops.length) return;
    const dt = this.world.timestep;
    for (const k of this.softwareStops) {
      const b = this.bindings[k] as JointBinding;
      const limit = b.joint.limit as NonNullable<UrdfJoint['limit']>;
      const parent = this.world.getRigidBody(this.bodyHandles[b.parentBody] as number);
      const child = this.world.getRigidBody(this.bodyHandles[b.childBody] as number);
      const rp = quat4(parent.rotation());
      const q = this.unwrappedAngle(k, rp, quat4(child.rotation()));
      const axisWorld = rotate(rp, b.axis);
      const wc = vec3(child.angvel());
      const w = dot(sub(wc, vec3(parent.angvel())), axisWorld);
      let target = w;
      if (q > limit.upper) target = Math.min(w, (-0.2 * (q - limit.upper)) / dt);
      else if (q < limit.lower) target = Math.max(w, (0.2 * (limit.lower - q)) / dt);
      if (target !== w) child.setAngvel(vec(add(wc, scale(axisWorld, target - w))), true);
    }
  }

  /**
   * Hands joint k's desired position target to Rapier's motor. Rapier's motor takes the short way
   * round its wrapped angle, so a revolute target more than π from the joint drove it the wrong
   * way, onto its far stop (the Panda's joint 6 from −0.02 toward 3.2 stayed on its lower stop; a
   * ±2.9 rad joint from −2.85 toward 1.7 likewise), and a continuous joint overshooting a target a
   * turn away by more than π was sent on to the next turn, and the next (a review: 215 rad in 4 s).
   * Such a target is re-aimed before every world step ({@link aim}) until the joint has settled
   * within {@link SETTLE_RAD} of it.
   */
  private sendTarget(k: number): void {
    const b = this.bindings[k] as JointBinding;
    const desired = this.desired[k] as number;
    // lastQ is the last reading: the margin covers a joint that moved since. A joint still
    // settling on a far target stays aimed (it may be swinging fast), and a target off Rapier's
    // first turn (a continuous joint's) is aimed from Rapier's own angle too.
    const far = Math.abs(desired - (this.lastQ[k] as number)) > SHORT_WAY - 0.5 || !(Math.abs(desired - (this.angleOffset[k] as number)) < Math.PI);
    if (b.joint.type !== 'prismatic' && (this.aiming[k] || far)) this.aim(k);
    else this.motorTarget(k, desired);
  }

  /** Joint k's motor toward its desired target from where the joint is now: at most {@link SHORT_WAY} away; re-aimed each world step until settled. */
  private aim(k: number): void {
    const b = this.bindings[k] as JointBinding;
    const body = (i: number): RigidBody => this.world.getRigidBody(this.bodyHandles[i] as number);
    const rp = quat4(body(b.parentBody).rotation());
    const q = this.unwrappedAngle(k, rp, quat4(body(b.childBody).rotation()));
    const rate = relativeRate(b, rp, (i) => vec3(body(i).angvel()));
    const error = (this.desired[k] as number) - q;
    this.aiming[k] = Math.abs(error) > SETTLE_RAD || Math.abs(rate) > SETTLE_RATE ? 1 : 0;
    // Relative to Rapier's own (wrapped) angle, so its motor sees exactly this error, whichever
    // turn the joint is on (a continuous joint's q leaves (−π, π]; Rapier's angle does not).
    const rapierAngle = wrapAngle(q - (this.angleOffset[k] as number));
    this.rapierMotorTarget(k, rapierAngle + Math.min(SHORT_WAY, Math.max(-SHORT_WAY, error)));
  }

  /** Joint k's motor toward q-space target `t` (Rapier's angle is q less the joint's offset). */
  private motorTarget(k: number, t: number): void {
    this.rapierMotorTarget(k, t - (this.angleOffset[k] as number));
  }

  private rapierMotorTarget(k: number, t: number): void {
    const b = this.bindings[k] as JointBinding;
    const joint = this.world.getImpulseJoint(b.handle) as unknown as { configureMotorPosition(t: number, k: number, d: number): void };
    joint.configureMotorPosition(t, this.stiffness[k] as number, this.dampingGain[k] as number);
  }

  /** Joints held by software stops ({@link beforeStep}): ranges of a turn or more, which Rapier's stops cannot hold. */
  get softwareStopJoints(): string[] {
    return this.softwareStops.map((k) => (this.bindings[k] as JointBinding).joint.name);
  }

  /**
   * Revolute arm joint k's angle from its bodies' rotations: the twist of the relative rotation
   * about the axis, unwrapped against the last reading (which it becomes).
   */
  private unwrappedAngle(k: number, parent: Quat, child: Quat): number {
    const axis = (this.bindings[k] as JointBinding).axis;
    const rel = quatMul(quatConj(parent), child);
    const twist = 2 * Math.atan2(rel[0] * axis[0] + rel[1] * axis[1] + rel[2] * axis[2], rel[3]);
    const prev = this.lastQ[k] as number;
    const value = prev + wrapAngle(twist - prev);
    this.lastQ[k] = value;
    return value;
  }

  /**
   * Applies one command per joint, per the control mode: joint torques / forces (held until
   * the next command), position targets or velocity targets.
   */
  command(values: ArrayLike<number>): void {
    for (let k = 0; k < this.bindings.length; k++) {
      const b = this.bindings[k] as JointBinding;
      const v = values[k] as number;
      if (this.mode === 'torque') {
        const parent = this.world.getRigidBody(this.bodyHandles[b.parentBody] as number);
        const child = this.world.getRigidBody(this.bodyHandles[b.childBody] as number);
        const axisWorld = rotate(quat4(parent.rotation()), b.axis);
        child.resetForces(false);
        child.resetTorques(false);
        if (b.joint.type === 'prismatic') {
          const at = vec(add(vec3(child.translation()), rotate(quat4(child.rotation()), b.anchor2)));
          child.addForceAtPoint(vec(scale(axisWorld, v)), at, true);
          if (parent.isDynamic()) parent.addForceAtPoint(vec(scale(axisWorld, -v)), at, true);
        } else {
          child.addTorque(vec(scale(axisWorld, v)), true);
          if (parent.isDynamic()) parent.addTorque(vec(scale(axisWorld, -v)), true);
        }
      } else {
        const joint = this.world.getImpulseJoint(b.handle) as unknown as { configureMotorPosition(t: number, k: number, d: number): void; configureMotorVelocity(t: number, f: number): void };
        if (this.mode === 'position') {
          // A target past a stop is the stop (on a centred joint it would wrap into the range's far end).
          const lim = b.joint.limit;
          this.desired[k] = lim && Number.isFinite(lim.lower) && Number.isFinite(lim.upper) ? Math.min(lim.upper, Math.max(lim.lower, v)) : v;
          this.sendTarget(k);
        } else joint.configureMotorVelocity(v, this.velocityGain[k] as number);
      }
    }
  }

  /**
   * Teleports the robot to joint positions `q` with joint velocities `qd` (default zero),
   * consistently for every body: used by reset. Motor targets are set to hold `q`; the fingers
   * are placed at their commanded opening, moving with the hand.
   */
  setState(q: ArrayLike<number>, qd?: ArrayLike<number>): void {
    const poses = forwardKinematics(this.robot, q, this.base, this.opening);
    const bodyVel: { v: Vec3; w: Vec3; x: Vec3 }[] = [];
    const rootBody = this.world.getRigidBody(this.bodyHandles[0] as number);
    bodyVel[0] = { v: [0, 0, 0], w: [0, 0, 0], x: vec3(rootBody.translation()) };
    this.bodyHandles.forEach((h, b) => {
      if (b === 0) return;
      const link = this.bodyRootLink[b] as string;
      const pose = poses.get(link) as Pose;
      const body = this.world.getRigidBody(h);
      body.setTranslation(vec(pose.p), false);
      body.setRotation(quat(quatMul(pose.q, quatConj(this.homeRotation.get(link) as Quat))), false);
    });
    for (const { binding: b, arm: k } of this.chain) {
      const parentVel = bodyVel[b.parentBody] as { v: Vec3; w: Vec3; x: Vec3 };
      const child = this.world.getRigidBody(this.bodyHandles[b.childBody] as number);
      const parent = this.world.getRigidBody(this.bodyHandles[b.parentBody] as number);
      const axisWorld = rotate(quat4(parent.rotation()), b.axis);
      const x = vec3(child.translation());
      const rate = qd && k >= 0 ? (qd[k] as number) : 0;
      const vAtX = add(parentVel.v, cross(parentVel.w, sub(x, parentVel.x)));
      bodyVel[b.childBody] = b.joint.type === 'prismatic' ? { v: add(vAtX, scale(axisWorld, rate)), w: parentVel.w, x } : { v: vAtX, w: add(parentVel.w, scale(axisWorld, rate)), x };
      if (k >= 0) this.lastQ[k] = q[k] as number;
    }
    this.bodyHandles.forEach((h, b) => {
      const body = this.world.getRigidBody(h);
      if (!body.isDynamic()) return;
      const s = bodyVel[b] as { v: Vec3; w: Vec3; x: Vec3 };
      const com = transformPoint(bodyPose(body), vec3(body.localCom()));
      body.setLinvel(vec(add(s.v, cross(s.w, sub(com, s.x)))), false);
      body.setAngvel(vec(s.w), false);
      body.resetForces(false);
      body.resetTorques(false);
    });
    if (this.mode === 'position') this.command(q);
    else if (this.mode === 'velocity') this.command(new Float64Array(this.dof));
  }
}

/**
 * The joint servos' gains for `options` (defaults from each joint's effort limit): what every
 * engine's actuators use, so the same task has the same servos on Rapier and MuJoCo.
 */
export function servoGains(joints: readonly UrdfJoint[], options: ArticulationOptions): { stiffness: Float64Array; damping: Float64Array; velocityGain: Float64Array } {
  const effort = joints.map((j) => j.limit?.effort ?? 1);
  return {
    stiffness: perJoint(options.stiffness, effort.map((e) => 50 * e), 'stiffness'),
    damping: perJoint(options.damping, effort.map((e) => (options.gravityCompensation ? 5 * e : e)), 'damping'),
    velocityGain: perJoint(options.velocityGain, effort.map((e) => 5 * e), 'velocityGain'),
  };
}

/**
 * A gripper's finger servos (every engine's): stiffness 50 × effort and damping 5 × effort, as
 * the arm's defaults with gravity compensation, from the effort limits alone (the per-joint gains
 * in the options are the arm's). Tried: damping 20 × (closing at ~0.1 m/s, as a parallel gripper
 * does) made the scripted pick slower and no surer on either engine.
 */
export function fingerGains(fingers: readonly UrdfJoint[]): { stiffness: Float64Array; damping: Float64Array } {
  const effort = fingers.map((j) => j.limit?.effort ?? 1);
  return { stiffness: Float64Array.from(effort, (e) => 50 * e), damping: Float64Array.from(effort, (e) => 5 * e) };
}

function perJoint(v: number | readonly number[] | undefined, dflt: number[], name: string): Float64Array {
  const out = Float64Array.from(v === undefined ? dflt : typeof v === 'number' ? dflt.map(() => v) : v);
  if (out.length !== dflt.length || out.some((x) => !(x >= 0) || !Number.isFinite(x))) {
    throw new RangeError(`Expected \`${name}\` to be a non-negative number or ${dflt.length} of them, got ${JSON.stringify(v)}`);
  }
  return out;
}

export function combineInertials(parts: { inertial: UrdfRobot['links'][number]['inertial']; offset: Pose }[]): { mass: number; com: Vec3; principal: Vec3; frame: Quat } {
  let mass = 0;
  let com: Vec3 = [0, 0, 0];
  const items: { m: number; c: Vec3; I: Mat3 }[] = [];
  for (const { inertial, offset } of parts) {
    if (!inertial) continue;
    const frame = compose(offset, inertial.origin);
    const { ixx, ixy, ixz, iyy, iyz, izz } = inertial.inertia;
    const I = rotateSymmetric(quatToMat3(frame.q), [ixx, ixy, ixz, ixy, iyy, iyz, ixz, iyz, izz]);
    items.push({ m: inertial.mass, c: frame.p, I });
    mass += inertial.mass;
    com = add(com, scale(frame.p, inertial.mass));
  }
  if (mass === 0) return { mass: 1e-3, com: [0, 0, 0], principal: [1e-6, 1e-6, 1e-6], frame: [0, 0, 0, 1] };
  com = scale(com, 1 / mass);
  const total = new Array<number>(9).fill(0);
  for (const { m, c, I } of items) {
    // Parallel-axis theorem: I + m(|d|²·E − d·dᵀ).
    const d = sub(c, com);
    const dd = dot(d, d);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) total[i * 3 + j] = (total[i * 3 + j] as number) + (I[i * 3 + j] as number) + m * ((i === j ? dd : 0) - (d[i] as number) * (d[j] as number));
    }
  }
  const { values, rotation } = symmetricEigen(total as Mat3);
  const floor = 1e-9;
  return { mass, com, principal: [Math.max(values[0], floor), Math.max(values[1], floor), Math.max(values[2], floor)], frame: rotation };
}

function colliderDesc(g: Geometry): ReturnType<typeof rapier>['ColliderDesc']['prototype'] {
  const R = rapier();
  switch (g.type) {
    case 'box':
      return R.ColliderDesc.cuboid(g.size[0] / 2, g.size[1] / 2, g.size[2] / 2);
    case 'cylinder':
      return R.ColliderDesc.cylinder(g.length / 2, g.radius);
    case 'capsule':
      return R.ColliderDesc.capsule(g.length / 2, g.radius);
    case 'sphere':
      return R.ColliderDesc.ball(g.radius);
    case 'mesh':
      throw new Error('mesh colliders are not supported');
  }
}

export function bodyPose(body: RigidBody): Pose {
  return { p: vec3(body.translation()), q: quat4(body.rotation()) };
}

function pointVelocity(body: RigidBody, x: Vec3): Vec3 {
  const com = vec3(body.worldCom());
  return add(vec3(body.linvel()), cross(vec3(body.angvel()), sub(x, com)));
}

/** A revolute joint's rate: its child's spin less its parent's (`spin(body)`), about the axis (parent rotation `rp`). */
function relativeRate(b: JointBinding, rp: Quat, spin: (body: number) => Vec3): number {
  return dot(sub(spin(b.childBody), spin(b.parentBody)), rotate(rp, b.axis));
}

export function vec3(v: { x: number; y: number; z: number }): Vec3 {
  return [v.x, v.y, v.z];
}
export function quat4(r: { x: number; y: number; z: number; w: number }): Quat {
  return [r.x, r.y, r.z, r.w];
}
export function vec(v: Vec3): { x: number; y: number; z: number } {
  return { x: v[0], y: v[1], z: v[2] };
}
export function quat(q: Quat): { x: number; y: number; z: number; w: number } {
  return { x: q[0], y: q[1], z: q[2], w: q[3] };
}
