import type { Env } from '../../control/env.js';
import { FixedRateClock } from '../../control/clock.js';
import { truncateEcho } from '../../control/log.js';
import { unwrap } from '../../control/wrappers/wrapper.js';
import type { SceneState } from '../../control/scene.js';
import { make } from '../../tasks/registry.js';
import { loadDescription } from '../../sim/descriptions.js';
import { dampedLeastSquares, pandaTcpJacobian, type PandaTask } from '../../tasks/panda.js';

/** A joint-state reading, as a robot driver publishes it. */
export interface JointStateSample {
  readonly names: readonly string[];
  readonly position: Float64Array;
  readonly velocity: Float64Array;
  /** Wall-clock time of the measurement, ms since the epoch (ROS header stamps). */
  readonly stampMs: number;
  readonly seq: number;
  /** A gripper's finger joints (names and positions, m), published beside the arm's as drivers do; absent without one. */
  readonly fingers?: { readonly names: readonly string[]; readonly position: Float64Array };
}

/** The simulated Panda's finger travel, m (each finger; 8 cm between the pads fully open), as franka_gripper's max width / 2. */
export const SIM_FINGER_TRAVEL = 0.04;

export interface SimulatedRobotOptions {
  /**
   * `realtime`: free-running like a real robot — physics follows the wall clock and a joint
   * state is measured and published at `sensorHz`, whatever the commands do; commands change
   * the targets whenever they arrive. `lockstep`: one control period per command received
   * (latency benchmarks only: it hides every timing fault). Default realtime.
   */
  readonly mode?: 'realtime' | 'lockstep';
  /** Realtime mode: joint states per second, on the robot's own clock. Default 100 (a typical ROS arm driver). */
  readonly sensorHz?: number;
  /** Robot-side command watchdog: with no command for this long, hold position. Default 500 ms. */
  readonly watchdogMs?: number;
  /**
   * The arm with its hand's fingers simulated (a gripper command moves them; joint states carry
   * them). Default false: the fingers are welded closed, as in the simulated tasks without a
   * gripper action (cheaper physics).
   */
  readonly gripper?: boolean;
}

/** How far outside a joint's range a target may be (rad) before it is refused as non-physical. */
const TARGET_MARGIN = 0.2;

/** Physics steps one free-running tick may catch up at most (a stalled process does not burst for seconds). */
const MAX_CATCH_UP_STEPS = 50;

/**
 * A simulated arm behind a robot-like interface, for the emulators (`roborl serve`): joint
 * position targets in, joint states out, a reset. The Rapier task does the physics; its reward
 * and success are not used — on a robot those are computed on the client (robots/task.ts).
 * The robot-side watchdog holds position when commands stop (as real arm controllers do).
 */
export class SimulatedRobot {
  readonly jointNames: readonly string[];
  readonly controlHz: number;
  private targets: Float64Array | null = null;
  private lastCommandAt = 0;
  private seq = 0;
  private running = false;
  /** Realtime mode: wall-clock origin of the physics clock, and physics steps done since. */
  private physicsStart = 0;
  private physicsSteps = 0;
  private readonly listeners = new Set<(s: JointStateSample) => void>();
  /** Commands applied, commands rejected, ticks where the watchdog held. */
  readonly counters = { commands: 0, rejected: 0, watchdogHolds: 0, ticks: 0, gripperCommands: 0, rejectedGripper: 0 };

  private readonly description = loadDescription('panda');

  private constructor(
    private readonly env: Env,
    private readonly arm: PandaTask,
    private readonly options: SimulatedRobotOptions,
  ) {
    this.jointNames = arm.jointNames;
    this.controlHz = env.spec.controlHz;
  }

  static async create(envId: string, options: SimulatedRobotOptions = {}): Promise<SimulatedRobot> {
    // The task's gripper action (joint deltas + gripper) is what builds the fingers into the physics; the actions themselves are not used here.
    const env = await make(envId, { timeLimit: false, ...(options.gripper ? { options: { action: { frame: 'joint', gripper: true } } } : {}) });
    const arm = unwrap(env) as Partial<PandaTask>;
    if (typeof arm.driveJoints !== 'function') throw new Error(`${envId} cannot be served as a robot: it is not a joint-position arm task (try PandaReach-v0)`);
    await env.reset({ seed: 0 });
    return new SimulatedRobot(env, arm as PandaTask, options);
  }

