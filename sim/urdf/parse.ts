import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { IDENTITY_POSE, normalize, quatFromRpy, symmetricEigen, type Pose, type Vec3 } from '../math3d.js';
import { UrdfError, type Collision, type Geometry, type Inertial, type JointLimit, type JointMimic, type JointType, type UrdfJoint, type UrdfLink, type UrdfRobot } from './types.js';

type Node = Record<string, unknown>;

const ARRAY_TAGS = new Set(['link', 'joint', 'collision', 'visual']);
const JOINT_TYPES: readonly JointType[] = ['fixed', 'revolute', 'continuous', 'prismatic'];

/**
 * Parses a URDF document into a validated {@link UrdfRobot}. Every problem is reported as a
 * {@link UrdfError} naming the element (`joint "j2" <limit>: …`). Supported: links with
 * inertial and box / cylinder / sphere / capsule collisions (meshes are skipped with a warning);
 * fixed, revolute, continuous and prismatic joints with origin, axis, limit, dynamics and mimic.
 */
export function parseUrdf(xml: string): UrdfRobot {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new UrdfError(`malformed XML at line ${valid.err.line}: ${valid.err.msg}`);
  const doc = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    parseAttributeValue: false,
    isArray: (name) => ARRAY_TAGS.has(name),
  }).parse(xml) as Node;
  const robot = doc['robot'];
  if (!isNode(robot)) throw new UrdfError('missing <robot> root element');
  const robotName = attr(robot, 'name', '<robot>');
  const warnings: string[] = [];
  const links = asNodes(robot['link']).map((l) => parseLink(l, warnings));
  if (links.length === 0) throw new UrdfError(`robot "${robotName}" has no <link>`);
  const joints = asNodes(robot['joint']).map(parseJoint);
  return { name: robotName, ...buildTree(links, joints), warnings };
}

function parseLink(node: Node, warnings: string[]): UrdfLink {
  const name = attr(node, 'name', '<link>');
  const where = `link "${name}"`;
  const inertialNode = node['inertial'];
  let inertial: Inertial | null = null;
  if (isNode(inertialNode)) {
    const massNode = child(inertialNode, 'mass', `${where} <inertial>`);
    const mass = num(attr(massNode, 'value', `${where} <mass>`), `${where} <mass value>`);
    if (!(mass > 0) || mass > MAX_LINK_MASS) throw new UrdfError(`${where} <mass value>: expected a mass in (0, ${MAX_LINK_MASS}] kg, got ${mass}`);
    const i = child(inertialNode, 'inertia', `${where} <inertial>`);
    const get = (k: string): number => num(attr(i, k, `${where} <inertia>`), `${where} <inertia ${k}>`);
    const inertia = { ixx: get('ixx'), ixy: get('ixy'), ixz: get('ixz'), iyy: get('iyy'), iyz: get('iyz'), izz: get('izz') };
    inertial = { origin: parseOrigin(inertialNode['origin'], `${where} <inertial><origin>`), mass, inertia: checkInertia(inertia, mass, `${where} <inertia>`, warnings) };
  }
  const collisions: Collision[] = [];
  asNodes(node['collision']).forEach((c, k) => {
    const cw = `${where} <collision> #${k}`;
    const geometry = parseGeometry(child(c, 'geometry', cw), `${cw} <geometry>`);
    if (geometry.type === 'mesh') {
      warnings.push(`${cw}: mesh "${geometry.filename}" skipped (mesh collisions are not loaded)`);
      return;
    }
    collisions.push({ origin: parseOrigin(c['origin'], `${cw} <origin>`), geometry });
  });
  return { name, inertial, collisions };
}

function parseGeometry(node: Node, where: string): Geometry {
  const kinds = ['box', 'cylinder', 'capsule', 'sphere', 'mesh'].filter((k) => k in node);
  if (kinds.length !== 1) throw new UrdfError(`${where}: expected exactly one of box, cylinder, capsule, sphere, mesh; got ${kinds.length ? kinds.join(', ') : 'none'}`);
  const kind = kinds[0] as string;
  const g = node[kind];
  if (!isNode(g)) throw new UrdfError(`${where} <${kind}>: missing attributes`);
  const positive = (k: string): number => {
    const v = num(attr(g, k, `${where} <${kind}>`), `${where} <${kind} ${k}>`);
    if (!(v > 0)) throw new UrdfError(`${where} <${kind} ${k}>: expected a positive number, got ${v}`);
    return v;
  };
  switch (kind) {
    case 'box': {
      const size = vec3(attr(g, 'size', `${where} <box>`), `${where} <box size>`);
      if (size.some((s) => !(s > 0))) throw new UrdfError(`${where} <box size>: sizes must be positive, got ${size.join(' ')}`);
      return { type: 'box', size };
    }
    case 'cylinder':
      return { type: 'cylinder', radius: positive('radius'), length: positive('length') };
    case 'capsule':
      return { type: 'capsule', radius: positive('radius'), length: positive('length') };
    case 'sphere':
      return { type: 'sphere', radius: positive('radius') };
    default:
      return { type: 'mesh', filename: attr(g, 'filename', `${where} <mesh>`) };
  }
}

