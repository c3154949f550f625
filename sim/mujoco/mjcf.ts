import { compose, IDENTITY_POSE, type Pose } from '../math3d.js';
import { combineInertials } from '../articulation.js';
import { checkSceneObjects, type SceneObject } from '../physics.js';
import { gripperJoints, movableJoints } from '../urdf/kinematics.js';
import type { Collision, Inertial, UrdfJoint, UrdfLink, UrdfRobot } from '../urdf/types.js';

/** The actuators: one per movable joint, in URDF order, as the Rapier articulation's motors. */
export type MjcfActuation =
  | { readonly mode: 'torque' }
  | { readonly mode: 'position'; readonly kp: ArrayLike<number>; readonly kv: ArrayLike<number> }
  | { readonly mode: 'velocity'; readonly kv: ArrayLike<number> };

export interface MjcfOptions {
  /** Physics step, s. */
  readonly timestep: number;
  readonly gravity?: readonly [number, number, number];
  readonly actuation: MjcfActuation;
  /**
   * Ideal gravity compensation of the robot, as the Rapier arm's (gravity scale 0): the world is
   * written weightless (`gravity="0 0 0"`), so the arm needs no compensation force. MuJoCo's
   * per-body `gravcomp` cost ~13% of `mj_step` (a Jacobian per body per step, measured on the
   * Panda). Free objects keep their weight only if the caller applies it — `m·gravity` as an
   * applied force (`xfrc_applied`), as {@link MujocoPhysics} does after every reset.
   */
  readonly gravityCompensation?: boolean;
  readonly objects?: readonly SceneObject[];
  /** Contact friction of the robot's geoms (default 0.8, the Rapier articulation's). */
  readonly friction?: number;
  /**
   * Position-servo gains of a gripper's fingers (`gripperJoints` order; required when the robot
   * has fingers): one actuator per finger, force-limited by its effort as Rapier's finger motor.
   */
  readonly fingers?: { readonly kp: ArrayLike<number>; readonly kv: ArrayLike<number> };
  /**
   * Fingers welded to the hand at q = 0 (closed), no joints or actuators, as the Rapier
   * articulation's `weldFingers`: for tasks that never command the gripper.
   */
  readonly weldFingers?: boolean;
  /** `false`: a body for every link, also those on fixed joints (default: they ride their parent's body, {@link linkPlacements}). For comparisons. */
  readonly fuse?: boolean;
  /** `false`: the position servos' kv in the actuators under implicitfast, also without finger servos (default: as joint damping under Euler, see urdfToMjcf). For comparisons. */
  readonly servoDampingOnJoints?: boolean;
  /**
   * `false`: contacts found by MuJoCo's broadphase (contype/conaffinity bits, `clearOf` as
   * `<exclude>`), each `robotFloor` fixture's box met by the robot as a box (default: every pair
   * that can touch listed as a `<pair>`, see urdfToMjcf). For comparisons.
   */
  readonly contactPairs?: boolean;
}

/**
 * Writes MJCF for a parsed URDF robot: a body per moving link at its joint frame (the URDF child
 * frame at q = 0) — links on fixed joints and welded fingers ride their parent's body
 * ({@link linkPlacements}), with the inertias combined — the same inertials (full tensors in
 * their frames where a body has one), collision geoms, hinge and slide joints with their ranges
 * and viscous damping, and a `position` actuator per movable joint with the Rapier
 * articulation's gains and effort limit — so both engines simulate the same arm. Scene objects:
 * a free body each, a fixture a static body with its `clearOf` pairs excluded.
 *
 * Contacts: every pair of geoms that can touch is listed (`<pair>`: each moving robot geom with
 * each scene object but a fixture's `clearOf` links, the robot's static geoms with free objects,
 * objects with each other, friction as MuJoCo mixes a dynamic contact's: the larger), and no geom
 * takes part in MuJoCo's broadphase (contype 0). Why: the broadphase was ~30% of `mj_step` on the
 * Panda (each step a covariance of the bodies' boxes, its eigenvectors and a sweep, for pairs
 * known in advance). A listed pair passes only MuJoCo's bounding-sphere test before the narrow
 * phase, and a 2 m table's sphere holds the whole arm, so a fixture marked `robotFloor` meets the
 * robot's geoms as a plane at its top face (a plane tests a geom by its height alone); the box
 * itself still carries the objects and is what the scene draws and `touching` measures. The same
 * contacts wherever the box lies under the robot — which `robotFloor` promises for everywhere the
 * robot reaches below the top (tasks/panda.test.ts sweeps the Panda's reach) — and a geom presses
 * less than ~15 mm in; deeper, the plane's corner contacts and the box's box–box ones part.
 * Measured: bench/mujoco-model.ts; the same motion: sim/mujoco/mujoco.test.ts.
 *
 * Why MJCF rather than MuJoCo's own URDF reader: MuJoCo's reader has no capsules and no
 * actuators, and would re-derive inertias; one description read by one parser keeps the two
 * engines' models identical by construction.
 */
