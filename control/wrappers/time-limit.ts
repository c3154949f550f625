import type { Observation } from '../spaces.js';
import { EnvStateError, type Env, type ResetOptions, type ResetResult, type StepResult } from '../env.js';
import { BaseWrapper } from './wrapper.js';

/**
 * Truncates episodes after `maxSteps` steps (Gymnasium's TimeLimit). Truncation is not a
 * terminal state: learners bootstrap from the last observation.
 */
export class TimeLimit<O extends Observation = Float32Array> extends BaseWrapper<O> {
  private elapsed = 0;

  constructor(env: Env<O>, readonly maxSteps: number) {
    if (!Number.isInteger(maxSteps) || maxSteps < 1) {
      throw new RangeError(`Expected \`maxSteps\` to be a positive integer, got \`${maxSteps}\``);
    }
    super(env, { ...env.spec, maxEpisodeSteps: maxSteps });
  }

  get elapsedSteps(): number {
    return this.elapsed;
  }

  override async reset(options?: ResetOptions): Promise<ResetResult<O>> {
    this.elapsed = 0;
    return this.env.reset(options);
  }

  override async step(action: Float32Array): Promise<StepResult<O>> {
    if (this.elapsed >= this.maxSteps) throw new EnvStateError(`${this.spec.id}: step() after the time limit; call reset()`);
    const r = await this.env.step(action);
    this.elapsed += 1;
    if (this.elapsed >= this.maxSteps && !r.terminated && !r.truncated) return { ...r, truncated: true };
    return r;
  }
}
