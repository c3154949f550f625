import type { Env, EnvSpec, ResetOptions, ResetResult, SpaceOf, StepResult } from '../env.js';
import { RunningMeanStd, type RunningMeanStdState } from '../running-stats.js';
import { box, stateOf, stateSpace, withState, type Observation } from '../spaces.js';
import { BaseWrapper } from './wrapper.js';

/**
 * Normalises observations to zero mean, unit variance with running statistics (Welford),
 * updated with each observation before it is normalised. Call {@link freeze} for evaluation so
 * the statistics stop moving; save them with {@link getState} alongside a policy. With camera
 * frames (a dict observation) only `state` is normalised: frames stay uint8 (the encoder scales
 * them), and per-pixel statistics would only wash out what the camera sees.
 */
export class NormalizeObservation<O extends Observation = Float32Array> extends BaseWrapper<O> {
  readonly stats: RunningMeanStd;
  private frozen = false;

  constructor(env: Env<O>, readonly epsilon = 1e-8) {
    const space = env.spec.observationSpace;
    const state = stateSpace(space);
    const free = box(-Infinity, Infinity, state.shape);
    // The same kind of space back: a Box, or the dict with an unbounded state box.
    const observationSpace = (space.kind === 'dict' ? { ...space, state: free } : free) as SpaceOf<O>;
    const spec: EnvSpec<SpaceOf<O>> = { ...env.spec, observationSpace };
    super(env, spec);
    this.stats = new RunningMeanStd(state.low.length);
  }

  freeze(frozen = true): void {
    this.frozen = frozen;
  }

  override async reset(options?: ResetOptions): Promise<ResetResult<O>> {
    const r = await this.env.reset(options);
    return { ...r, obs: this.apply(r.obs) };
  }

  override async step(action: Float32Array): Promise<StepResult<O>> {
    const r = await this.env.step(action);
    return { ...r, obs: this.apply(r.obs) };
  }

  getState(): RunningMeanStdState {
    return this.stats.getState();
  }

  setState(state: RunningMeanStdState): void {
    this.stats.setState(state);
  }

  private apply(obs: O): O {
    const state = stateOf(obs);
    if (!this.frozen) this.stats.update(state);
    return withState(obs, this.stats.normalize(state, this.epsilon));
  }
}
