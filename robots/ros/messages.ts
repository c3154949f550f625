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
