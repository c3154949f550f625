import { clipToBox, EnvStateError, validateAction, type Env, type EnvSpec, type ResetOptions, type ResetResult, type StepResult } from '../control/env.js';
import { setIoTimeout, sleepUntil } from '../control/clock.js';
import { checkSeed, Rng } from '../control/rng.js';
import { percentile } from '../control/running-stats.js';
import type { SceneState } from '../control/scene.js';
import { CAMERA_DEFAULTS, type CameraConfig, type CameraFrame, type CameraStats } from './camera.js';
import type { RobotTask } from './task.js';

/** A joint-state reading on the client side. */
export interface MeasuredState {
  readonly q: Float64Array;
  readonly qd: Float64Array;
  /** Sensor time, epoch ms (the message's stamp, or the arrival time where it has none). */
  readonly stampMs: number;
  /** performance.now() when it arrived. */
  readonly receivedAt: number;
  /**
   * When it was measured, in performance.now() time: from the sensor stamp where the transport
   * has a trustworthy one (ROS headers), else the arrival time. Freshness is judged on this.
   */
  readonly measuredAt: number;
}

export interface RobotEnvOptions {
  /**
   * A step whose joint state (measured after its command) has not arrived this long after the
   * step's deadline truncates the episode with a safe stop. Default: 5× the measured p99 sensor
   * interval, at least 3 control periods and at least 250 ms (a fixed 200 ms cut episodes off
   * spontaneously on a busy machine — issue 11).
   */
  readonly staleAfterMs?: number;
  /** Robots without a reset service are driven to the start pose at this joint speed, rad/s. Default 0.5. */
  readonly resetSpeed?: number;
  /** Give up moving to the start pose after this long. Default 20 s. */
  readonly resetTimeoutMs?: number;
  /** How long a reset waits for a dropped link to come back before failing. Default 10 s. */
  readonly linkWaitMs?: number;
  /** Reset attempts (a reset interrupted by a link drop is tried again). Default 3. */
  readonly resetAttempts?: number;
  readonly log?: (line: string) => void;
}

/** What a robot env counts over its life (the link's health). */
export interface LinkStats {
  statesReceived: number;
  statesDropped: number;
  commandsSent: number;
  commandsDropped: number;
  /** Steps that found no fresh state in time: episodes cut off with a safe stop. */
  staleSteps: number;
  reconnects: number;
  /** Steps whose command went out more than half a period late (the schedule re-anchored). */
  lateCommands: number;
  resetRetries: number;
  /** Gripper commands sent, and dropped with the link down (robots whose task has a gripper). */
  gripperSent?: number;
  gripperDropped?: number;
  /** Per camera (robots with cameras): frames received, decoded, dropped, stale, superseded. */
  cameras?: Record<string, CameraStats>;
}

/** The robot does not follow its commands (wrong topic or type, controller not running, torque off). */
export class RobotNotMovingError extends Error {
  override readonly name = 'RobotNotMovingError';
}

/**
 * Refuses, at connect, a task whose action has a gripper entry on a link configured without a
 * gripper command: the entry would be dropped unseen.
 */
export function requireGripper(task: RobotTask, configured: boolean, how: string): void {
  if (task.gripper && !configured) throw new Error(`${task.spec.id}: the task's action has a gripper entry (action.gripper), but the robot config has no gripper command: ${how}`);
}

/** A joint-state fault that keeps recurring is logged again at most this often, ms. */
const REPEAT_LOG_MS = 10_000;

/** Commanded travel (rad, summed per step over the largest joint change) before a still robot is an error. */
const NOT_MOVING_TRAVEL = 0.4;
/** Largest joint displacement (rad) that still counts as "did not move". */
const NOT_MOVING_EPS = 0.005;

