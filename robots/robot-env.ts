import { clipToBox, EnvStateError, validateAction, type Env, type EnvSpec, type ResetOptions, type ResetResult, type StepResult } from '../control/env.js';
import { Rng } from '../control/rng.js';
import type { RobotTask } from './task.js';

/** A joint-state reading on the client side. */
export interface MeasuredState {
  readonly q: Float64Array;
  readonly qd: Float64Array;
  /** Sensor time, epoch ms. */
  readonly stampMs: number;
  /** performance.now() when it arrived. */
  readonly receivedAt: number;
}

export interface RobotEnvOptions {
  /** A step with no fresh joint state within this many ms truncates the episode with a safe stop. Default 3 control periods. */
  readonly staleAfterMs?: number;
  /** Robots without a reset service are driven to the start pose at this joint speed, rad/s. Default 0.5. */
  readonly resetSpeed?: number;
  /** Give up moving to the start pose after this long. Default 10 s. */
  readonly resetTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

/** What a robot env counts over its life (the link's health). */
export interface LinkStats {
  statesReceived: number;
  statesDropped: number;
  commandsSent: number;
  commandsDropped: number;
  staleSteps: number;
  reconnects: number;
}

/**
 * The environment contract on a real robot, whatever the transport (ROS, serial): a step sends
 * joint targets from the action (through the task's action map) and waits for the next fresh
 * joint state; reward, costs and success come from the task definition on our side. When no
 * fresh state arrives in time (link cut, driver stalled) the robot gets the safe stop (hold
 * where it is) and the episode ends truncated with `info.linkError`; the next reset re-checks
 * the link. Each step reports the observation's sensor time and age.
 *
 * Transports implement: sending targets, and (optionally) a reset service; they call
 * {@link receive} with every valid joint state.
 */
export abstract class RobotEnv implements Env {
  readonly spec: EnvSpec;
  readonly stats: LinkStats = { statesReceived: 0, statesDropped: 0, commandsSent: 0, commandsDropped: 0, staleSteps: 0, reconnects: 0 };
  protected latest: MeasuredState | null = null;
  private waiters: { after: number; resolve: (s: MeasuredState) => void }[] = [];
  private rng = new Rng(0);
  private inEpisode = false;
  private closed = false;
  private lastObs: Float32Array | null = null;
  /** performance.now() of the last command that went out (−∞ before the first). */
  private lastSentAt = -Infinity;
  protected readonly periodMs: number;

  constructor(
    protected readonly task: RobotTask,
    protected readonly options: RobotEnvOptions = {},
  ) {
    this.spec = { ...task.spec, kind: 'real' };
    this.periodMs = 1000 / task.spec.controlHz;
  }

  /** Sends joint position targets; returns false if the link is down (the command is dropped, not queued). */
  protected abstract sendTargets(targets: Float64Array): boolean;
  /** The robot's own reset (a ROS service), or null to drive to the task's start pose. */
  protected abstract resetService(): Promise<void> | null;
  protected abstract closeTransport(): Promise<void>;
  /** Asks the robot for a joint state now, for transports that poll (Dynamixel); streaming ones need not. */
  protected requestState(): void {}

  /** Transports call this with every valid joint state. */
  protected receive(s: MeasuredState): void {
    this.stats.statesReceived++;
    this.latest = s;
    const ready = this.waiters.filter((w) => s.receivedAt > w.after);
    this.waiters = this.waiters.filter((w) => s.receivedAt <= w.after);
    for (const w of ready) w.resolve(s);
  }

  /** Transports call this for every unusable message (counted; the reason is logged). */
  protected drop(reason: string): void {
    if (this.closed) return; // replies cut off by close() are not link faults
    this.stats.statesDropped++;
    if (this.stats.statesDropped <= 10 || this.stats.statesDropped % 1000 === 0) this.options.log?.(`${this.spec.id}: dropped joint state #${this.stats.statesDropped}: ${reason}`);
  }

