import { compose, IDENTITY_POSE, quatFromAxisAngle, scale, type Pose } from '../math3d.js';
import type { UrdfJoint, UrdfRobot } from './types.js';

/**
 * The joints that move and are commanded one by one (revolute, continuous, prismatic), in tree
 * order: the order of q. A gripper's fingers ({@link gripperJoints}) are not among them: they
 * move together on one command of their own, so a Panda's q stays its seven arm joints whether
 * its description has fingers or not.
 */
export function movableJoints(robot: UrdfRobot): UrdfJoint[] {
  const fingers = new Set(gripperJoints(robot));
  return robot.joints.filter((j) => j.type !== 'fixed' && !fingers.has(j));
}

/**
 * A parallel gripper's fingers, in tree order: prismatic joints coupled by URDF `<mimic>` — each
 * prismatic joint that mimics a prismatic joint, and the joint it mimics (the leader, whose
 * position is the gripper's opening per finger). As franka_description's Panda hand writes its
 * fingers (panda_finger_joint2 mimics panda_finger_joint1). Empty for robots without one.
 */
export function gripperJoints(robot: UrdfRobot): UrdfJoint[] {
  // Forward kinematics asks on every call (8 times per IK step): once per description.
  const known = gripperCache.get(robot);
  if (known) return [...known];
  const byName = new Map(robot.joints.map((j) => [j.name, j]));
  const fingers = new Set<string>();
  for (const j of robot.joints) {
    const leader = j.mimic ? byName.get(j.mimic.joint) : undefined;
    if (j.type === 'prismatic' && leader?.type === 'prismatic') fingers.add(j.name).add(leader.name);
  }
  const found = robot.joints.filter((j) => fingers.has(j.name));
  gripperCache.set(robot, found);
  return [...found];
}

const gripperCache = new WeakMap<UrdfRobot, readonly UrdfJoint[]>();

/** Position of gripper joint `j` when the leading finger is at `opening` (its mimic, if any). */
export function fingerPosition(j: UrdfJoint, opening: number): number {
  return j.mimic ? j.mimic.multiplier * opening + j.mimic.offset : opening;
}

/** Pose of the child link relative to the parent link for joint position `q`. */
export function jointTransform(joint: UrdfJoint, q: number): Pose {
  switch (joint.type) {
    case 'fixed':
      return joint.origin;
    case 'revolute':
    case 'continuous':
      return compose(joint.origin, { p: [0, 0, 0], q: quatFromAxisAngle(joint.axis, q) });
    case 'prismatic':
      return compose(joint.origin, { p: scale(joint.axis, q), q: [0, 0, 0, 1] });
    default: {
      const never: never = joint.type;
      throw new Error(`unknown joint type ${String(never)}`);
    }
  }
}

/**
 * World pose of every link for joint positions `q` (ordered as {@link movableJoints}),
 * with the root link at `base` and a gripper's leading finger at `opening` (m; default 0,
 * closed — the others by their mimic).
 */
export function forwardKinematics(robot: UrdfRobot, q: ArrayLike<number>, base: Pose = IDENTITY_POSE, opening = 0): Map<string, Pose> {
  const poses = new Map<string, Pose>([[robot.root, base]]);
  const fingers = new Set<UrdfJoint>(gripperCache.get(robot) ?? gripperJoints(robot));
  let k = 0;
  for (const j of robot.joints) {
    const parent = poses.get(j.parent);
    if (!parent) throw new Error(`forwardKinematics: parent "${j.parent}" of joint "${j.name}" not placed yet`);
    const qj = j.type === 'fixed' ? 0 : fingers.has(j) ? fingerPosition(j, opening) : (q[k++] ?? Number.NaN);
    if (Number.isNaN(qj)) throw new RangeError(`forwardKinematics: q has ${q.length} entries, robot "${robot.name}" has more movable joints`);
    poses.set(j.child, compose(parent, jointTransform(j, qj)));
  }
  return poses;
}