function parseJoint(node: Node): UrdfJoint {
  const name = attr(node, 'name', '<joint>');
  const where = `joint "${name}"`;
  const typeRaw = attr(node, 'type', where);
  if (!(JOINT_TYPES as readonly string[]).includes(typeRaw)) {
    throw new UrdfError(`${where}: unsupported type "${typeRaw}" (supported: ${JOINT_TYPES.join(', ')})`);
  }
  const type = typeRaw as JointType;
  const parent = attr(child(node, 'parent', where), 'link', `${where} <parent>`);
  const childLink = attr(child(node, 'child', where), 'link', `${where} <child>`);
  const axisNode = node['axis'];
  let axis: Vec3 = [1, 0, 0];
  if (isNode(axisNode)) {
    const raw = vec3(attr(axisNode, 'xyz', `${where} <axis>`), `${where} <axis xyz>`);
    if (raw.every((v) => v === 0)) throw new UrdfError(`${where} <axis xyz>: must not be zero`);
    axis = normalize(raw);
  }
  const limit = parseLimit(node['limit'], type, where);
  const dyn = node['dynamics'];
  const optNum = (k: string): number => (isNode(dyn) && typeof dyn[`@${k}`] === 'string' ? num(dyn[`@${k}`] as string, `${where} <dynamics ${k}>`) : 0);
  const mimic = parseMimic(node['mimic'], where);
  return { name, type, parent, child: childLink, origin: parseOrigin(node['origin'], `${where} <origin>`), axis, limit, damping: optNum('damping'), friction: optNum('friction'), ...(mimic ? { mimic } : {}) };
}

function parseMimic(node: unknown, where: string): JointMimic | null {
  if (node === undefined) return null;
  const w = `${where} <mimic>`;
  if (!isNode(node)) throw new UrdfError(`${w}: missing attribute "joint"`);
  const opt = (k: string, dflt: number): number => (typeof node[`@${k}`] === 'string' ? num(node[`@${k}`] as string, `${w} ${k}`) : dflt);
  return { joint: attr(node, 'joint', w), multiplier: opt('multiplier', 1), offset: opt('offset', 0) };
}

function parseLimit(node: unknown, type: JointType, where: string): JointLimit | null {
  if (!isNode(node)) {
    if (type === 'revolute' || type === 'prismatic') throw new UrdfError(`${where}: <limit> is required for ${type} joints`);
    return null;
  }
  const w = `${where} <limit>`;
  const opt = (k: string, dflt: number): number => (typeof node[`@${k}`] === 'string' ? num(node[`@${k}`] as string, `${w} ${k}`) : dflt);
  const effort = num(attr(node, 'effort', w), `${w} effort`);
  const velocity = num(attr(node, 'velocity', w), `${w} velocity`);
  const lower = type === 'continuous' ? -Infinity : opt('lower', 0);
  const upper = type === 'continuous' ? Infinity : opt('upper', 0);
  if (!(effort > 0) || !(velocity > 0)) throw new UrdfError(`${w}: effort and velocity must be positive, got effort=${effort}, velocity=${velocity}`);
  if (!(lower <= upper)) throw new UrdfError(`${w}: lower (${lower}) must not exceed upper (${upper})`);
  return { lower, upper, effort, velocity };
}

/** Orders joints parents-first and checks the links form one tree. */
function buildTree(links: UrdfLink[], joints: UrdfJoint[]): { links: UrdfLink[]; joints: UrdfJoint[]; root: string } {
  const byName = new Map<string, UrdfLink>();
  for (const l of links) {
    if (byName.has(l.name)) throw new UrdfError(`link "${l.name}" is defined twice`);
    byName.set(l.name, l);
  }
  const jointNames = new Set<string>();
  const parentOf = new Map<string, UrdfJoint>();
  for (const j of joints) {
    if (jointNames.has(j.name)) throw new UrdfError(`joint "${j.name}" is defined twice`);
    jointNames.add(j.name);
    for (const [role, l] of [['parent', j.parent], ['child', j.child]] as const) {
      if (!byName.has(l)) throw new UrdfError(`joint "${j.name}" <${role}>: unknown link "${l}"`);
    }
    if (parentOf.has(j.child)) throw new UrdfError(`joint "${j.name}": link "${j.child}" already has parent joint "${parentOf.get(j.child)?.name}"`);
    parentOf.set(j.child, j);
  }
  for (const j of joints) {
    if (!j.mimic) continue;
    const leader = joints.find((o) => o.name === j.mimic?.joint);
    if (!leader) throw new UrdfError(`joint "${j.name}" <mimic>: unknown joint "${j.mimic.joint}"`);
    if (leader === j || leader.mimic) throw new UrdfError(`joint "${j.name}" <mimic>: joint "${leader.name}" ${leader === j ? 'is the joint itself' : 'mimics another joint itself'} (a mimic follows an independent joint)`);
    if (j.type === 'fixed' || leader.type === 'fixed') throw new UrdfError(`joint "${j.name}" <mimic>: fixed joints neither mimic nor are mimicked`);
  }
  const roots = links.filter((l) => !parentOf.has(l.name));
  if (roots.length !== 1) {
    throw new UrdfError(roots.length === 0 ? 'the joints form a cycle: no root link' : `expected one root link, found ${roots.length}: ${roots.map((r) => r.name).join(', ')}`);
  }
  const root = (roots[0] as UrdfLink).name;
  const ordered: UrdfJoint[] = [];
  const visit = (link: string): void => {
    for (const j of joints) {
      if (j.parent === link) {
        ordered.push(j);
        visit(j.child);
      }
    }
  };
  visit(root);
  if (ordered.length !== joints.length) throw new UrdfError('some links are not reachable from the root (cycle)');
  return { links, joints: ordered, root };
}

