import type { Observation } from '../spaces.js';
import type { Env, EpisodeSummary, ResetOptions, ResetResult, StepResult } from '../env.js';
import { BaseWrapper } from './wrapper.js';

/**
 * Accumulates return, length, per-constraint cost and success over each episode and attaches
 * the summary as `info.episode` on the step that ends it (Gymnasium's RecordEpisodeStatistics).
 * Finished episodes are also kept in {@link history} (bounded) for progress displays.
 */
export class EpisodeStatistics<O extends Observation = Float32Array> extends BaseWrapper<O> {
  private ret = 0;
  private length = 0;
  private success = false;
  private linkLost = 0;
  private readonly costSums: Float64Array;
  private interventions = 0;
  private hits: Record<string, number> | null = null;
  /** Human in the loop: steps in the person's control, takeovers (rising edges), seen at all. */
  private human: { steps: number; takeovers: number; engaged: boolean } | null = null;
  readonly history: EpisodeSummary[] = [];

  constructor(env: Env<O>, readonly historySize = 100) {
    super(env);
    this.costSums = new Float64Array(env.spec.constraints.length);
  }

  override async reset(options?: ResetOptions): Promise<ResetResult<O>> {
    this.ret = 0;
    this.length = 0;
    this.success = false;
    this.linkLost = 0;
    this.costSums.fill(0);
    this.interventions = 0;
    this.hits = null;
    this.human = null;
    return this.env.reset(options);
  }

  override async step(action: Float32Array): Promise<StepResult<O>> {
    const r = await this.env.step(action);
    this.ret += r.reward;
    this.length += 1;
    // The last step's, as evaluation counts it; a robot's safe stop (link lost) is no task step:
    // the episode keeps the success of the step before it.
    if (typeof r.info.linkError !== 'string') this.success = r.info.success === true;
    else this.linkLost++;
    for (let i = 0; i < this.costSums.length; i++) this.costSums[i] = (this.costSums[i] as number) + (r.costs[i] as number);
    const safety = r.info.safety;
    if (safety) {
      if (safety.intervened) this.interventions++;
      this.hits ??= {};
      for (const [k, v] of Object.entries(safety.hits)) this.hits[k] = (this.hits[k] ?? 0) + v;
    }
    const intervention = r.info.intervention;
    if (intervention) {
      this.human ??= { steps: 0, takeovers: 0, engaged: false };
      if (intervention.engaged) {
        this.human.steps++;
        if (!this.human.engaged) this.human.takeovers++;
      }
      this.human.engaged = intervention.engaged;
    }
    if (!r.terminated && !r.truncated) return r;
    const costs: Record<string, number> = {};
    this.spec.constraints.forEach((name, i) => (costs[name] = this.costSums[i] as number));
    const episode: EpisodeSummary = {
      return: this.ret,
      length: this.length,
      costs,
      success: this.success,
      terminated: r.terminated,
      truncated: r.truncated,
      ...(this.linkLost > 0 ? { linkLostSteps: this.linkLost } : {}),
      ...(this.hits ? { safety: { interventions: this.interventions, interventionRate: this.interventions / this.length, hits: { ...this.hits } } } : {}),
      ...(this.human ? { human: { steps: this.human.steps, takeovers: this.human.takeovers, rate: this.human.steps / this.length } } : {}),
    };
    this.history.push(episode);
    if (this.history.length > this.historySize) this.history.shift();
    return { ...r, info: { ...r.info, episode } };
  }
}