/**
 * The environment contract on a real robot, whatever the transport (ROS, serial). A step lasts
 * one control period: its command goes out at once, the step waits for its deadline (deadlines
 * follow a fixed schedule, tick k at t₀ + k·T, so the work between steps does not stretch the
 * period), and returns the freshest joint state measured after the command — judged by the
 * sensor stamp where the transport has one, so a state measured before the command is never
 * taken as its result, however late it arrives. Polling transports read at the deadline.
 * Reward, costs and success come from the task definition on our side. When no fresh state
 * arrives in time (link cut, driver stalled) the robot gets the safe stop (hold where it is)
 * and the episode ends truncated with `info.linkError`. Resets without a
 * reset service drive to the start pose at `resetSpeed`, one paced command per period.
 *
 * Transports implement sending targets, the optional reset service and link waiting; they call
 * {@link receive} with every valid joint state and {@link linkUp} when a dropped link returns.
 */
export abstract class RobotEnv implements Env {
  readonly spec: EnvSpec;
  readonly stats: LinkStats = { statesReceived: 0, statesDropped: 0, commandsSent: 0, commandsDropped: 0, staleSteps: 0, reconnects: 0, lateCommands: 0, resetRetries: 0 };
  protected latest: MeasuredState | null = null;
  private waiters: { after: number; resolve: (s: MeasuredState) => void }[] = [];
  private rng = new Rng(0);
  private inEpisode = false;
  private closed = false;
  private lastObs: Float32Array | null = null;
  /** Deadline (performance.now()) of the step in progress / just finished; null before the first step of an episode. */
  private deadline: number | null = null;
  /** Recent intervals between joint states, ms (the sensor period as measured). */
  private readonly intervals: number[] = [];
  private holdOnNextState = false;
  /** A reset is in progress (it supersedes a pending hold). */
  private resetting = false;
  private episodeStart: Float64Array | null = null;
  private commandedTravel = 0;
  /** performance.now() when the last reset or step returned: a longer gap before the next step than the stale limit makes it wait for fresh data first. */
  private returnedAt: number | null = null;
  protected readonly periodMs: number;

  /**
   * The scene at the latest measured joint state, when the task can draw itself (the dashboard's
   * 3D view; `roborl eval --robot … --record FILE`). Absent otherwise.
   */
  readonly scene?: () => SceneState;

  constructor(
    protected readonly task: RobotTask,
    protected readonly options: RobotEnvOptions = {},
  ) {
    this.spec = { ...task.spec, kind: 'real' };
    this.periodMs = 1000 / task.spec.controlHz;
    const draw = task.scene?.bind(task);
    if (draw) this.scene = () => draw(this.latest?.q ?? task.jointPositions());
  }

  /** Sends joint position targets; returns false if the link is down (the command is dropped, not queued). */
  protected abstract sendTargets(targets: Float64Array): boolean;
  /**
   * Sends the gripper's command: each finger's position target, m (`force`: even if it did not
   * change — after a reset or a reconnect). Returns false if the link is down (dropped, not
   * queued). Transports with a gripper override it; connect refuses a gripper task on the others
   * ({@link requireGripper}), so this default is never reached with one.
   */
  protected sendGripper(_opening: number, _force: boolean): boolean {
    return false;
  }
  /** The robot's own reset (a ROS service), or null to drive to the task's start pose. */
  protected abstract resetService(): Promise<void> | null;
  protected abstract closeTransport(): Promise<void>;
  /** Whether the link is up now. */
  abstract get connected(): boolean;

  /** The robot's cameras (configs as given; frames come at each one's width × height). None unless the transport has them. */
  get cameras(): readonly CameraConfig[] {
    return [];
  }

  /**
   * The newest frame of camera `name` — RGB bytes at its configured size, with its stamp — or
   * null before the first. A step ends in a safe stop when any camera is stale at its end, so
   * after a step that was not truncated each frame was at most its camera's maxAgeMs old then.
   * Throws for a camera the robot does not have.
   */
  cameraFrame(name: string): CameraFrame | null {
    throw new Error(`${this.spec.id}: no camera "${name}" (this robot has ${this.cameras.map((c) => c.name).join(', ') || 'none'})`);
  }

