import type { SceneShape, SceneState } from '../../control/scene.js';
import { compose, IDENTITY_POSE, type Pose } from '../math3d.js';
import { forwardKinematics } from './kinematics.js';
import type { Geometry, UrdfRobot } from './types.js';

/** Rapier and three.js build cylinders and capsules along local Y; URDF's are along Z. */
export function geometryFrame(g: Geometry): Pose {
  return g.type === 'cylinder' || g.type === 'capsule' ? { p: [0, 0, 0], q: [Math.SQRT1_2, 0, 0, Math.SQRT1_2] } : IDENTITY_POSE;
}

/**
 * A URDF robot's collision shapes as scene shapes (named `link#i`, as the simulator names its
 * colliders; meshes are skipped) and, for joint positions `q`, their poses by forward
 * kinematics — how a robot known only by its measured joints is drawn.
 */
export function urdfScene(robot: UrdfRobot, q: ArrayLike<number>, base: Pose = IDENTITY_POSE): SceneState {
  const links = forwardKinematics(robot, q, base);
  const shapes: SceneShape[] = [];
  const poses: number[] = [];
  for (const link of robot.links) {
    const at = links.get(link.name);
    if (!at) continue;
    link.collisions.forEach((c, i) => {
      const g = c.geometry;
      if (g.type === 'mesh') return;
      const size = g.type === 'box' ? g.size.map((s) => s / 2) : g.type === 'sphere' ? [g.radius] : [g.radius, g.length / 2];
      shapes.push({ name: `${link.name}#${i}`, kind: g.type, size, role: 'robot' });
      const pose = compose(compose(at, c.origin), geometryFrame(g));
      poses.push(...pose.p, ...pose.q);
    });
  }
  return { shapes, poses };
}
