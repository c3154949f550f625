import type { EnvSpec } from '../../control/env.js';
import { Rng, type RngState } from '../../control/rng.js';
import type { EpisodicPolicy } from '../evaluate.js';
import { DEFAULT_HIDDEN, type StreamConfig } from './config.js';
import { ObservationNormalizer, RewardScaler } from './normalizers.js';
import type { ObGD } from './obgd.js';
import { StreamAC } from './stream-ac.js';
import type { StreamNet } from './stream-net.js';
import { StreamQ } from './stream-q.js';
import { StreamTD } from './stream-td.js';
import type { Policy } from '../../control/policy.js';

/** A chosen action; `greedy` is false for Stream Q(λ)'s exploratory actions. */
export interface StreamAction {
  readonly action: Float32Array;
  readonly greedy: boolean;
}

/** Plain-data agent state for checkpoints (the arrays go in binary sections). */
export interface StreamAgentState {
  readonly normalizer: ReturnType<ObservationNormalizer['stats']['getState']>;
  readonly rewards: ReturnType<RewardScaler['getState']>;
  readonly rng: RngState;
}

/**
 * One stream-x agent: input features (observation normalisation, time feature), acting, reward
 * scaling and the learner update, for Stream AC(λ) or Stream Q(λ). Training loops — offline in
 * simulation or inside a robot's control tick — drive it one transition at a time.
 */
export class StreamAgent {
  readonly ac: StreamAC | null = null;
  readonly q: StreamQ | null = null;
  readonly td: StreamTD | null = null;
  private readonly normalizer: ObservationNormalizer;
  private readonly rewards: RewardScaler;
  private readonly rng: Rng;
  private readonly obsDim: number;
  private readonly horizon: number;

  /**
   * `fixedPolicy` (stream-td only) is the policy whose value is learned; it sees raw observations.
   */
  constructor(
    readonly config: StreamConfig,
    spec: EnvSpec,
    seed: number,
    private readonly fixedPolicy?: Policy,
  ) {
    this.obsDim = spec.observationSpace.low.length;
    this.horizon = spec.maxEpisodeSteps ?? 1000;
    const inputDim = this.obsDim + (config.timeFeature ? 1 : 0);
    const root = new Rng(seed);
    const netRng = root.fork();
    this.rng = root.fork();
    const common = { obsDim: inputDim, gamma: config.gamma, lambda: config.lambda, lr: config.lr, sparsity: config.sparsity };
    if (config.kind === 'stream-ac') {
      if (spec.actionSpace.kind !== 'box') throw new TypeError(`stream-ac needs a continuous (Box) action space; ${spec.id} has discrete actions (use stream-q)`);
      this.ac = new StreamAC({ ...common, actDim: spec.actionSpace.low.length, hidden: config.hidden ?? [...DEFAULT_HIDDEN['stream-ac']], kappaPolicy: config.kappaPolicy, kappaValue: config.kappaValue, entropyCoef: config.entropyCoef }, netRng);
    } else if (config.kind === 'stream-q') {
      if (spec.actionSpace.kind !== 'discrete') throw new TypeError(`stream-q needs a discrete action space; ${spec.id} has continuous actions (use stream-ac)`);
      this.q = new StreamQ({ ...common, actions: spec.actionSpace.n, hidden: config.hidden ?? [...DEFAULT_HIDDEN['stream-q']], kappa: config.kappa }, netRng);
    } else {
      if (!fixedPolicy) throw new TypeError('stream-td learns the value of a fixed policy: pass one');
      this.td = new StreamTD({ ...common, hidden: config.hidden ?? [...DEFAULT_HIDDEN['stream-td']], kappa: config.kappa }, netRng);
    }
    this.normalizer = new ObservationNormalizer(this.obsDim);
    this.rewards = new RewardScaler(config.gamma);
  }

  /** Input features of observation `obs` at episode step `t` (a fresh array); updates the normaliser unless frozen. */
  features(obs: Float32Array, t: number, update = true): Float64Array {
    const out = new Float64Array(this.obsDim + (this.config.timeFeature ? 1 : 0));
    out.set(this.config.normalizeObservations ? this.normalizer.normalize(obs, update) : obs);
    if (this.config.timeFeature) out[this.obsDim] = -0.5 + t / this.horizon;
    return out;
  }