  /** Transports with cameras: why one is stale (no frame, or the newest older than its maxAgeMs), or null when all are fresh. */
  protected staleCamera(): string | null {
    return null;
  }
  /**
   * Transports that poll (Dynamixel) read the state at each step's deadline; streaming ones
   * (ROS, framed) take the freshest state that has arrived.
   */
  protected readonly polled: boolean = false;
  /** Asks the robot for a joint state now (polling transports). */
  protected requestState(): void {}

  /** Transports call this with every valid joint state. */
  protected receive(s: MeasuredState): void {
    this.stats.statesReceived++;
    if (this.latest) {
      this.intervals.push(s.receivedAt - this.latest.receivedAt);
      if (this.intervals.length > 200) this.intervals.shift();
    }
    this.latest = s;
    // Not during a reset: the reset moves the arm on purpose, and a hold landing on the robot's
    // own reset service interrupted it (issue 19: it then overran and was retried).
    if (this.holdOnNextState && !this.closed && !this.resetting) {
      // The link came back: hold where the arm is now (not where it was when the link dropped).
      this.holdOnNextState = false;
      this.sendTargets(Float64Array.from(s.q));
    }
    const ready = this.waiters.filter((w) => s.measuredAt > w.after);
    if (!ready.length) return;
    this.waiters = this.waiters.filter((w) => s.measuredAt <= w.after);
    for (const w of ready) w.resolve(s);
  }

  /** Whether a step or reset is waiting for a fresh state (a polling transport asks again when a read fails). */
  protected get awaitingState(): boolean {
    return this.waiters.length > 0;
  }

  /** Transports call this (once) when a dropped link is back: counted, and the next state gets a hold command (unless a reset is under way). */
  protected linkUp(): void {
    if (this.closed) return;
    this.stats.reconnects++;
    this.holdOnNextState = !this.resetting;
    if (this.polled) this.requestState();
  }

  /**
   * Transports call this for every unusable message or failed read (counted). Each distinct
   * reason is logged once, then at most once per {@link REPEAT_LOG_MS} with how often it
   * recurred: a servo in a persistent fault fails every read, and a line per read (~45 a
   * second) buried the one that said why (issue 19). The latest reason names the cause when a
   * step or reset finds no fresh state.
   */
  protected drop(reason: string): void {
    if (this.closed) return; // replies cut off by close() are not link faults
    this.stats.statesDropped++;
    const now = performance.now();
    this.lastDrop = { reason, at: now };
    const seen = this.dropReasons.get(reason);
    if (seen) {
      seen.repeats++;
      if (now - seen.loggedAt < REPEAT_LOG_MS) return;
      this.options.log?.(`${this.spec.id}: still dropping joint states: ${reason.slice(0, 200)} (${seen.repeats} more time(s) in the last ${((now - seen.loggedAt) / 1000).toFixed(0)} s)`);
      seen.loggedAt = now;
      seen.repeats = 0;
      return;
    }
    // Reasons that carry changing numbers must not grow the table without bound.
    if (this.dropReasons.size >= 64) this.dropReasons.clear();
    this.dropReasons.set(reason, { loggedAt: now, repeats: 0 });
    this.options.log?.(`${this.spec.id}: dropped joint state #${this.stats.statesDropped}: ${reason.slice(0, 200)}`);
  }

  private lastDrop: { reason: string; at: number } | null = null;
  private readonly dropReasons = new Map<string, { loggedAt: number; repeats: number }>();

  /** Why no fresh state came: the last failed read or bad message since `since` (performance.now()), if any. */
  private faultSince(since: number): string | null {
    return this.lastDrop && this.lastDrop.at >= since ? this.lastDrop.reason.slice(0, 300) : null;
  }

