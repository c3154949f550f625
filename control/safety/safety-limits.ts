import { EnvStateError, validateAction, type Env, type ResetOptions, type ResetResult, type SafetyInfo, type StepResult } from '../env.js';
import { Wrapper } from '../wrappers/wrapper.js';
import { DEFAULT_BRAKING_DECEL, filterJointTargets, limitRate, type JointFilterReport, type JointLimits } from './joint-filter.js';
import { limitStepToWorkspace, type WorkspaceBox } from './workspace.js';

/**
 * What Tier 0 needs from an env that commands joint positions — a simulated task or a robot.
 * Actions are mapped to joint targets and back, so the limits act on what the joints will do.
 */
export interface JointPositionControl {
  readonly jointLimits: JointLimits;
  /** Joint positions behind the latest observation. */
  jointPositions(): ArrayLike<number>;
  /** Joint velocities behind the latest observation (enables braking near bounds). */
  jointVelocities?(): ArrayLike<number>;
  /** The joint targets `action` commands from positions `q`. */
  actionToTargets(action: Float32Array, q: ArrayLike<number>): Float64Array;
  /**
   * The action commanding `targets` from positions `q` (inverse of actionToTargets inside the
   * action box). `action` is the one whose targets were filtered: entries that command no joint
   * (a gripper) are taken from it, and an env whose map is not linear (end-effector actions
   * through IK) may return it unchanged when the filter left its targets alone.
   */
  targetsToAction(targets: ArrayLike<number>, q: ArrayLike<number>, action?: Float32Array): Float32Array;
  /** The action that holds the joints where they are (the safe stop). */
  holdAction(): Float32Array;
  /**
   * Control points (flat x, y, z triples, metres) of the robot at joint positions `joints` — e.g.
   * every link frame from forward kinematics — for the workspace box. Without it, no box check.
   */
  controlPoints?(joints: ArrayLike<number>): ArrayLike<number>;
}

/**
 * Defaults measured on the simulated Panda under bang-bang commands on all joints at once (the
 * worst case: the impedance-controlled arm keeps its momentum while its motors saturate at the
 * effort limits). Margin 0.02 / zone 0.2 let the shoulder overshoot its bound by 73 mrad;
 * 0.05 / 0.5 by 26 mrad; 0.05 / 0.8 by 3.4 mrad. Tune per robot; safe by default.
 */
export const DEFAULT_MARGIN = 0.05;
export const DEFAULT_SOFT_ZONE = 0.8;

/** Tier 0's joint-filter settings with their defaults filled in: what {@link SafetyLimits} filters with (and a demo label records). */
export function tier0FilterSettings(o: Pick<SafetyLimitsOptions, 'margin' | 'softZone' | 'brakingDecel'>): { margin: number; softZone: number; brakingDecel: number } {
  return { margin: o.margin ?? DEFAULT_MARGIN, softZone: o.softZone ?? DEFAULT_SOFT_ZONE, brakingDecel: o.brakingDecel ?? DEFAULT_BRAKING_DECEL };
}

export interface SafetyLimitsOptions {
  /** Keep-away margin inside the position bounds. Default {@link DEFAULT_MARGIN}. */
  readonly margin?: number;
  /** Soft-limit zone near the bounds, where the allowed speed toward a bound scales down. Default {@link DEFAULT_SOFT_ZONE}. */
  readonly softZone?: number;
  /** Braking deceleration near bounds, rad/s². Default 2 (see filterJointTargets). */
  readonly brakingDecel?: number;
  /** Largest per-step change of each action element (rate limit); off by default. */
  readonly maxActionRate?: number;
  /**
   * Workspace box every control point must stay inside (needs `controlPoints`). Steps that would
   * leave it are shortened; a robot already outside may only move back. Off by default.
   */
  readonly workspace?: WorkspaceBox;
  /** Watchdog: if no step arrives within this many ms after the last one, the hold action is sent. Off by default. */
  readonly watchdogMs?: number;
}

/**
 * Tier 0 safety, always on: every action is rate-limited, mapped to joint targets, filtered
 * against position (with margin and soft zones) and speed limits, optionally shortened to keep
 * every control point in a workspace box, and mapped back before it reaches the env. Each step reports what was proposed and what ran (`info.safety`) and
 * counts limit hits per episode. `estop()` latches a stop: from then on every step executes
 * the hold action and is truncated, until `clearEStop()`. An optional watchdog sends the
 * hold action when commands stop arriving.
 */
export class SafetyLimits extends Wrapper {
  private previous: Float32Array | null = null;
  private estopped = false;
  private watchdog: NodeJS.Timeout | null = null;
  private readonly counts: Record<string, number> = { position: 0, velocity: 0, rate: 0, workspace: 0, watchdog: 0, estop: 0, policyError: 0 };
  /** Watchdog trips since the last step (reported in that step's hits). */
  private tripsSinceStep = 0;