  /** Samples an action (ε-greedy with `epsilon` for Stream Q; the fixed policy on the raw `obs` for Stream TD). */
  act(s: Float64Array, epsilon = 0, obs?: Float32Array): StreamAction {
    if (this.ac) return { action: this.ac.act(s, this.rng), greedy: true };
    if (this.td) {
      if (!obs) throw new Error('stream-td acts with its fixed policy on the raw observation: pass obs');
      return { action: (this.fixedPolicy as Policy)(obs), greedy: true };
    }
    const choice = (this.q as StreamQ).act(s, epsilon, this.rng);
    return { action: Float32Array.of(choice.action), greedy: choice.greedy };
  }

  /** Scales the reward (running return statistics) and updates the learner from one transition; returns δ. */
  learn(s: Float64Array, a: StreamAction, reward: number, sNext: Float64Array, terminatedStep: boolean, episodeEnd: boolean): number {
    const r = this.config.scaleRewards ? this.rewards.scale(reward, episodeEnd) : reward;
    // stream-x's reference zeroes the bootstrap at any episode end; by default we keep it at truncation.
    const terminated = terminatedStep || (!this.config.bootstrapTruncated && episodeEnd);
    if (this.ac) return this.ac.update(s, a.action, r, sNext, terminated, episodeEnd);
    if (this.td) return this.td.update(s, r, sNext, terminated, episodeEnd);
    return (this.q as StreamQ).update(s, a.action[0] as number, r, sNext, terminated, episodeEnd, a.greedy);
  }

  /**
   * A transition that is not learned from (a real-time runner had no time for the update):
   * the reward still enters the return statistics, and an episode end still clears the
   * traces — else the next episode's first update would carry this one's traces (measured:
   * ‖z‖₁ = 1.95 at the first update of an episode after a skipped end).
   */
  skip(reward: number, episodeEnd: boolean): void {
    if (this.config.scaleRewards) this.rewards.scale(reward, episodeEnd);
    if (episodeEnd) this.resetTraces();
  }

  /** ‖e‖₁ over every trace of this agent (0 right after an episode end). */
  traceNorm(): number {
    return this.parts().reduce((s, { opt }) => s + opt.traces.reduce((a, v) => a + Math.abs(v), 0), 0);
  }

  /** The mean-action / greedy policy with frozen normalisation (Stream TD: its fixed policy). */
  policy(): EpisodicPolicy {
    if (this.td) return { reset: () => {}, act: this.fixedPolicy as Policy };
    let t = 0;
    const rng = new Rng(0);
    return {
      reset: () => void (t = 0),
      act: (obs) => {
        const s = this.features(obs, t++, false);
        if (this.ac) return this.ac.act(s, rng, true);
        return Float32Array.of((this.q as StreamQ).act(s, 0, rng).action);
      },
    };
  }

  /** Predicted value of observation `obs` at episode step `t` (Stream TD; frozen normalisation). */
  value(obs: Float32Array, t: number): number {
    if (!this.td) throw new Error('value() is for stream-td agents');
    return this.td.value(this.features(obs, t, false));
  }

  /** Networks and their optimizers, in a fixed order (checkpoint sections). */
  parts(): { net: StreamNet; opt: ObGD }[] {
    if (this.td) return [{ net: this.td.net, opt: this.td.opt }];
    return this.ac
      ? [
          { net: this.ac.actor, opt: this.ac.policyOpt },
          { net: this.ac.critic, opt: this.ac.valueOpt },
        ]
      : [{ net: (this.q as StreamQ).net, opt: (this.q as StreamQ).opt }];
  }

  resetTraces(): void {
    this.parts().forEach(({ opt }) => opt.resetTraces());
  }

  getState(): StreamAgentState {
    return { normalizer: this.normalizer.stats.getState(), rewards: this.rewards.getState(), rng: this.rng.getState() };
  }

  setState(s: StreamAgentState): void {
    this.normalizer.stats.setState(s.normalizer);
    this.rewards.setState(s.rewards);
    this.rng.setState(s.rng);
  }
}
