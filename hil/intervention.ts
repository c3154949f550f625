import { validateAction, type Env, type InterventionInfo, type ResetOptions, type ResetResult, type StepResult } from '../control/env.js';
import { SafetyLimits } from '../control/safety/safety-limits.js';
import { checkpointCount, findWrapper, Wrapper, type CheckpointedWrapper } from '../control/wrappers/wrapper.js';
import type { TeleopContext, TeleopDevice, TeleopOutcome, TeleopReading } from './device.js';

export interface InterventionOptions {
  /**
   * When the device disconnects mid-episode: `hold` sends the hold action and ends the episode
   * truncated (robots: a person who was steering is gone); `policy` hands control back to the
   * policy and goes on (simulation). Default `hold`.
   */
  readonly onDisconnect?: 'hold' | 'policy';
  readonly log?: (line: string) => void;
}

/**
 * A reward wrapper whose reward for a success is fixed (a learned success classifier: 1). The
 * person's success button stores that reward; without one below, the task's own reward of the
 * step stands (a task's reward is a function of the state the person called a success).
 */
export interface DefinesSuccessReward {
  readonly successReward: number;
}

function successRewardBelow(env: Env): number | undefined {
  for (let e: Env = env; e instanceof Wrapper; e = e.env) {
    const v: unknown = (e as Partial<DefinesSuccessReward>).successReward;
    if (typeof v === 'number') return v;
  }
  return undefined;
}

/**
 * Human in the loop: each step, the device is polled with the policy's proposal; when the
 * person is engaged, their action is executed instead — through every layer below this wrapper
 * (rescaling, the shield, the Tier 0 limits), so a human command never bypasses safety. The
 * step's `info.intervention` records who acted, both actions and what was sent; the executed
 * action stays in `info.safety` as the layers below report it. Buttons: `success` ends the
 * episode as a success (terminated, with the success reward of a learned reward below —
 * {@link DefinesSuccessReward} — or the task's reward; truncated on a task that runs on past its
 * success, `spec.successEnds: false`), `failure` and `end-episode` end it truncated, `estop` latches the Tier 0
 * e-stop (which holds and ends the episode until cleared) or, without Tier 0, holds and ends
 * the episode.
 *
 * Place it outside the safety layers and the action rescaling, inside the episode statistics
 * (the order in `makeLearnerEnv`).
 */
export class Intervention extends Wrapper implements CheckpointedWrapper {
  readonly stateKey = 'intervention';
  private obs: Float32Array | null = null;
  private t = 0;
  /** What the last step came to, as the device is told it at the next poll (a person watching saw it). */
  private last: Pick<TeleopContext, 'reward' | 'success' | 'metrics'> = {};
  private disconnectedLogged = false;
  readonly stats = { steps: 0, humanSteps: 0, takeovers: 0, disconnects: 0, badReadings: 0 };
  private wasEngaged = false;
  private readonly successReward: number | undefined;