function parseOrigin(node: unknown, where: string): Pose {
  if (!isNode(node)) return IDENTITY_POSE;
  const xyz = typeof node['@xyz'] === 'string' ? vec3(node['@xyz'], `${where} xyz`) : ([0, 0, 0] as Vec3);
  const rpy = typeof node['@rpy'] === 'string' ? vec3(node['@rpy'], `${where} rpy`) : ([0, 0, 0] as Vec3);
  return { p: xyz, q: quatFromRpy(rpy[0], rpy[1], rpy[2]) };
}

function vec3(text: string, where: string): Vec3 {
  const parts = text.trim().split(/\s+/);
  const v = parts.map(Number);
  if (parts.length !== 3 || v.some((x) => !Number.isFinite(x))) throw new UrdfError(`${where}: expected 3 numbers, got "${text}"`);
  return v as Vec3;
}

/** A decimal number as URDF writes them ("1.5", "-2e-3"); "0x10", "Infinity" or "" are refused. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function num(text: string, where: string): number {
  const t = text.trim();
  const v = Number(t);
  if (!DECIMAL.test(t) || !Number.isFinite(v)) throw new UrdfError(`${where}: expected a decimal number, got "${text}"`);
  return v;
}

/** Heavier than this is not a robot link (a typo: 1e300 was accepted). */
const MAX_LINK_MASS = 1e4;

type InertiaTensor = { ixx: number; ixy: number; ixz: number; iyy: number; iyz: number; izz: number };

/**
 * Checks an inertia tensor as a simulator needs it: symmetric positive definite, with principal
 * moments satisfying the triangle inequality (I₁ + I₂ ≥ I₃ for every order), which every real
 * body does. An all-zero tensor (common on frames that only hold a name) is repaired with a
 * warning to that of a 1 cm solid sphere of the link's mass; anything else that fails is an
 * error (a non-positive-definite link ended at q = −8.5 rad with ±1 rad limits).
 */
function checkInertia(t: InertiaTensor, mass: number, where: string, warnings: string[]): InertiaTensor {
  if (Object.values(t).every((v) => v === 0)) {
    const i = 0.4 * mass * 0.01 ** 2;
    warnings.push(`${where}: all-zero inertia repaired to a 1 cm sphere's (${i.toExponential(2)} kg·m² on each axis)`);
    return { ixx: i, ixy: 0, ixz: 0, iyy: i, iyz: 0, izz: i };
  }
  const { values } = symmetricEigen([t.ixx, t.ixy, t.ixz, t.ixy, t.iyy, t.iyz, t.ixz, t.iyz, t.izz]);
  const [a, b, c] = [...values].sort((x, y) => x - y) as [number, number, number];
  const scale = Math.max(Math.abs(a), Math.abs(b), Math.abs(c));
  if (!(a > 1e-12 * Math.max(scale, 1e-30))) throw new UrdfError(`${where}: not positive definite (principal moments ${values.map((v) => v.toExponential(3)).join(', ')})`);
  if (a + b < c * (1 - 1e-6)) throw new UrdfError(`${where}: principal moments ${a.toExponential(3)}, ${b.toExponential(3)}, ${c.toExponential(3)} violate the triangle inequality (I₁ + I₂ ≥ I₃): no rigid body has them`);
  return t;
}

function attr(node: Node, name: string, where: string): string {
  const v = node[`@${name}`];
  if (typeof v !== 'string') throw new UrdfError(`${where}: missing attribute "${name}"`);
  return v;
}

function child(node: Node, tag: string, where: string): Node {
  const c = node[tag];
  if (!isNode(c)) throw new UrdfError(`${where}: missing <${tag}>`);
  return c;
}

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asNodes(v: unknown): Node[] {
  if (v === undefined) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr.map((x) => (isNode(x) ? x : ({} as Node)));
}