  constructor(
    env: Env,
    private readonly control: JointPositionControl,
    private readonly options: SafetyLimitsOptions = {},
  ) {
    super(env);
    if (env.spec.actionSpace.kind !== 'box') throw new TypeError(`SafetyLimits needs a Box action space; ${env.spec.id} has ${env.spec.actionSpace.kind}`);
  }

  /** Limit hits this episode, by kind. */
  get episodeCounts(): Readonly<Record<string, number>> {
    return { ...this.counts };
  }

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    this.disarmWatchdog();
    for (const k of Object.keys(this.counts)) this.counts[k] = 0;
    this.tripsSinceStep = 0;
    this.previous = null;
    return this.env.reset(options);
  }

  override async step(action: Float32Array): Promise<StepResult> {
    validateAction(this.spec, action);
    this.disarmWatchdog();
    const hits: Record<string, number> = { position: 0, velocity: 0, rate: 0, workspace: 0, estop: 0, watchdog: this.tripsSinceStep };
    this.tripsSinceStep = 0;
    let executed: Float32Array;
    if (this.estopped) {
      executed = this.control.holdAction();
      hits['estop'] = 1;
    } else {
      executed = Float32Array.from(action);
      if (this.options.maxActionRate !== undefined && this.previous) hits['rate'] = limitRate(executed, this.previous, this.options.maxActionRate);
      const q = this.control.jointPositions();
      const report: JointFilterReport = { positionHits: 0, velocityHits: 0 };
      const filterOptions = { dt: 1 / this.spec.controlHz, ...tier0FilterSettings(this.options) };
      let targets = filterJointTargets(this.control.actionToTargets(executed, q), q, this.control.jointLimits, filterOptions, undefined, report, this.control.jointVelocities?.());
      hits['position'] = report.positionHits;
      hits['velocity'] = report.velocityHits;
      const points = this.control.controlPoints?.bind(this.control);
      if (this.options.workspace && points) {
        const limited = limitStepToWorkspace(q, targets, this.options.workspace, points);
        targets = limited.target;
        hits['workspace'] = limited.scaled ? 1 : 0;
      }
      executed = this.control.targetsToAction(targets, q, executed);
    }
    for (const [k, v] of Object.entries(hits)) if (k !== 'watchdog') this.counts[k] = (this.counts[k] ?? 0) + v;
    this.previous = executed;
    const r = await this.env.step(executed);
    this.armWatchdog();
    let intervened = false;
    for (let i = 0; i < action.length; i++) if (Math.abs((action[i] as number) - (executed[i] as number)) > 1e-6) intervened = true;
    const safety: SafetyInfo = { proposed: Float32Array.from(action), executed, intervened, hits };
    return { ...r, truncated: r.truncated || this.estopped, info: { ...r.info, safety } };
  }

  /**
   * Runs one tick of an actor loop: asks `policy` for an action and steps with it. If the
   * policy throws, or returns a wrong-length or non-finite action, the env gets the hold
   * action instead (the watchdog's safe stop), the step reports a `policyError` hit, and
   * the error is passed to `onError` (default: stderr), so a crashing policy never leaves
   * the robot on its last command.
   */
  async act(policy: (obs: Float32Array) => Float32Array, obs: Float32Array, onError: (err: unknown) => void = (e) => void process.stderr.write(`policy failed, holding: ${(e as Error)?.message ?? String(e)}\n`)): Promise<StepResult> {
    let action: Float32Array;
    try {
      action = policy(obs);
      validateAction(this.spec, action);
    } catch (err) {
      onError(err);
      this.counts['policyError'] = (this.counts['policyError'] ?? 0) + 1;
      const hold = this.control.holdAction();
      const r = await this.step(hold);
      const safety = r.info.safety as SafetyInfo;
      return { ...r, info: { ...r.info, safety: { ...safety, intervened: true, hits: { ...safety.hits, policyError: 1 } } } };
    }
    return this.step(action);
  }

  /** Stops the robot now (hold action) and latches: later steps hold and truncate until {@link clearEStop}. */
  async estop(): Promise<void> {
    this.estopped = true;
    this.disarmWatchdog();
    this.counts['estop'] = (this.counts['estop'] ?? 0) + 1;
    await this.env.step(this.control.holdAction()).catch(() => undefined);
  }

  clearEStop(): void {
    this.estopped = false;
  }

  get estopLatched(): boolean {
    return this.estopped;
  }

  override async close(): Promise<void> {
    this.disarmWatchdog();
    await this.env.close();
  }

  private armWatchdog(): void {
    const ms = this.options.watchdogMs;
    if (ms === undefined) return;
    this.watchdog = setTimeout(() => {
      this.watchdog = null;
      this.counts['watchdog'] = (this.counts['watchdog'] ?? 0) + 1;
      this.tripsSinceStep++;
      // The robot must not keep executing a stale command: send the safe stop.
      void this.env.step(this.control.holdAction()).catch((err: unknown) => {
        if (!(err instanceof EnvStateError)) throw err;
      });
    }, ms);
    this.watchdog.unref?.();
  }

  private disarmWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
  }
}