  /** The first joint state measured after `after` (performance.now()), or null after `timeoutMs`. */
  protected waitFresh(after: number, timeoutMs: number): Promise<MeasuredState | null> {
    if (this.latest && this.latest.measuredAt > after) return Promise.resolve(this.latest);
    return new Promise((resolve) => {
      const waiter = { after, resolve: (s: MeasuredState) => (clearTimeout(timer), resolve(s)) };
      const timer = setIoTimeout(
        () => {
          if (!this.waiters.includes(waiter)) return;
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(null);
        },
        Math.max(0, timeoutMs),
      );
      this.waiters.push(waiter);
    });
  }

  /** The sensor interval as measured: p50 and p99 over the last 200 states, ms (NaN before 20 states). */
  sensorInterval(): { p50: number; p99: number } {
    if (this.intervals.length < 20) return { p50: Number.NaN, p99: Number.NaN };
    return { p50: percentile(this.intervals, 0.5), p99: percentile(this.intervals, 0.99) };
  }

  /** The stale limit in force: the configured one, or a multiple of the measured sensor period. */
  get staleAfterMs(): number {
    if (this.options.staleAfterMs !== undefined) return this.options.staleAfterMs;
    const { p99 } = this.sensorInterval();
    return Math.max(250, 3 * this.periodMs, Number.isFinite(p99) ? 5 * p99 : 0);
  }