  constructor(
    env: Env,
    readonly device: TeleopDevice,
    private readonly options: InterventionOptions = {},
  ) {
    super(env);
    this.successReward = successRewardBelow(env);
  }

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    const r = await this.env.reset(options);
    this.obs = r.obs;
    this.t = 0;
    this.last = {};
    this.wasEngaged = false;
    this.device.episodeStart?.();
    return r;
  }

  override async step(action: Float32Array): Promise<StepResult> {
    validateAction(this.spec, action);
    const obs = this.obs;
    if (!obs) throw new Error(`${this.spec.id}: step() before reset()`);
    const reading = this.read(obs, action);
    let engaged = reading.engaged && reading.action !== null && reading.connected;
    if (engaged) {
      try {
        validateAction(this.spec, reading.action as Float32Array);
      } catch (err) {
        // A malformed command from a device (wrong length, NaN) is refused and counted; the policy acts.
        this.stats.badReadings++;
        if (this.stats.badReadings <= 10) this.options.log?.(`${this.spec.id}: teleop command refused: ${(err as Error).message}`);
        engaged = false;
      }
    }
    let sent = engaged ? (reading.action as Float32Array) : action;
    let endWith: 'terminated' | 'truncated' | null = null;
    let held = false;
    if (!reading.connected && this.options.onDisconnect !== 'policy') {
      sent = this.holdAction(action);
      held = true;
      endWith = 'truncated';
    }
    if (reading.button === 'estop') {
      const limits = findWrapper(this.env, SafetyLimits);
      if (limits) await limits.estop();
      else endWith = 'truncated';
      sent = this.holdAction(action);
      held = true;
    }
    // A success ends terminal where the reward below ends on success (a learned reward's 1; a task that terminates on it); a task that pays a dense reward past its success runs on to the time limit, so its success ends truncated as that limit would.
    if (reading.button === 'success') endWith = this.successReward !== undefined || this.env.spec.successEnds !== false ? 'terminated' : 'truncated';
    if (reading.button === 'failure' || reading.button === 'end-episode') endWith ??= 'truncated';
    const r = await this.env.step(sent);
    this.obs = r.obs;
    this.t++;
    this.last = { reward: r.reward, ...(r.info.success === undefined ? {} : { success: r.info.success }), ...(r.info.metrics ? { metrics: r.info.metrics } : {}) };
    this.stats.steps++;
    if (engaged) {
      this.stats.humanSteps++;
      if (!this.wasEngaged) this.stats.takeovers++;
    }
    this.wasEngaged = engaged;
    const intervention: InterventionInfo = {
      engaged,
      human: engaged ? Float32Array.from(reading.action as Float32Array) : null,
      policy: Float32Array.from(action),
      sent: Float32Array.from(sent),
      held,
      device: this.device.name,
      ...(reading.button ? { button: reading.button } : {}),
      ...(reading.connected ? {} : { deviceError: reading.error ?? `${this.device.name} disconnected` }),
    };
    const success = reading.button === 'success' ? true : reading.button === 'failure' ? false : r.info.success;
    // The person's success is stored as one: a learned reward's success value, terminal.
    const reward = reading.button === 'success' && this.successReward !== undefined ? this.successReward : r.reward;
    const terminated = r.terminated || endWith === 'terminated';
    const truncated = !r.terminated && endWith !== 'terminated' && (r.truncated || endWith === 'truncated');
    this.tell({ reward, ...(success === undefined ? {} : { success }), terminated, truncated });
    return { ...r, reward, terminated, truncated, info: { ...r.info, ...(success === undefined ? {} : { success }), intervention } };
  }

  /** Device states of a resumed checkpoint, by device name: kept for a later resume with that device. */
  private deviceStates: Record<string, unknown> = Object.create(null) as Record<string, unknown>;

  /**
   * The run's intervention counts and each device's own state (a simulated person's spent
   * budget), by device name, for a checkpoint: a resume with another device keeps the first one's.
   */
  saveState(): Record<string, unknown> {
    const devices = { ...this.deviceStates, ...(this.device.saveState ? { [this.device.name]: this.device.saveState() } : {}) };
    return { stats: { ...this.stats }, devices };
  }

  /**
   * Takes back {@link saveState}'s state from a checkpoint (read from disk: every count checked,
   * the device's state first, so a bad one changes nothing).
   */
  restoreState(state: unknown): void {
    const s = (typeof state === 'object' && state !== null ? state : {}) as Record<string, unknown>;
    const stats = s['stats'];
    if (typeof stats !== 'object' || stats === null) throw new Error(`checkpoint: expected the intervention state to hold \`stats\`, got ${JSON.stringify(state)}`);
    const counts = {} as Record<keyof Intervention['stats'], number>;
    for (const key of Object.keys(this.stats) as (keyof Intervention['stats'])[]) counts[key] = checkpointCount((stats as Record<string, unknown>)[key], `intervention count \`${key}\``);
    const devices = s['devices'] ?? {};
    if (typeof devices !== 'object' || devices === null || Array.isArray(devices)) throw new Error(`checkpoint: expected the intervention's \`devices\` to be an object, got ${JSON.stringify(devices)}`);
    const kept = Object.create(null) as Record<string, unknown>;
    for (const [name, v] of Object.entries(devices)) if (name !== this.device.name) kept[name] = v;
    const own = Object.prototype.hasOwnProperty.call(devices, this.device.name) ? (devices as Record<string, unknown>)[this.device.name] : undefined;
    if (own !== undefined) this.device.restoreState?.(own);
    Object.assign(this.stats, counts);
    this.deviceStates = kept;
  }

  /** Tells the device what the step came to; a device that throws there does not end the run. */
  private tell(outcome: TeleopOutcome): void {
    try {
      this.device.stepped?.(outcome);
    } catch (err) {
      this.options.log?.(`${this.spec.id}: teleop device ${this.device.name}: ${(err as Error).message}`);
    }
  }

  private read(obs: Float32Array, proposed: Float32Array): TeleopReading {
    let reading: TeleopReading;
    try {
      reading = this.device.poll({ obs, proposed, t: this.t, ...this.last });
    } catch (err) {
      reading = { engaged: false, action: null, button: null, connected: false, error: `${this.device.name}: ${(err as Error).message}` };
    }
    if (!reading.connected) {
      this.stats.disconnects++;
      if (!this.disconnectedLogged) this.options.log?.(`${this.spec.id}: teleop device ${reading.error ?? `${this.device.name} disconnected`}; ${this.options.onDisconnect === 'policy' ? 'the policy has control' : 'holding and ending the episode'}`);
      this.disconnectedLogged = true;
    } else this.disconnectedLogged = false;
    return reading;
  }

  /** The action that holds the robot: zero motion in the learner's units for delta-action tasks. */
  private holdAction(like: Float32Array): Float32Array {
    return new Float32Array(like.length);
  }

  override async close(): Promise<void> {
    await this.device.close();
    await this.env.close();
  }
}