export function urdfToMjcf(robot: UrdfRobot, options: MjcfOptions): string {
  const { links, childrenOf, moves, ownBody } = bodyLayout(robot, options.weldFingers ?? false, options.fuse ?? true);
  const movable = movableJoints(robot);
  const fingers = options.weldFingers ? [] : gripperJoints(robot);
  if (fingers.length && !options.fingers) throw new RangeError(`URDF ${robot.name}: the gripper's fingers need servo gains (MjcfOptions.fingers)`);
  const friction = options.friction ?? 0.8;
  const pairs = options.contactPairs !== false;
  /** Every robot geom written, for the contact pairs: its link and whether its body is welded to the world. */
  const robotGeoms: { name: string; link: string; fixed: boolean }[] = [];
  const fixedLinks = weldedToWorld(robot, links, childrenOf, moves);
  const act = options.actuation;
  // Position servos and no finger servos: the arm's only velocity-dependent forces are the servos'
  // kv, written as joint damping, which MuJoCo's Euler integrator treats implicitly (h·kv on the
  // mass matrix's diagonal) — the dynamics implicitfast gives the actuators' kv, without its
  // velocity-derivative pass (16% of mj_step in a profile of the Panda). The servo's force is
  // unclamped (see the actuators below), so moving kv from actuator to joint changes nothing.
  // Grippers keep implicitfast: a finger servo's kv must stay in its clamped force.
  const servoDamping = act.mode === 'position' && fingers.length === 0 && options.servoDampingOnJoints !== false ? act.kv : null;

  const body = (linkName: string, joint: UrdfJoint | null, frame: Pose | null, depth: number): string => {
    if (!links.has(linkName)) throw new RangeError(`URDF ${robot.name}: joint ${joint?.name} names a missing link ${linkName}`);
    // MuJoCo's wasm build overflows its stack on deep chains (a 200-link chain hung its compiler).
    if (depth > 100) throw new RangeError(`URDF ${robot.name}: the chain to link ${linkName} is too deep for MuJoCo's WebAssembly build (about 100 links at most)`);
    const pad = '  '.repeat(depth);
    const lines = [`${pad}<body name="${linkBodyName(linkName)}"${frame ? poseAttrs(frame) : ''}>`];
    if (joint && moves(joint)) lines.push(`${pad}  ${jointElement(joint, options.actuation.mode === 'torque', fingers.includes(joint) ? null : options.timestep, servoDamping ? (servoDamping[movable.indexOf(joint)] ?? 0) : 0)}`);
    // The links riding this body (fixed-joint children, welded fingers) at their poses in it.
    const members = bodyMembers(linkName, links, childrenOf, ownBody);
    const inertials = members.filter((m) => m.link.inertial);
    // One inertial of the body's own link, unrotated: as written. Rotated (MJCF takes a full tensor
    // without a quat only) or several: combined, in its principal frame.
    const own = inertials.length === 1 && inertials[0]?.link.name === linkName ? (inertials[0].link.inertial as Inertial) : null;
    if (own && own.origin.q.slice(0, 3).every((v) => v === 0)) lines.push(`${pad}  ${inertialElement(own)}`);
    else if (inertials.length) {
      const c = combineInertials(inertials.map((m) => ({ inertial: m.link.inertial, offset: m.offset })));
      // A flat plate's moments meet A + B = C exactly; the eigen solver's rounding can leave C a
      // hair over, which MuJoCo refuses: clamp each to the sum of the other two.
      const [a, b, cc] = c.principal;
      const principal = [Math.min(a, b + cc), Math.min(b, a + cc), Math.min(cc, a + b)];
      lines.push(`${pad}  <inertial${poseAttrs({ p: c.com, q: c.frame }, true)} mass="${num(c.mass)}" diaginertia="${principal.map(num).join(' ')}"/>`);
    }
    for (const m of members) {
      m.link.collisions.forEach((c, i) => {
        const g = geomElement(`${m.link.name}#${i}`, { ...c, origin: compose(m.offset, c.origin) }, friction, pairs);
        if (g) {
          lines.push(`${pad}  ${g}`);
          robotGeoms.push({ name: xmlName(`${m.link.name}#${i}`), link: m.link.name, fixed: fixedLinks.has(m.link.name) });
        }
      });
    }
    for (const m of members) {
      for (const child of childrenOf.get(m.link.name) ?? []) if (ownBody(child)) lines.push(body(child.child, child, compose(m.offset, child.origin), depth + 1));
    }
    lines.push(`${pad}</body>`);
    return lines.join('\n');
  };

  const actuators = movable.map((j, k) => {
    const name = xmlName(j.name);
    // No force limit on the servos. A clamped servo leaves the implicit integrator (MuJoCo ≥ 3.10
    // zeroes its velocity derivative; before, a clamped Panda shoulder coasted on at 0.73 rad/s),
    // so it is an explicit bang-bang force at the 4 ms step, and where the inertia behind a joint
    // is small it chatters (MuJoCo 3.14, measured 2026-12-03: joint 7 oscillating 0.15 rad about a
    // 0.2 rad target step in any pose, joints 1 and 3 at ±45 rad/s with the arm straight; stable
    // only at 1 ms). Where the inertia is large, force limits would track Rapier's clamped motor
    // better on large target steps (joint 2: 0.056 vs Rapier's 0.064 rad after one period of a
    // 0.8 rad step, 0.255 unclamped). Unclamped, small steps match (26.4 vs 26.3 mrad after an
    // 80 mrad target step, joint 1).
    switch (act.mode) {
      case 'torque':
        return `    <motor name="${name}" joint="${name}" gear="1"/>`;
      case 'position':
        return `    <position name="${name}" joint="${name}" kp="${num(act.kp[k] as number)}"${servoDamping ? '' : ` kv="${num(act.kv[k] as number)}"`}/>`;
      case 'velocity':
        return `    <velocity name="${name}" joint="${name}" kv="${num(act.kv[k] as number)}"/>`;
    }
  });
  // Fingers: a gripper's position servos whatever the arm's actuation. Force-limited (unlike the
  // arm's, see above): a closed finger presses on a grasped object with at most its effort, as
  // Rapier's finger motor does; it barely moves while clamped, so the implicit damping's coasting
  // does not arise. Both are commanded together (URDF mimic), as on Rapier.
  fingers.forEach((j, k) => {
    const name = xmlName(j.name);
    const force = j.limit ? ` forcerange="${num(-j.limit.effort)} ${num(j.limit.effort)}"` : '';
    actuators.push(`    <position name="${name}" joint="${name}" kp="${num(options.fingers?.kp[k] as number)}" kv="${num(options.fingers?.kv[k] as number)}"${force}/>`);
  });
  const g = options.gravityCompensation ? [0, 0, 0] : (options.gravity ?? [0, 0, -9.81]);
  const objects = options.objects ?? [];
  checkSceneObjects(objects);
  const scene = objects.map((o) => objectElement(o, pairs));
  // Pairs a fixture's `clearOf` says cannot touch. MuJoCo excludes body pairs, so a named link
  // must be a body of its own carrying no other link's shapes (a fused hand would go with link 7).
  const placements = linkPlacements(robot, options.weldFingers ?? false, options.fuse ?? true);
  const excluded = (options.objects ?? []).flatMap((o) => {
    if (o.clearOf?.length && o.mass !== undefined) throw new RangeError(`object ${o.name}: clearOf is for fixtures (objects without mass); a free object moves`);
    return (o.clearOf ?? []).map((link) => {
      const at = placements.get(link);
      if (!at) throw new RangeError(`fixture ${o.name}: clearOf names ${JSON.stringify(link)}, not a link of ${robot.name}`);
      const riders = [...placements].filter(([other, p]) => p.body === link && other !== link && (links.get(other)?.collisions.length ?? 0) > 0).map(([other]) => other);
      if (at.body !== link || riders.length) throw new RangeError(`fixture ${o.name}: clearOf names ${link}, which ${at.body !== link ? `rides ${at.body}'s body` : `carries ${riders.join(', ')} on its body`} in MuJoCo's model: contacts are excluded per body, so name links with a body of their own`);
      return `    <exclude body1="${fixtureBody(o.name)}" body2="${linkBodyName(link)}"/>`;
    });
  });
  return [
    `<mujoco model="${xmlName(robot.name)}">`,
    // Radians, as URDF; inertias exactly as given (no bounding-box or mesh inference).
    `  <compiler angle="radian" inertiafromgeom="false" autolimits="true" boundmass="0" boundinertia="0"/>`,
    // Islands and the midphase are for many bodies and geoms: a robot of one chain, a body a link
    // with a collision shape or two, solves as one island and needs no box tree inside a pair
    // (what each of these model choices costs: bench/mujoco-model.ts, docs/benchmarks.md).
    `  <option timestep="${num(options.timestep)}" gravity="${g.map(num).join(' ')}" integrator="${servoDamping ? 'Euler' : 'implicitfast'}"><flag island="disable" midphase="disable"/></option>`,
    `  <worldbody>`,
    ...scene.map((s) => `    ${s}`),
    body(robot.root, null, null, 2),
    `  </worldbody>`,
    ...(pairs ? contactPairs(robotGeoms, objects, friction) : excluded.length ? ['  <contact>', ...excluded, '  </contact>'] : []),
    `  <actuator>`,
    ...actuators,
    `  </actuator>`,
    `</mujoco>`,
  ].join('\n');
}

/**
 * Where an arm's revolute joint limit starts to act, rad inside the URDF bound (MJCF `margin`).
 * MuJoCo's limits are soft constraints, defined in acceleration: they give way in proportion to
 * the force on them over the joint's inertia, so a light wrist sinks furthest. With MuJoCo's
 * defaults (`solreflimit` 0.02 s, no margin) a Panda joint pressed into its stop by its own servo
 * at full effort sank 3–18 mrad past its bound, and the arm pressed on the table pushed the wrist
 * 29 mrad past (Tier 0 fuzz: 120 steps in 100k over 5 mrad; Rapier's stops: none). With the
 * stiffer `solreflimit` of `jointElement` and this margin the sinking happens inside the range:
 * full effort leaves joint 7 1.1 mrad past (0.02: 4.8), the fuzz none over 5 mrad (0.02 left
 * 4.6 mrad, 0.01 3.1). The cost: a joint pressed into its stop rests up to ~29 mrad short of it
 * (Rapier's: at it); Tier 0 keeps targets 50 mrad inside anyway. Tried and left: impedance
 * (`solimplimit`) 0.95–0.999 instead of the default 0.9–0.95 sank less but set joint 7
 * chattering against its stop (±0.4–0.7 rad/s, never settling).
 */
export const LIMIT_MARGIN_RAD = 0.03;

/**
 * Joint damping only under torque control: the Rapier articulation's position and velocity
 * servos replace it. `limitTimestep`: the physics step of an arm joint, whose limit is made a
 * stiffer stop: `solreflimit` at 2 steps (the shortest time constant MuJoCo keeps stable; its
 * default 0.02 s let the joints sink 1.5–2× as far) and, on a revolute joint,
 * {@link LIMIT_MARGIN_RAD}. A gripper's fingers (null) keep MuJoCo's defaults, on which their
 * grasps were tuned. `servoDamping`: the position servo's kv, as joint damping (Euler's implicit
 * damping, see urdfToMjcf), or 0.
 */
function jointElement(j: UrdfJoint, withDamping: boolean, limitTimestep: number | null, servoDamping: number): string {
  const type = j.type === 'prismatic' ? 'slide' : 'hinge';
  const limited = j.type !== 'continuous' && j.limit !== null;
  const range = limited && j.limit ? ` range="${num(j.limit.lower)} ${num(j.limit.upper)}"` : '';
  // A range narrower than four margins (no such joint on the Panda) keeps half its travel free.
  const margin = j.limit ? Math.min(LIMIT_MARGIN_RAD, (j.limit.upper - j.limit.lower) / 4) : 0;
  const stop = limited && limitTimestep !== null ? ` solreflimit="${num(2 * limitTimestep)} 1"${type === 'hinge' ? ` margin="${num(margin)}"` : ''}` : '';
  const d = (withDamping ? j.damping : 0) + servoDamping;
  const damping = d > 0 ? ` damping="${num(d)}"` : '';
  return `<joint name="${xmlName(j.name)}" type="${type}" axis="${j.axis.map(num).join(' ')}"${range}${stop}${damping}/>`;
}

function inertialElement(i: Inertial): string {
  const { ixx, iyy, izz, ixy, ixz, iyz } = i.inertia;
  // MJCF requires an inertial's pos, even at the origin.
  return `<inertial${poseAttrs(i.origin, true)} mass="${num(i.mass)}" fullinertia="${[ixx, iyy, izz, ixy, ixz, iyz].map(num).join(' ')}"/>`;
}

/** URDF collision → MJCF geom; cylinders and capsules are along local z in both. Meshes: none. */
function geomElement(name: string, c: Collision, friction: number, pairs: boolean): string | null {
  const g = c.geometry;
  const size =
    g.type === 'box' ? ['box', g.size.map((s) => s / 2)]
    : g.type === 'sphere' ? ['sphere', [g.radius]]
    : g.type === 'cylinder' ? ['cylinder', [g.radius, g.length / 2]]
    : g.type === 'capsule' ? ['capsule', [g.radius, g.length / 2]]
    : null;
  if (!size) return null;
  const [type, dims] = size as [string, number[]];
  // contype 2 / conaffinity 1: robot geoms touch the scene (contype 1) but not each other — no
  // self-collision, as the Rapier articulation's collision groups.
  return `<geom name="${xmlName(name)}" type="${type}" size="${dims.map(num).join(' ')}"${poseAttrs(c.origin)} ${pairs ? CONTACT_PAIRS_ONLY : 'contype="2" conaffinity="1"'} friction="${num(friction)} 0.005 0.0001"/>`;
}

/** A geom that meets others only in the listed `<pair>`s: out of MuJoCo's broadphase. */
const CONTACT_PAIRS_ONLY = 'contype="0" conaffinity="0"';

/** The scene objects' friction when unset (as Rapier's colliders). */
const OBJECT_FRICTION = 0.5;

/** The plane geom standing for a `robotFloor` fixture's top face. */
function floorGeom(o: SceneObject): string {
  return `${xmlName(o.name)}#floor`;
}

/**
 * The `<contact>` section of {@link urdfToMjcf}'s listed pairs. Friction as MuJoCo mixes a dynamic
 * contact's (the larger of the two geoms', sliding twice, then torsional and rolling twice);
 * condim, solref, solimp, margin and gap are the geoms' defaults. Objects first in each pair, as
 * MuJoCo's broadphase ordered them (the same contacts in the same order: the same motion, to rounding).
 */
function contactPairs(robotGeoms: readonly { name: string; link: string; fixed: boolean }[], objects: readonly SceneObject[], robotFriction: number): string[] {
  const pair = (a: string, b: string, f: number): string => `    <pair geom1="${a}" geom2="${b}" friction="${num(f)} ${num(f)} 0.005 0.0001 0.0001"/>`;
  const lines: string[] = [];
  for (const g of robotGeoms) {
    for (const o of objects) {
      const fixture = o.mass === undefined;
      if (fixture && (g.fixed || o.clearOf?.includes(g.link))) continue;
      lines.push(pair(fixture && o.robotFloor ? floorGeom(o) : xmlName(o.name), g.name, Math.max(robotFriction, o.friction ?? OBJECT_FRICTION)));
    }
  }
  objects.forEach((a, i) => {
    for (const b of objects.slice(i + 1)) {
      if (a.mass === undefined && b.mass === undefined) continue;
      lines.push(pair(xmlName(a.name), xmlName(b.name), Math.max(a.friction ?? OBJECT_FRICTION, b.friction ?? OBJECT_FRICTION)));
    }
  });
  return lines.length ? ['  <contact>', ...lines, '  </contact>'] : [];
}

/** Links whose bodies are welded to the world in {@link urdfToMjcf}'s model: the root and what joins it without a joint MuJoCo gets. */
function weldedToWorld(robot: UrdfRobot, links: ReadonlyMap<string, UrdfLink>, childrenOf: ReadonlyMap<string, readonly UrdfJoint[]>, moves: (j: UrdfJoint) => boolean): Set<string> {
  const out = new Set<string>();
  const visit = (name: string): void => {
    if (!links.has(name) || out.has(name)) return;
    out.add(name);
    for (const j of childrenOf.get(name) ?? []) if (!moves(j)) visit(j.child);
  };
  visit(robot.root);
  return out;
}

/**
 * A fixture (a static body of its own) or a free body with the inertia of its solid shape. With
 * `pairs`, out of the broadphase (see {@link contactPairs}); a `robotFloor` fixture adds its top
 * face as a plane of the world body, for the robot's contacts only (hidden: group 3, clear).
 */
function objectElement(o: SceneObject, pairs: boolean): string {
  const size = o.kind === 'box' ? o.size.slice(0, 3) : o.size.slice(0, 1);
  const geom = `<geom name="${xmlName(o.name)}" type="${o.kind}" size="${size.map(num).join(' ')}" ${pairs ? CONTACT_PAIRS_ONLY : 'contype="1" conaffinity="3"'} friction="${num(o.friction ?? OBJECT_FRICTION)} 0.005 0.0001"`;
  const pose = poseAttrs({ p: o.position, q: o.rotation ?? [0, 0, 0, 1] });
  // A fixture is a static body of its own, not a geom of the world body: MuJoCo's broadphase
  // bounds it by its box and sets it apart from the arm's bodies above it. As a world geom the
  // table met every arm body each step — in the narrow phase when it was the world's one geom
  // (its bounding sphere, 1.4 m for a 2 m table, holds the whole arm), in the midphase's box tree
  // with a second, inert world geom (what this replaced). The same contacts, a cheaper step
  // (bench/mujoco-model.ts).
  if (o.mass === undefined) {
    const body = `<body name="${fixtureBody(o.name)}"${pose}>${geom}/></body>`;
    if (!(pairs && o.robotFloor)) return body;
    const top: Pose = { p: [o.position[0], o.position[1], o.position[2] + (o.size[2] as number)], q: [0, 0, 0, 1] };
    return `<geom name="${floorGeom(o)}" type="plane" size="0 0 1"${poseAttrs(top, true)} group="3" rgba="0 0 0 0" ${CONTACT_PAIRS_ONLY}/>${body}`;
  }
  const m = o.mass;
  const [a, b, c] = size as [number, number, number];
  const inertia = o.kind === 'box' ? [(m / 3) * (b * b + c * c), (m / 3) * (a * a + c * c), (m / 3) * (a * a + b * b)] : [0.4 * m * a * a, 0.4 * m * a * a, 0.4 * m * a * a];
  return `<body name="${xmlName(o.name)}"${pose}><freejoint name="${xmlName(o.name)}"/><inertial pos="0 0 0" mass="${num(m)}" diaginertia="${inertia.map(num).join(' ')}"/>${geom}/></body>`;
}

/**
 * The MuJoCo body of a link with a body of its own: its name, but for a link named `world` (ROS
 * URDFs often root the robot at one), which would be MuJoCo's world body.
 */
export function linkBodyName(link: string): string {
  return link === 'world' ? 'world#link' : xmlName(link);
}

/** A fixture's body (its geom has the fixture's name): apart from the links' names, which a fixture may share. */
function fixtureBody(name: string): string {
  return `${xmlName(name)}#fixture`;
}

/** ` pos=… quat=…` (MJCF quaternions are w x y z; ours x y z w), omitting the identity. */
function poseAttrs(p: Pose, alwaysPos = false): string {
  const pos = alwaysPos || p.p.some((v) => v !== 0) ? ` pos="${p.p.map(num).join(' ')}"` : '';
  const [x, y, z, w] = p.q;
  const quat = x === 0 && y === 0 && z === 0 ? '' : ` quat="${[w, x, y, z].map(num).join(' ')}"`;
  return pos + quat;
}

/** Numbers as MJCF reads them: full precision, no exponent surprises for ordinary values. */
function num(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`Expected a finite number in MJCF, got ${v}`);
  return String(v);
}

/** Names go into attributes: only characters that need no escaping. */
function xmlName(name: string): string {
  if (!/^[A-Za-z0-9_.#:/-]+$/.test(name)) throw new RangeError(`Name ${JSON.stringify(name)} cannot be used in MJCF (letters, digits and _ . # : / - only)`);
  return name;
}

/**
 * The robot's tree as {@link urdfToMjcf} lays it out: `moves` — a joint MuJoCo gets (not fixed,
 * not a welded finger); `ownBody` — a joint whose child gets a body (one that moves, or every
 * joint with `fuse` off).
 */
function bodyLayout(robot: UrdfRobot, weldFingers: boolean, fuse: boolean): { links: Map<string, UrdfLink>; childrenOf: Map<string, UrdfJoint[]>; moves: (j: UrdfJoint) => boolean; ownBody: (j: UrdfJoint) => boolean } {
  const childrenOf = new Map<string, UrdfJoint[]>();
  for (const j of robot.joints) childrenOf.set(j.parent, [...(childrenOf.get(j.parent) ?? []), j]);
  const welded = new Set(weldFingers ? gripperJoints(robot) : []);
  const moves = (j: UrdfJoint): boolean => j.type !== 'fixed' && !welded.has(j);
  return { links: new Map(robot.links.map((l) => [l.name, l])), childrenOf, moves, ownBody: (j) => !fuse || moves(j) };
}

/** A link riding a body of the MJCF {@link urdfToMjcf} writes, at its pose in that body. */
interface BodyMember {
  readonly link: UrdfLink;
  readonly offset: Pose;
}

/**
 * `linkName` and the links joined to it by joints that get no body (fixed joints, welded fingers),
 * depth first, each at its pose in `linkName`'s frame.
 */
function bodyMembers(linkName: string, links: ReadonlyMap<string, UrdfLink>, childrenOf: ReadonlyMap<string, readonly UrdfJoint[]>, ownBody: (j: UrdfJoint) => boolean): BodyMember[] {
  const out: BodyMember[] = [];
  const visit = (name: string, offset: Pose): void => {
    const link = links.get(name);
    if (!link) throw new RangeError(`URDF: a joint names a missing link ${name}`);
    out.push({ link, offset });
    for (const j of childrenOf.get(name) ?? []) if (!ownBody(j)) visit(j.child, compose(offset, j.origin));
  };
  visit(linkName, IDENTITY_POSE);
  return out;
}

/**
 * Where each link of `robot` lives in the MJCF {@link urdfToMjcf} writes: a link that moves (or
 * the root) is a body of its own; a link on a fixed joint — or a finger welded by `weldFingers` —
 * rides its parent's body at its pose there, as MuJoCo's `fusestatic` would put it but keeping the
 * links' names for their geoms (`link#i`). Fewer bodies, the same rigid-body dynamics: the Panda's
 * hand, flange, TCP frame and welded fingers are one body with link 7 (bench/mujoco-model.ts).
 */
export function linkPlacements(robot: UrdfRobot, weldFingers: boolean, fuse = true): Map<string, { body: string; offset: Pose }> {
  const { links, childrenOf, ownBody } = bodyLayout(robot, weldFingers, fuse);
  const out = new Map<string, { body: string; offset: Pose }>();
  const heads = [robot.root, ...robot.joints.filter(ownBody).map((j) => j.child)];
  for (const head of heads) for (const m of bodyMembers(head, links, childrenOf, ownBody)) out.set(m.link.name, { body: head, offset: m.offset });
  return out;
}
