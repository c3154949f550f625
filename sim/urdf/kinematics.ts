import { compose, IDENTITY_POSE, quatFromAxisAngle, scale, type Pose } from '../math3d.js';
import type { UrdfJoint, UrdfRobot } from './types.js';

/** The joints that move (revolute, continuous, prismatic), in tree order: the order of q. */
export function movableJoints(robot: UrdfRobot): UrdfJoint[] {
  return robot.joints.filter((j) => j.type !== 'fixed');
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
 * with the root link at `base`.
 */
export function forwardKinematics(robot: UrdfRobot, q: ArrayLike<number>, base: Pose = IDENTITY_POSE): Map<string, Pose> {
  const poses = new Map<string, Pose>([[robot.root, base]]);
  let k = 0;
  for (const j of robot.joints) {
    const parent = poses.get(j.parent);
    if (!parent) throw new Error(`forwardKinematics: parent "${j.parent}" of joint "${j.name}" not placed yet`);
    const qj = j.type === 'fixed' ? 0 : (q[k++] ?? Number.NaN);
    if (Number.isNaN(qj)) throw new RangeError(`forwardKinematics: q has ${q.length} entries, robot "${robot.name}" has more movable joints`);
    poses.set(j.child, compose(parent, jointTransform(j, qj)));
  }
  return poses;
}
