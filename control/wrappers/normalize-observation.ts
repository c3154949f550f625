import type { Env, ResetOptions, ResetResult, StepResult } from '../env.js';
import { RunningMeanStd, type RunningMeanStdState } from '../running-stats.js';
import { box } from '../spaces.js';
import { Wrapper } from './wrapper.js';

/**
 * Normalises observations to zero mean, unit variance with running statistics (Welford),
 * updated with each observation before it is normalised. Call {@link freeze} for evaluation so
 * the statistics stop moving; save them with {@link getState} alongside a policy.
 */
export class NormalizeObservation extends Wrapper {
  readonly stats: RunningMeanStd;
  private frozen = false;

  constructor(env: Env, readonly epsilon = 1e-8) {
    const n = env.spec.observationSpace.low.length;
    super(env, { ...env.spec, observationSpace: box(-Infinity, Infinity, env.spec.observationSpace.shape) });
    this.stats = new RunningMeanStd(n);
  }

  freeze(frozen = true): void {
    this.frozen = frozen;
  }

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    const r = await this.env.reset(options);
    return { ...r, obs: this.apply(r.obs) };
  }

  override async step(action: Float32Array): Promise<StepResult> {
    const r = await this.env.step(action);
    return { ...r, obs: this.apply(r.obs) };
  }

  getState(): RunningMeanStdState {
    return this.stats.getState();
  }

  setState(state: RunningMeanStdState): void {
    this.stats.setState(state);
  }

  private apply(obs: Float32Array): Float32Array {
    if (!this.frozen) this.stats.update(obs);
    return this.stats.normalize(obs, this.epsilon);
  }
}
