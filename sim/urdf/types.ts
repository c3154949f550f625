import type { Pose, Vec3 } from '../math3d.js';

/** Collision geometry. Cylinders and capsules are along the local Z axis, as in URDF. */
export type Geometry =
  | { readonly type: 'box'; readonly size: Vec3 }
  | { readonly type: 'cylinder'; readonly radius: number; readonly length: number }
  | { readonly type: 'capsule'; readonly radius: number; readonly length: number }
  | { readonly type: 'sphere'; readonly radius: number }
  | { readonly type: 'mesh'; readonly filename: string };

export interface Inertial {
  readonly origin: Pose;
  readonly mass: number;
  /** Inertia tensor about the inertial origin, in the inertial frame. */
  readonly inertia: { readonly ixx: number; readonly ixy: number; readonly ixz: number; readonly iyy: number; readonly iyz: number; readonly izz: number };
}

export interface Collision {
  readonly origin: Pose;
  readonly geometry: Geometry;
}

export interface UrdfLink {
  readonly name: string;
  readonly inertial: Inertial | null;
  readonly collisions: readonly Collision[];
}

export type JointType = 'fixed' | 'revolute' | 'continuous' | 'prismatic';

export interface JointLimit {
  readonly lower: number;
  readonly upper: number;
  /** Max effort: N·m (revolute) or N (prismatic). */
  readonly effort: number;
  /** Max speed: rad/s or m/s. */
  readonly velocity: number;
}

export interface UrdfJoint {
  readonly name: string;
  readonly type: JointType;
  readonly parent: string;
  readonly child: string;
  /** Pose of the joint frame in the parent link frame (the child link frame at q = 0). */
  readonly origin: Pose;
  /** Unit axis in the joint frame. */
  readonly axis: Vec3;
  /** Present for revolute and prismatic joints (required by the URDF spec); optional otherwise. */
  readonly limit: JointLimit | null;
  readonly damping: number;
  readonly friction: number;
  /**
   * URDF `<mimic>`: this joint follows `joint` as multiplier·q + offset. A prismatic joint that
   * mimics another prismatic joint makes the two a gripper's coupled fingers
   * ({@link gripperJoints} in kinematics.ts). Absent: an independent joint.
   */
  readonly mimic?: JointMimic;
}

export interface JointMimic {
  readonly joint: string;
  readonly multiplier: number;
  readonly offset: number;
}

/** A parsed, validated robot description: a tree of links connected by joints. */
export interface UrdfRobot {
  readonly name: string;
  readonly links: readonly UrdfLink[];
  /** Joints in depth-first tree order from the root (parents before children). */
  readonly joints: readonly UrdfJoint[];
  readonly root: string;
  /** Non-fatal notes (e.g. mesh collisions skipped). */
  readonly warnings: readonly string[];
}

export class UrdfError extends Error {
  override readonly name = 'UrdfError';
}