  /** Waits up to `timeoutMs` for the link to be up; false if it is not. */
  protected async waitConnected(timeoutMs: number): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    while (!this.connected) {
      if (this.closed || performance.now() > end) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  async reset(options?: ResetOptions): Promise<ResetResult> {
    if (this.closed) throw new EnvStateError(`${this.spec.id}: reset() after close()`);
    if (options?.seed !== undefined) this.rng = new Rng(checkSeed(options.seed, `${this.spec.id} reset seed`));
    const start = this.task.startPositions(this.rng);
    const attempts = this.options.resetAttempts ?? 3;
    const linkWait = this.options.linkWaitMs ?? 10_000;
    this.resetting = true;
    // The reset takes the arm somewhere safe itself: a hold still pending from a link drop is void.
    this.holdOnNextState = false;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          if (!(await this.waitConnected(linkWait))) throw new Error(`${this.spec.id}: link down for ${linkWait} ms`);
          return await this.resetOnce(start);
        } catch (err) {
          if (this.closed || attempt >= attempts) {
            this.holdOnNextState = true; // failed: whenever the link delivers again, hold there
            throw err;
          }
          this.stats.resetRetries++;
          this.options.log?.(`${this.spec.id}: reset failed (${(err as Error).message}); waiting for the link and trying again (${attempt}/${attempts - 1})`);
        }
      }
    } finally {
      this.resetting = false;
    }
  }

  private async resetOnce(start: Float64Array): Promise<ResetResult> {
    const service = this.resetService();
    if (service) await service;
    else await this.driveTo(start);
    // A state measured after the reset completed: a free-running robot publishes during its
    // reset too, and a state from before the reset is not the episode's start.
    const done = performance.now();
    if (this.polled) this.requestState();
    const s = await this.waitFresh(done, Math.max(this.staleAfterMs, 1000));
    if (!s) throw new Error(`${this.spec.id}: no joint state from the robot after reset (${this.faultSince(done) ?? 'link down?'})`);
    // A frame from after the reset too, waited for as the state is: a caller that paused (a
    // learner update in this process) leaves a backlog of frames that are dropped as too old
    // while it drains, and one look found the camera stale (review finding 2).
    const blind = await this.waitCamerasFresh(done, Math.max(this.staleAfterMs, 1000));
    if (blind) throw new Error(`${this.spec.id}: after reset: ${blind}`);
    // The fingers start where the simulated task starts them (open): nothing is held from the last episode.
    if (this.task.gripper) this.gripperCommand((this.heldGrip = this.task.gripper.start), true);
    const obs = this.task.beginEpisode(this.rng, s.q, s.qd);
    this.inEpisode = true;
    this.lastObs = obs;
    this.deadline = null;
    this.episodeStart = Float64Array.from(s.q);
    this.commandedTravel = 0;
    this.returnedAt = performance.now();
    return { obs, info: { obsTimestampMs: s.stampMs, obsAgeMs: Date.now() - s.stampMs } };
  }

  async step(action: Float32Array): Promise<StepResult> {
    if (this.closed) throw new EnvStateError(`${this.spec.id}: step() after close()`);
    if (!this.inEpisode) throw new EnvStateError(`${this.spec.id}: step() outside an episode (call reset() first)`);
    validateAction(this.spec, action);
    const a = this.spec.actionSpace.kind === 'box' ? clipToBox(Float32Array.from(action), this.spec.actionSpace) : action;
    const fault = await this.catchUp();
    if (fault) return this.linkLost(fault);
    const q = (this.latest as MeasuredState).q;
    const targets = this.task.actionToTargets(a, q);
    const sentAt = performance.now();
    const sent = this.sendTargets(targets);
    const deadline = this.schedule(sentAt);
    if (sent) this.stats.commandsSent++;
    else this.stats.commandsDropped++;
    if (!sent) return this.linkLost('link down: command not sent');
    const grip = this.task.gripper?.opening(a);
    if (grip !== undefined) this.gripperCommand(grip, false);
    const s = await this.stateAtDeadline(sentAt, deadline, this.staleAfterMs);
    if (!s) {
      const stale = `no fresh joint state (measured after the command) within ${this.staleAfterMs.toFixed(0)} ms of the step's deadline`;
      const fault = this.faultSince(sentAt);
      return this.linkLost(fault ? `${fault} (${stale})` : stale);
    }
    // A policy that sees through a camera is blind when the camera stops: as stale as a joint state.
    const blind = this.staleCamera();
    if (blind) return this.linkLost(blind);
    this.checkMoving(targets, q, s.q);
    if (grip !== undefined) this.heldGrip = grip;
    const out = this.task.outcome(a, s.q, s.qd);
    this.lastObs = out.obs;
    if (out.terminated) this.inEpisode = false;
    this.returnedAt = performance.now();
    return { obs: out.obs, reward: out.reward, costs: out.costs, terminated: out.terminated, truncated: false, info: { success: out.success, metrics: out.metrics, obsTimestampMs: s.stampMs, obsAgeMs: Date.now() - s.stampMs } };
  }

  /**
   * The stale limit a gap between steps is measured against: the joint states' and every
   * camera's (the shortest).
   */
  private get gapLimitMs(): number {
    return Math.min(this.staleAfterMs, ...this.cameras.map((c) => c.maxAgeMs ?? CAMERA_DEFAULTS.maxAgeMs));
  }

  /**
   * A step that starts longer than the stale limit after the last reset or step returned (the
   * caller paused: a learner update in the robot's process reads no socket meanwhile) first waits,
   * bounded as a reset does, for a joint state and a frame per camera measured after it started:
   * the arm held its last target meanwhile, and the step measures from where it is now, not from
   * a state or frame that went stale while nobody read them. Null when caught up (or no gap); else
   * why not (the step is then a safe stop, as any step without fresh data).
   */
  private async catchUp(): Promise<string | null> {
    if (this.returnedAt === null || performance.now() - this.returnedAt <= this.gapLimitMs) return null;
    const from = performance.now();
    const bound = Math.max(this.staleAfterMs, 1000);
    if (this.polled) this.requestState();
    const s = await this.waitFresh(from, bound);
    if (!s) return `no fresh joint state within ${bound} ms after a ${(from - this.returnedAt).toFixed(0)} ms pause between steps (${this.faultSince(from) ?? 'link down?'})`;
    // The schedule starts afresh: the pause is the caller's, not a late command.
    this.deadline = null;
    return this.waitCamerasFresh(from, bound - (performance.now() - from));
  }

  /**
   * Waits up to `timeoutMs` until every camera has a frame measured after `after` (performance.now())
   * and none is stale; null then, else why not (the stale camera, or the one with no newer frame).
   * Polls every 10 ms: the frames come in on the socket handlers meanwhile.
   */
  private async waitCamerasFresh(after: number, timeoutMs: number): Promise<string | null> {
    const end = performance.now() + Math.max(0, timeoutMs);
    for (;;) {
      const old = this.cameras.find((c) => (this.cameraFrame(c.name)?.measuredAt ?? -Infinity) <= after);
      const stale = this.staleCamera();
      if (!old && !stale) return null;
      if (this.closed || performance.now() >= end) return stale ?? `camera ${(old as CameraConfig).name}: no frame measured after ${(performance.now() - after).toFixed(0)} ms of waiting`;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Waits for `deadline`, then returns the freshest state measured after the command sent at
   * `sentAt` (polled transports: the read sent at the deadline), or null if none arrives within
   * `graceMs` past the deadline. Not the first state after the deadline: waiting for it would
   * shift each next command by up to a sensor period (measured with a 60 Hz sensor: command
   * periods of 33–50 ms at 25 Hz). With a slow sensor the state is up to one sensor period old,
   * as on the robot it is.
   */
  private async stateAtDeadline(sentAt: number, deadline: number, graceMs: number): Promise<MeasuredState | null> {
    await sleepUntil(deadline);
    if (this.polled) this.requestState();
    return this.waitFresh(this.polled ? deadline : sentAt, deadline + graceMs - performance.now());
  }

  /**
   * The deadline of the step whose command went out at `sentAt`: one period after the previous
   * deadline, so the period holds whatever the caller does between steps. A command sent more
   * than half a period after its slot (a slow policy) re-anchors the schedule: it still gets a
   * whole period, and the late step is counted.
   */
  private schedule(sentAt: number): number {
    let next = this.deadline === null ? sentAt + this.periodMs : this.deadline + this.periodMs;
    if (this.deadline !== null && sentAt > this.deadline + this.periodMs / 2) {
      this.stats.lateCommands++;
      next = sentAt + this.periodMs;
    }
    this.deadline = next;
    return next;
  }

  /**
   * A robot that does not move while commanded to (commands that never arrive: a wrong topic
   * type that rosbridge refuses silently, a controller not running, torque off) is an error,
   * not an episode of numbers.
   */
  private checkMoving(targets: Float64Array, qBefore: Float64Array, qAfter: Float64Array): void {
    const start = this.episodeStart as Float64Array;
    let asked = 0;
    let moved = 0;
    for (let i = 0; i < targets.length; i++) {
      asked = Math.max(asked, Math.abs((targets[i] as number) - (qBefore[i] as number)));
      moved = Math.max(moved, Math.abs((qAfter[i] as number) - (start[i] as number)));
    }
    this.commandedTravel += asked;
    if (moved > NOT_MOVING_EPS) this.commandedTravel = -Infinity; // it moves: stop checking this episode
    if (this.commandedTravel < NOT_MOVING_TRAVEL) return;
    this.inEpisode = false;
    this.sendTargets(Float64Array.from(qAfter));
    throw new RobotNotMovingError(
      `${this.spec.id}: the robot did not move (≤ ${NOT_MOVING_EPS} rad) while commanded ${this.commandedTravel.toFixed(2)} rad: its commands do not arrive or are not executed (check the command topic and type, the controller, torque)`,
    );
  }

  /** The gripper target of the last step that ended with a fresh state (a safe stop goes back to it). */
  private heldGrip: number | null = null;

  private gripperCommand(opening: number, force: boolean): void {
    if (this.sendGripper(opening, force)) this.stats.gripperSent = (this.stats.gripperSent ?? 0) + 1;
    else this.stats.gripperDropped = (this.stats.gripperDropped ?? 0) + 1;
  }

  /**
   * Safe stop: hold at the last measured position (if the link takes it); end the episode
   * truncated. The gripper keeps its last command: a held object stays held.
   */
  private linkLost(reason: string): StepResult {
    this.stats.staleSteps++;
    this.returnedAt = performance.now();
    this.inEpisode = false;
    this.options.log?.(`${this.spec.id}: ${reason}; safe stop, episode truncated`);
    if (this.latest) this.sendTargets(Float64Array.from(this.latest.q));
    // The step's gripper command went out before the state was found stale: the fingers go back
    // to what they held (a grasped object stays grasped; the step that opened them never counted).
    if (this.heldGrip !== null) this.gripperCommand(this.heldGrip, false);
    // Whenever the link delivers again, hold there.
    this.holdOnNextState = true;
    return {
      obs: this.lastObs ?? new Float32Array(this.spec.observationSpace.kind === 'box' ? this.spec.observationSpace.low.length : 1),
      reward: 0,
      costs: new Float32Array(this.spec.constraints.length),
      terminated: false,
      truncated: true,
      info: { linkError: reason, ...(this.latest ? { obsTimestampMs: this.latest.stampMs, obsAgeMs: Date.now() - this.latest.stampMs } : {}) },
    };
  }

  /**
   * Drives the joints to `target` along a straight joint-space line at `resetSpeed` (the
   * fastest joint moves at that speed), one command per control period on a fixed schedule,
   * then waits for the arm to settle there.
   */
  private async driveTo(target: Float64Array): Promise<void> {
    const speed = this.options.resetSpeed ?? 0.5;
    const timeout = this.options.resetTimeoutMs ?? 20_000;
    const end = performance.now() + timeout;
    if (this.polled) this.requestState();
    const asked = performance.now();
    const s0 = await this.waitFresh(-Infinity, Math.max(this.staleAfterMs, 1000));
    if (!s0) throw new Error(`${this.spec.id}: no joint state while moving to the start pose (${this.faultSince(asked) ?? 'link down?'})`);
    const from = Float64Array.from(s0.q);
    const distance = Math.max(...Array.from(target, (t, i) => Math.abs(t - (from[i] as number))));
    const steps = Math.ceil(distance / ((speed * this.periodMs) / 1000));
    let deadline = performance.now();
    for (let k = 1; k <= steps; k++) {
      const f = k / steps;
      if (!this.sendTargets(Float64Array.from(target, (t, i) => (from[i] as number) + f * (t - (from[i] as number))))) throw new Error(`${this.spec.id}: link down while moving to the start pose`);
      deadline += this.periodMs;
      await sleepUntil(deadline);
      if (this.closed) throw new EnvStateError(`${this.spec.id}: closed while moving to the start pose`);
    }
    // Settle: the arm lags its targets; wait until the measured position is there.
    for (;;) {
      const sentAt = performance.now();
      if (!this.sendTargets(Float64Array.from(target))) throw new Error(`${this.spec.id}: link down while moving to the start pose`);
      deadline = sentAt + this.periodMs;
      const s = await this.stateAtDeadline(sentAt, deadline, Math.max(this.staleAfterMs, 1000));
      if (!s) throw new Error(`${this.spec.id}: no joint state while moving to the start pose (${this.faultSince(sentAt) ?? 'link down?'})`);
      const err = Math.max(...Array.from(target, (t, i) => Math.abs(t - (s.q[i] as number))));
      if (err < 0.01) return;
      if (performance.now() > end) throw new Error(`${this.spec.id}: start pose not reached within ${timeout} ms (off by ${err.toFixed(3)} rad)`);
    }
  }

  /** Sends the hold command (stay at the last measured position) if the link is up; true if sent. */
  hold(): boolean {
    return this.latest !== null && this.sendTargets(Float64Array.from(this.latest.q));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.inEpisode = false;
    this.hold();
    await this.closeTransport();
  }
}
