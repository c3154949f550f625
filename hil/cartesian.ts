import type { TeleopContext, TeleopDevice, TeleopOutcome, TeleopReading } from './device.js';

/** How a {@link CartesianTeleop} maps between the tool frame and the task's action. */
export interface CartesianMapping {
  /** The person's TCP command v ∈ [−1, 1]³ at an observation → the task's action (learner units). */
  readonly toAction: (obs: Float32Array, v: Float32Array) => Float32Array;
  /**
   * The policy's proposal (learner units) at an observation → the TCP command that asks for the
   * same displacement (the units of `v`), so the person sees it in the frame they drive in.
   * Without it the inner device sees no proposal in its frame (an empty one).
   */
  readonly fromAction?: (obs: Float32Array, action: Float32Array) => Float32Array;
  /**
   * The action's gripper entry, if it has one: the inner device's fourth axis drives it directly
   * (it has no tool-frame meaning), and the proposal's gripper is shown as that fourth axis.
   */
  readonly gripper?: number;
}

/**
 * A device driven in the tool frame: the inner device's first three axes are a TCP velocity
 * command (x, y, z in [−1, 1]), turned into the task's action by `toAction` (its Jacobian / IK,
 * from the registry's `tcpTeleop`) at the observation of each tick; a fourth axis, when the
 * action has a gripper, drives the gripper. A SpaceMouse's translation axes, or three keyboard
 * key pairs, then move the gripper where the person looks rather than one joint at a time. The
 * inner device is shown the policy's proposal in the same frame (`fromAction`: the TCP
 * displacement its joint deltas ask for, through the forward kinematics), never the raw joint
 * deltas under tool-frame labels. Buttons and engagement pass through unchanged.
 */
export class CartesianTeleop implements TeleopDevice {
  readonly name: string;
  private readonly mapping: CartesianMapping;

  constructor(
    readonly inner: TeleopDevice,
    mapping: CartesianMapping | ((obs: Float32Array, v: Float32Array) => Float32Array),
  ) {
    this.name = `${inner.name} (tcp)`;
    this.mapping = typeof mapping === 'function' ? { toAction: mapping } : mapping;
  }

  /** Axes the inner device drives: x, y, z and, with a gripper, the gripper. */
  get axes(): number {
    return this.mapping.gripper === undefined ? 3 : 4;
  }

  poll(context: TeleopContext): TeleopReading {
    // Worked out only when the inner device looks (a page does, at its state rate; keys and a
    // SpaceMouse never do): the conversion costs a few IK steps.
    let proposed: Float32Array | null = null;
    const convert = (): Float32Array => (proposed ??= this.proposalInToolFrame(context));
    const r = this.inner.poll({
      obs: context.obs,
      t: context.t,
      get proposed() {
        return convert();
      },
    });
    if (!r.engaged || !r.action) return r;
    if (r.action.length < 3) return { ...r, engaged: false, action: null, error: `${this.inner.name}: a TCP command needs 3 axes, got ${r.action.length}` };
    const action = this.mapping.toAction(context.obs, r.action.subarray(0, 3));
    const g = this.mapping.gripper;
    if (g !== undefined && r.action.length >= 4 && g < action.length) action[g] = r.action[3] as number;
    return { ...r, action };
  }

  private proposalInToolFrame(context: TeleopContext): Float32Array {
    const from = this.mapping.fromAction;
    if (!from) return new Float32Array(0);
    const v = from(context.obs, context.proposed);
    const g = this.mapping.gripper;
    if (g === undefined) return v.subarray(0, 3);
    return Float32Array.of(v[0] as number, v[1] as number, v[2] as number, context.proposed[g] ?? 0);
  }

  episodeStart(): void {
    this.inner.episodeStart?.();
  }

  stepped(outcome: TeleopOutcome): void {
    this.inner.stepped?.(outcome);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * A device with fewer axes than a tool-frame action (a SpaceMouse's three translation axes on
 * [Δx, Δy, Δz, Δyaw, gripper]): its axes drive the action's first entries, and the entries it
 * has no axis for take the policy's proposal — the person steers the hand while the policy keeps
 * the gripper (a zero there would half-open the fingers and drop what they hold). The proposal
 * the inner device sees is the policy's own action, in the frame it drives.
 */
export class ToolFrameAxes implements TeleopDevice {
  readonly name: string;

  constructor(
    readonly inner: TeleopDevice,
    /** The action's length (the env's). */
    private readonly actionDims: number,
  ) {
    this.name = inner.name;
  }

  poll(context: TeleopContext): TeleopReading {
    const r = this.inner.poll(context);
    if (!r.engaged || !r.action) return r;
    const action = new Float32Array(this.actionDims);
    for (let i = 0; i < this.actionDims; i++) action[i] = i < r.action.length ? (r.action[i] as number) : (context.proposed[i] ?? 0);
    return { ...r, action };
  }

  episodeStart(): void {
    this.inner.episodeStart?.();
  }

  stepped(outcome: TeleopOutcome): void {
    this.inner.stepped?.(outcome);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
