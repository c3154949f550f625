/** Buttons a teleop device may report for one tick. */
export type TeleopButton = 'success' | 'failure' | 'end-episode' | 'estop';

/**
 * Which of the buttons pressed within one tick decides it: the e-stop over everything pressed
 * with it; then failure and end-episode (a success claimed together with either is not taken:
 * a false success teaches the learner a wrong goal, a missed one only delays the reward); then
 * success.
 */
const PRECEDENCE: readonly TeleopButton[] = ['estop', 'failure', 'end-episode', 'success'];

/**
 * The buttons pressed since the last poll, kept until the poll takes them — every press of a
 * tick counts, none overwrites another (an Esc followed by Enter before the next tick is still
 * an e-stop). Devices press into it as input arrives and `take()` once per poll.
 */
export class ButtonPresses {
  private readonly pressed = new Set<TeleopButton>();

  press(button: TeleopButton): void {
    this.pressed.add(button);
  }

  /** The button that decides this tick (see the precedence above), or null; clears the presses. */
  take(): TeleopButton | null {
    const decided = PRECEDENCE.find((b) => this.pressed.has(b)) ?? null;
    this.pressed.clear();
    return decided;
  }
}

/** What a device says at one control tick. */
export interface TeleopReading {
  /** The person is in control: their action replaces the policy's. */
  readonly engaged: boolean;
  /** The person's action in the learner's units ([−1, 1] per dimension), when engaged. */
  readonly action: Float32Array | null;
  /** The button pressed since the last poll, if any (of several, the one that decides: {@link ButtonPresses}). */
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
  /**
   * What a person watching saw the last step come to (absent at an episode's first poll): its
   * reward (the env's below the intervention, before any button), the task's success, and the
   * task's numbers (`distance`, `cubeToGoal`, `tcpToCube`, `lift`; `envReward` under a learned
   * reward). Devices that judge progress read them; others ignore them.
   */
  readonly reward?: number;
  readonly success?: boolean;
  readonly metrics?: Readonly<Record<string, number>>;
}

/** What one step came to, told to the device once the step ran (a page shows the return and the outcome). */
export interface TeleopOutcome {
  /** The step's reward (after the person's success button, as the learner stores it). */
  readonly reward: number;
  /** The task's or the person's success at this step, when either says. */
  readonly success?: boolean;
  /** The episode ended: a true end (success, failure) or cut short (time limit, a button, the link). */
  readonly terminated: boolean;
  readonly truncated: boolean;
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
  /** The step polled last has run: its reward and whether it ended the episode. */
  stepped?(outcome: TeleopOutcome): void;
  /** Run-level state a checkpoint keeps (a person's spent budget): JSON-safe. */
  saveState?(): Record<string, unknown>;
  /** Takes back {@link saveState}'s state from a checkpoint (read from disk: checked). */
  restoreState?(state: unknown): void;
  close(): Promise<void>;
}

/** A reading in which the person is not in control. */
export const IDLE: TeleopReading = { engaged: false, action: null, button: null, connected: true };
