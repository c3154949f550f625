/** Buttons a teleop device may report for one tick. */
export type TeleopButton = 'success' | 'failure' | 'end-episode' | 'estop';

/** What a device says at one control tick. */
export interface TeleopReading {
  /** The person is in control: their action replaces the policy's. */
  readonly engaged: boolean;
  /** The person's action in the learner's units ([−1, 1] per dimension), when engaged. */
  readonly action: Float32Array | null;
  /** A button pressed since the last poll, if any. */
  readonly button: TeleopButton | null;
  /** False once the device is gone (unplugged, page closed); `error` says why. */
  readonly connected: boolean;
  readonly error?: string;
}

/** What the device may look at when it is polled: the policy's proposal and the robot's state. */
export interface TeleopContext {
  /** The observation the policy acted on. */
  readonly obs: Float32Array;
  /** What the policy proposes for this tick (learner units). */
  readonly proposed: Float32Array;
  /** Step within the episode (0 at the first step). */
  readonly t: number;
}

/**
 * A human input device (keyboard, gamepad, 3D mouse, web page, or a simulated human). Polled
 * once per control tick by the intervention wrapper; `poll` never blocks — it returns what the
 * device has at that moment (devices that read asynchronously keep their latest state).
 */
export interface TeleopDevice {
  readonly name: string;
  poll(context: TeleopContext): TeleopReading;
  /** A new episode began (devices with per-episode state reset it). */
  episodeStart?(): void;
  close(): Promise<void>;
}

/** A reading in which the person is not in control. */
export const IDLE: TeleopReading = { engaged: false, action: null, button: null, connected: true };
