import type { ResetOptions, ResetResult, StepResult } from '../control/env.js';
import { percentile } from '../control/running-stats.js';
import { Wrapper } from '../control/wrappers/wrapper.js';

/**
 * The step periods a robot's actor sees (from a reset's or a step's return to the next step's
 * return, within an episode, as `bench bridges` measures them), and the person's e-stop. Outermost on the actor's env: what it measures includes the actor's own work between
 * steps, which the robot env's fixed schedule must absorb (issue 22: an update never delays a
 * robot step).
 */
export class RobotPacing extends Wrapper {
  private last: number | null = null;
  private periods: number[] = [];
  /** Steps on which the person pressed the e-stop. */
  estops = 0;

  constructor(
    env: ConstructorParameters<typeof Wrapper>[0],
    private readonly onEstop?: () => void,
  ) {
    super(env);
  }

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    const r = await this.env.reset(options);
    this.last = performance.now();
    return r;
  }

  override async step(action: Float32Array): Promise<StepResult> {
    const r = await this.env.step(action);
    const now = performance.now();
    if (this.last !== null) this.periods.push(now - this.last);
    this.last = r.terminated || r.truncated ? null : now;
    if (r.info.intervention?.button === 'estop') {
      this.estops++;
      this.onEstop?.();
    }
    return r;
  }

  /** The periods measured since the last call (ms), and forgets them. */
  take(): Float64Array {
    const out = Float64Array.from(this.periods);
    this.periods = [];
    return out;
  }
}

/** Step periods of a whole robot run, as the run reports them. */
export interface PacingSummary {
  readonly steps: number;
  readonly controlPeriodMs: number;
  readonly stepPeriodP50Ms: number;
  readonly stepPeriodP99Ms: number;
  readonly stepPeriodMaxMs: number;
}

/** Collects step periods (at most `cap` of them: the newest kept) and summarises them. */
export class PacingLog {
  private readonly periods: number[] = [];
  private count = 0;

  constructor(
    readonly controlPeriodMs: number,
    private readonly cap = 1_000_000,
  ) {}

  add(periods: ArrayLike<number>): void {
    for (let i = 0; i < periods.length; i++) {
      const p = periods[i] as number;
      if (!Number.isFinite(p) || p < 0) continue;
      this.periods.push(p);
      this.count++;
    }
    if (this.periods.length > this.cap) this.periods.splice(0, this.periods.length - this.cap);
  }

  summary(): PacingSummary {
    const xs = this.periods;
    return { steps: this.count, controlPeriodMs: this.controlPeriodMs, stepPeriodP50Ms: xs.length ? percentile(xs, 0.5) : Number.NaN, stepPeriodP99Ms: xs.length ? percentile(xs, 0.99) : Number.NaN, stepPeriodMaxMs: xs.length ? Math.max(...xs.slice(-100_000)) : Number.NaN };
  }
}
