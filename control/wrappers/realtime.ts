import type { Observation } from '../spaces.js';
import type { Env, ResetOptions, ResetResult, StepResult } from '../env.js';
import { FixedRateClock, type RateStats } from '../clock.js';
import { BaseWrapper } from './wrapper.js';

/**
 * Makes a simulator behave like a robot in time: `step` applies the action at once (the
 * command goes out) but resolves only at the next control tick (when a robot's next sensor
 * sample would arrive), at the spec's `controlHz` or `hz`. Lets real-time code — a learner that
 * must fit inside a tick — be exercised without hardware. Observation timestamps are filled in.
 */
export class RealtimeEnv<O extends Observation = Float32Array> extends BaseWrapper<O> {
  readonly clock: FixedRateClock;

  constructor(env: Env<O>, hz = env.spec.controlHz) {
    super(env, { ...env.spec, controlHz: hz });
    this.clock = new FixedRateClock(hz);
  }

  override async reset(options?: ResetOptions): Promise<ResetResult<O>> {
    const r = await this.env.reset(options);
    this.clock.begin();
    return r;
  }

  override async step(action: Float32Array): Promise<StepResult<O>> {
    const r = await this.env.step(action);
    await this.clock.tick();
    const stamp = performance.timeOrigin + performance.now();
    return { ...r, info: { ...r.info, obsTimestampMs: stamp, obsAgeMs: 0 } };
  }

  rateStats(): RateStats {
    return this.clock.stats();
  }
}