  /** The first joint state that arrives after time `after` (performance.now()), or null after `timeoutMs`. */
  protected waitFresh(after: number, timeoutMs: number): Promise<MeasuredState | null> {
    if (this.latest && this.latest.receivedAt > after) return Promise.resolve(this.latest);
    return new Promise((resolve) => {
      const waiter = { after, resolve: (s: MeasuredState) => (clearTimeout(timer), resolve(s)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(null);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private get staleAfterMs(): number {
    return this.options.staleAfterMs ?? 3 * this.periodMs;
  }

  async reset(options?: ResetOptions): Promise<ResetResult> {
    if (this.closed) throw new EnvStateError(`${this.spec.id}: reset() after close()`);
    if (options?.seed !== undefined) this.rng = new Rng(options.seed);
    const start = this.task.startPositions(this.rng);
    const before = performance.now();
    const service = this.resetService();
    if (service) await service;
    else await this.driveTo(start);
    // A state measured after the reset began (a robot publishes when its reset completes), or
    // after the last command that drove it to the start pose.
    if (!service) this.requestState();
    const s = await this.waitFresh(service ? before : this.lastSentAt, Math.max(this.staleAfterMs, 1000));
    if (!s) throw new Error(`${this.spec.id}: no joint state from the robot after reset (link down?)`);
    const obs = this.task.beginEpisode(this.rng, s.q, s.qd);
    this.inEpisode = true;
    this.lastObs = obs;
    return { obs, info: { obsTimestampMs: s.stampMs, obsAgeMs: Date.now() - s.stampMs } };
  }

  async step(action: Float32Array): Promise<StepResult> {
    if (!this.inEpisode) throw new EnvStateError(`${this.spec.id}: step() outside an episode (call reset() first${this.closed ? '; the env is closed' : ''})`);
    validateAction(this.spec, action);
    const a = this.spec.actionSpace.kind === 'box' ? clipToBox(Float32Array.from(action), this.spec.actionSpace) : action;
    const q = (this.latest as MeasuredState).q;
    const sentAt = performance.now();
    const sent = this.sendTargets(this.task.actionToTargets(a, q));
    if (sent) this.lastSentAt = sentAt;
    if (sent) this.stats.commandsSent++;
    else this.stats.commandsDropped++;
    const s = sent ? await this.waitFresh(sentAt, this.staleAfterMs) : null;
    if (!s) return this.linkLost(sent ? `no fresh joint state within ${this.staleAfterMs.toFixed(0)} ms` : 'link down: command not sent');
    const out = this.task.outcome(a, s.q, s.qd);
    this.lastObs = out.obs;
    if (out.terminated) this.inEpisode = false;
    return { obs: out.obs, reward: out.reward, costs: out.costs, terminated: out.terminated, truncated: false, info: { success: out.success, metrics: out.metrics, obsTimestampMs: s.stampMs, obsAgeMs: Date.now() - s.stampMs } };
  }

  /** Safe stop: hold at the last measured position (if the link takes it); end the episode truncated. */
  private async linkLost(reason: string): Promise<StepResult> {
    this.stats.staleSteps++;
    this.inEpisode = false;
    this.options.log?.(`${this.spec.id}: ${reason}; safe stop, episode truncated`);
    if (this.latest) this.sendTargets(Float64Array.from(this.latest.q));
    return {
      obs: this.lastObs ?? new Float32Array(this.spec.observationSpace.kind === 'box' ? this.spec.observationSpace.low.length : 1),
      reward: 0,
      costs: new Float32Array(this.spec.constraints.length),
      terminated: false,
      truncated: true,
      info: { linkError: reason, ...(this.latest ? { obsTimestampMs: this.latest.stampMs, obsAgeMs: Date.now() - this.latest.stampMs } : {}) },
    };
  }

  /** Drives the joints to `target` at `resetSpeed`, one command per control period. */
  private async driveTo(target: Float64Array): Promise<void> {
    const speed = this.options.resetSpeed ?? 0.5;
    const deadline = performance.now() + (this.options.resetTimeoutMs ?? 10_000);
    const step = (speed * this.periodMs) / 1000;
    for (;;) {
      // The robot's answer to our last command (any state, before the first one); a lost
      // reading is asked for again, twice, before giving up.
      let s: MeasuredState | null = null;
      for (let attempt = 0; attempt < 3 && !s; attempt++) {
        this.requestState();
        s = await this.waitFresh(this.lastSentAt, Math.max(this.staleAfterMs, 1000));
      }
      if (!s) throw new Error(`${this.spec.id}: no joint state while moving to the start pose (link down?)`);
      let err = 0;
      const next = Float64Array.from(target, (t, i) => {
        const d = t - (s.q[i] as number);
        err = Math.max(err, Math.abs(d));
        return (s.q[i] as number) + Math.max(-step, Math.min(step, d));
      });
      if (err < 0.01) return;
      if (performance.now() > deadline) throw new Error(`${this.spec.id}: start pose not reached within ${this.options.resetTimeoutMs ?? 10_000} ms (off by ${err.toFixed(3)} rad)`);
      const sentAt = performance.now();
      if (!this.sendTargets(next)) throw new Error(`${this.spec.id}: link down while moving to the start pose`);
      this.lastSentAt = sentAt;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.inEpisode = false;
    if (this.latest) this.sendTargets(Float64Array.from(this.latest.q));
    await this.closeTransport();
  }
}
