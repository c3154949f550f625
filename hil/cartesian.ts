import type { TeleopContext, TeleopDevice, TeleopReading } from './device.js';

/**
 * A device driven in the tool frame: the inner device's first three axes are a TCP velocity
 * command (x, y, z in [−1, 1]), turned into the task's action by `toAction` (its Jacobian / IK,
 * from the registry's `tcpTeleop`) at the observation of each tick. A SpaceMouse's translation
 * axes, or three keyboard key pairs, then move the gripper where the person looks rather than
 * one joint at a time. Buttons and engagement pass through unchanged.
 */
export class CartesianTeleop implements TeleopDevice {
  readonly name: string;

  constructor(
    readonly inner: TeleopDevice,
    private readonly toAction: (obs: Float32Array, v: Float32Array) => Float32Array,
  ) {
    this.name = `${inner.name} (tcp)`;
  }

  poll(context: TeleopContext): TeleopReading {
    const r = this.inner.poll(context);
    if (!r.engaged || !r.action) return r;
    if (r.action.length < 3) return { ...r, engaged: false, action: null, error: `${this.inner.name}: a TCP command needs 3 axes, got ${r.action.length}` };
    return { ...r, action: this.toAction(context.obs, r.action.subarray(0, 3)) };
  }

  episodeStart(): void {
    this.inner.episodeStart?.();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
