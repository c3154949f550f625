/** ROS 1 time {secs, nsecs} from epoch milliseconds. */
export function rosTime(ms: number): { secs: number; nsecs: number } {
  const secs = Math.floor(ms / 1000);
  return { secs, nsecs: Math.round((ms - secs * 1000) * 1e6) };
}

/** Epoch milliseconds from a ROS 1 {secs, nsecs} or ROS 2 {sec, nanosec} stamp; NaN if malformed. */
export function stampMs(stamp: unknown): number {
  if (!stamp || typeof stamp !== 'object') return Number.NaN;
  const s = stamp as Record<string, unknown>;
  const secs = s['secs'] ?? s['sec'];
  const nsecs = s['nsecs'] ?? s['nanosec'];
  if (typeof secs !== 'number' || typeof nsecs !== 'number') return Number.NaN;
  return secs * 1000 + nsecs / 1e6;
}

/** sensor_msgs/JointState as it arrives over rosbridge. */
export interface JointStateMsg {
  readonly header?: { readonly stamp?: unknown; readonly seq?: number };
  readonly name?: unknown;
  readonly position?: unknown;
  readonly velocity?: unknown;
}

/**
 * Picks the task's joints out of a JointState by name (drivers publish joints in any order,
 * often with extra ones such as gripper fingers). Returns positions and velocities in
 * `joints` order, or the reason the message is unusable.
 */
export function matchJointState(msg: JointStateMsg, joints: readonly string[]): { q: Float64Array; qd: Float64Array; stampMs: number; stamped: boolean } | { error: string } {
  const names = msg.name;
  const pos = msg.position;
  const vel = msg.velocity;
  if (!Array.isArray(names) || !Array.isArray(pos)) return { error: 'JointState without name[] and position[]' };
  if (pos.length !== names.length) return { error: `JointState has ${names.length} names and ${pos.length} positions` };
  if (Array.isArray(vel) && vel.length !== 0 && vel.length !== names.length) return { error: `JointState has ${names.length} names and ${vel.length} velocities` };
  const q = new Float64Array(joints.length);
  const qd = new Float64Array(joints.length);
  for (let i = 0; i < joints.length; i++) {
    const k = names.indexOf(joints[i]);
    if (k < 0) return { error: `JointState lacks joint "${joints[i]}" (has ${names.join(', ')})` };
    const p = pos[k];
    const v = Array.isArray(vel) && vel.length ? vel[k] : 0;
    if (typeof p !== 'number' || !Number.isFinite(p) || typeof v !== 'number' || !Number.isFinite(v)) return { error: `JointState joint "${joints[i]}" has non-finite position or velocity` };
    q[i] = p;
    qd[i] = v;
  }
  // A zero stamp is ROS's "not set" (many drivers leave it so).
  const stamp = stampMs(msg.header?.stamp);
  const stamped = Number.isFinite(stamp) && stamp > 0;
  return { q, qd, stampMs: stamped ? stamp : Date.now(), stamped };
}

/**
 * A gripper's finger positions picked out of a JointState by name (drivers publish the finger
 * joints beside the arm's, franka_ros among them), or null when the message lacks one or it is
 * not finite.
 */
export function matchFingers(msg: JointStateMsg, fingers: readonly string[]): Float64Array | null {
  const names = msg.name;
  const pos = msg.position;
  if (!Array.isArray(names) || !Array.isArray(pos) || pos.length !== names.length) return null;
  const out = new Float64Array(fingers.length);
  for (let i = 0; i < fingers.length; i++) {
    const p = pos[names.indexOf(fingers[i])];
    if (typeof p !== 'number' || !Number.isFinite(p)) return null;
    out[i] = p;
  }
  return out;
}

/** The command message types a robot's command topic may have. */
export type CommandType = 'std_msgs/Float64MultiArray' | 'trajectory_msgs/JointTrajectory' | 'geometry_msgs/Twist';

/**
 * The gripper command types a ROS robot's gripper topic may have:
 * `control_msgs/GripperCommandActionGoal` — the goal topic of a GripperCommand action server
 * (ROS 1 actionlib over rosbridge, as roslib's ActionClient publishes it), e.g. franka_gripper's
 * `/franka_gripper/gripper_action/goal`: `goal.command.position` is each finger's position (m,
 * half the width), `max_effort` the grasp force (N; 0 moves without grasping);
 * `std_msgs/Float64MultiArray` — a ros_control group position controller over the finger joints:
 * one position per finger (m).
 */
export type GripperType = 'control_msgs/GripperCommandActionGoal' | 'std_msgs/Float64MultiArray';

type Shape = 'number' | 'string' | 'number[]' | 'string[]' | 'array' | 'time' | { readonly [field: string]: Shape };

/** ROS 1 time: {secs, nsecs} (either may be left out) or the string "now" (rosbridge `_to_time_inst`). */
const TIME: Shape = 'time';
const VECTOR3: Shape = { x: 'number', y: 'number', z: 'number' };
/** Field layout of each command type (ROS 1 definitions), as rosbridge converts JSON to a message. */
const SHAPES: Readonly<Record<CommandType | GripperType, Shape>> = {
  'std_msgs/Float64MultiArray': { layout: { dim: 'array', data_offset: 'number' }, data: 'number[]' },
  'control_msgs/GripperCommandActionGoal': {
    header: { seq: 'number', stamp: TIME, frame_id: 'string' },
    goal_id: { stamp: TIME, id: 'string' },
    goal: { command: { position: 'number', max_effort: 'number' } },
  },
  'trajectory_msgs/JointTrajectory': { header: { seq: 'number', stamp: TIME, frame_id: 'string' }, joint_names: 'string[]', points: 'array' },
  'geometry_msgs/Twist': { linear: VECTOR3, angular: VECTOR3 },
};

/**
 * Checks a message against its type's fields, as rosbridge does when it converts JSON to a ROS
 * message (rosbridge_library message_conversion `_to_object_inst`, ROS 1 and ROS 2 alike): a
 * field that the type lacks or a field of the wrong kind is an error (returned as a reason);
 * null when the message fits. A missing field is not an error: rosbridge keeps the field's
 * default (0, '', [], a default sub-message), so a Float64MultiArray without `layout` is
 * taken (issue 19). Numbers must be finite.
 */
export function checkMessage(type: CommandType | GripperType, msg: unknown): string | null {
  return checkShape(SHAPES[type], msg, 'msg');
}

function checkShape(shape: Shape, v: unknown, path: string): string | null {
  if (shape === 'number') return typeof v === 'number' && Number.isFinite(v) ? null : `${path} is not a finite number`;
  if (shape === 'string') return typeof v === 'string' ? null : `${path} is not a string`;
  if (shape === 'array') return Array.isArray(v) ? null : `${path} is not an array`;
  if (shape === 'number[]') return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x)) ? null : `${path} is not an array of finite numbers`;
  if (shape === 'string[]') return Array.isArray(v) && v.every((x) => typeof x === 'string') ? null : `${path} is not an array of strings`;
  if (shape === 'time') return v === 'now' ? null : checkShape({ secs: 'number', nsecs: 'number' }, v, path);
  if (!v || typeof v !== 'object' || Array.isArray(v)) return `${path} is not an object`;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(k in shape)) return `${path} has no field "${k.slice(0, 40)}" in this type`;
  for (const [k, s] of Object.entries(shape)) {
    if (!(k in o)) continue; // the field's default
    const err = checkShape(s, o[k], `${path}.${k}`);
    if (err) return err;
  }
  return null;
}