  get mode(): 'realtime' | 'lockstep' {
    return this.options.mode ?? 'realtime';
  }

  /** Joint states per second in realtime mode. */
  get sensorHz(): number {
    return this.options.sensorHz ?? 100;
  }

  onState(listener: (s: JointStateSample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Calls `listener` with every joint-target command the arm accepts, at arrival (what reached
   * the robot, for tests that check a command at the robot rather than at its sender).
   */
  onCommand(listener: (targets: Float64Array, at: number) => void): () => void {
    this.commandListeners.add(listener);
    return () => this.commandListeners.delete(listener);
  }

  private readonly commandListeners = new Set<(targets: Float64Array, at: number) => void>();

  /** The arm's joint limits (from the URDF). */
  get jointLimits(): { lower: ArrayLike<number>; upper: ArrayLike<number> } {
    return this.arm.jointLimits;
  }

  /**
   * Sets joint position targets (one per joint, in `jointNames` order). Bad input is rejected
   * with a reason: a wrong count, a non-finite value, or a target more than 0.2 rad outside the
   * joint's range (1e308 is not a position; an arm controller refuses it rather than drive
   * into its stops).
   */
  command(targets: ArrayLike<number>): void {
    if (targets.length !== this.jointNames.length || Array.from(targets).some((v) => !Number.isFinite(v))) {
      this.counters.rejected++;
      throw new RangeError(`expected ${this.jointNames.length} finite joint targets, got [${truncateEcho(Array.from(targets).join(', '))}]`);
    }
    const { lower, upper } = this.jointLimits;
    for (let i = 0; i < targets.length; i++) {
      const v = targets[i] as number;
      if (v < (lower[i] as number) - TARGET_MARGIN || v > (upper[i] as number) + TARGET_MARGIN) {
        this.counters.rejected++;
        throw new RangeError(`joint ${this.jointNames[i]} target ${v} rad is outside its range [${(lower[i] as number).toFixed(4)}, ${(upper[i] as number).toFixed(4)}]`);
      }
    }
    this.targets = Float64Array.from(targets);
    this.lastCommandAt = performance.now();
    this.counters.commands++;
    for (const l of this.commandListeners) l(Float64Array.from(this.targets), this.lastCommandAt);
    if (this.mode === 'lockstep') this.tick();
  }

  /**
   * A gripper command: each finger's position, m (0 closed … {@link SIM_FINGER_TRAVEL} open),
   * held until the next. Refused with a reason — and nothing moves — when it is not a finite
   * number inside the travel (franka_gripper aborts such a goal the same way: "Commanding out of
   * range position"). Returns the opening taken.
   */
  commandGripper(opening: number): number {
    if (!this.arm.fingerState().names.length) {
      this.counters.rejectedGripper++;
      throw new RangeError('this simulated arm has no gripper (serve it with --gripper)');
    }
    if (typeof opening !== 'number' || !Number.isFinite(opening) || opening < 0 || opening > SIM_FINGER_TRAVEL + 1e-9) {
      this.counters.rejectedGripper++;
      throw new RangeError(`gripper position ${truncateEcho(String(opening))} m is outside the fingers' travel [0, ${SIM_FINGER_TRAVEL}] (each finger's position, not the width)`);
    }
    this.arm.driveFingers(opening);
    this.counters.gripperCommands++;
    this.gripperTarget = opening;
    return opening;
  }

  /** The last gripper command taken (each finger's position target, m), or null before any. */
  gripperTarget: number | null = null;

  /**
   * A Cartesian velocity command (geometry_msgs/Twist: [vx, vy, vz, ωx, ωy, ωz], m/s and rad/s)
   * held for one control period, turned into joint targets by damped least squares on the TCP
   * Jacobian — what a servoing controller (MoveIt Servo) does on a real arm.
   */
  commandTwist(twist: readonly number[]): void {
    if (twist.length !== 6 || twist.some((v) => !Number.isFinite(v))) {
      this.counters.rejected++;
      throw new RangeError(`expected a finite 6-element twist, got [${twist.join(', ')}]`);
    }
    const q = this.arm.jointPositions();
    const dt = 1 / this.controlHz;
    const dq = dampedLeastSquares(pandaTcpJacobian(this.description, q), twist.map((v) => v * dt), 0.01);
    this.command(Float64Array.from(dq, (d, i) => (q[i] as number) + d));
  }

  /** The simulated scene (arm, table, the task's markers), for `roborl serve --record`. */
  scene(): SceneState {
    return this.arm.scene();
  }

  /** Moves the arm to the task's start state (the task's own random start) and clears targets. */
  async reset(seed?: number): Promise<void> {
    await this.env.reset(seed === undefined ? undefined : { seed });
    this.targets = null;
    // The task's reset closes the fingers; a gripper does not move when its arm homes.
    if (this.gripperTarget !== null) this.arm.driveFingers(this.gripperTarget);
    if (this.mode === 'lockstep') this.publish();
  }

  /**
   * Advances physics toward the targets (or holding, when none is fresh): lockstep, one control
   * period, then publishes; realtime, up to the wall clock (the run loop publishes at its own
   * sensor rate).
   */
  tick(): void {
    const q = this.arm.jointPositions();
    const watchdog = this.options.watchdogMs ?? 500;
    const fresh = this.targets && performance.now() - this.lastCommandAt <= watchdog;
    if (this.targets && !fresh) {
      this.counters.watchdogHolds++;
      this.targets = null;
    }
    let steps: number | undefined;
    if (this.mode === 'realtime') {
      const due = Math.floor((performance.now() - this.physicsStart) / (1000 * this.arm.physicsDt));
      steps = Math.min(due - this.physicsSteps, MAX_CATCH_UP_STEPS);
      // After a stall, the physics clock skips ahead rather than bursting.
      this.physicsSteps = Math.max(this.physicsSteps + steps, due - MAX_CATCH_UP_STEPS);
    }
    if (steps !== 0) this.arm.driveJoints(fresh ? (this.targets as Float64Array) : Float64Array.from(q), steps);
    this.counters.ticks++;
    if (this.mode === 'lockstep') this.publish();
  }

  state(): JointStateSample {
    const f = this.arm.fingerState();
    return { names: this.jointNames, position: Float64Array.from(this.arm.jointPositions()), velocity: Float64Array.from(this.arm.jointVelocities()), stampMs: Date.now(), seq: this.seq, ...(f.names.length ? { fingers: { names: f.names, position: f.positions } } : {}) };
  }

  /**
   * Realtime mode, until {@link stop}: the controller's loop runs at the physics rate (every
   * physics step, 250 Hz for the Panda — new targets take effect within one step, as on an arm
   * whose joint controllers run far faster than its sensor stream), and a joint state is
   * measured and published at `sensorHz`.
   */
  async run(): Promise<void> {
    if (this.mode !== 'realtime' || this.running) return;
    this.running = true;
    const clock = new FixedRateClock(1 / this.arm.physicsDt);
    const sensorPeriod = 1000 / this.sensorHz;
    clock.begin();
    this.physicsStart = performance.now();
    this.physicsSteps = 0;
    let nextPublish = this.physicsStart + sensorPeriod;
    while (this.running) {
      await clock.tick();
      if (!this.running) break;
      this.tick();
      const now = performance.now();
      if (now >= nextPublish) {
        this.publish();
        // The sensor's own schedule; after a stall it skips ahead rather than bursting.
        nextPublish = Math.max(nextPublish + sensorPeriod, now);
      }
    }
  }

  stop(): void {
    this.running = false;
  }

  async close(): Promise<void> {
    this.stop();
    await this.env.close();
  }

  private publish(): void {
    this.seq++;
    const s = this.state();
    for (const l of this.listeners) l(s);
  }
}
