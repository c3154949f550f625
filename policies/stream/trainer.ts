import type { Env, EpisodeSummary } from '../../control/env.js';
import { Rng, type RngState } from '../../control/rng.js';
import { loadLatestCheckpoint, saveCheckpoint } from '../checkpoint.js';
import type { MetricsLog } from '../metrics-log.js';
import type { StreamConfig } from './config.js';
import { ObservationNormalizer, RewardScaler } from './normalizers.js';
import { StreamAC } from './stream-ac.js';
import { linearEpsilon, StreamQ } from './stream-q.js';
import { evaluatePolicy, type EpisodicPolicy, type EvalResult } from '../evaluate.js';
import type { TrainerProgress, TrainerSchedule } from '../sac/trainer.js';
import type { StreamNet } from './stream-net.js';
import type { ObGD } from './obgd.js';

export interface StreamTrainerOptions {
  /** Training env: Box actions in [−1, 1] (stream-ac) or Discrete (stream-q); EpisodeStatistics outermost. */
  readonly env: Env;
  readonly evalEnv: Env;
  readonly config: StreamConfig;
  readonly schedule: TrainerSchedule;
  readonly seed: number;
  readonly checkpointDir: string;
  readonly metrics: MetricsLog;
  readonly onStep?: (p: TrainerProgress) => void;
  readonly log?: (line: string) => void;
}

/**
 * Streaming training (stream-x): one transition at a time, batch size 1, no replay, no target
 * networks. Each env step: normalise the observation (statistics updated with it first), append
 * the time feature, act, step the env, scale the reward, and update the learner with ObGD.
 * Per-update wall time is recorded so the cost against a control-tick budget is visible.
 */
export class StreamTrainer {
  private readonly ac: StreamAC | null;
  private readonly q: StreamQ | null;
  private readonly normalizer: ObservationNormalizer;
  private readonly rewards: RewardScaler;
  private readonly rng: Rng;
  private readonly obsDim: number;
  private readonly horizon: number;
  private envSteps = 0;
  private episodes = 0;
  private lastReturn: number | null = null;
  private stopping = false;
  /** Wall time of recent updates, µs (reset at each log line). */
  private updateUs: number[] = [];

  constructor(private readonly o: StreamTrainerOptions) {
    const spec = o.env.spec;
    this.obsDim = spec.observationSpace.low.length;
    this.horizon = spec.maxEpisodeSteps ?? 1000;
    const inputDim = this.obsDim + (o.config.timeFeature ? 1 : 0);
    const root = new Rng(o.seed);
    const netRng = root.fork();
    this.rng = root.fork();
    const c = o.config;
    if (c.kind === 'stream-ac') {
      if (spec.actionSpace.kind !== 'box') throw new TypeError(`stream-ac needs a continuous (Box) action space; ${spec.id} has discrete actions (use stream-q)`);
      this.ac = new StreamAC({ obsDim: inputDim, actDim: spec.actionSpace.low.length, hidden: c.hidden ?? [128, 128], gamma: c.gamma, lambda: c.lambda, lr: c.lr, kappaPolicy: c.kappaPolicy, kappaValue: c.kappaValue, entropyCoef: c.entropyCoef, sparsity: c.sparsity }, netRng);
      this.q = null;
    } else {
      if (spec.actionSpace.kind !== 'discrete') throw new TypeError(`stream-q needs a discrete action space; ${spec.id} has continuous actions (use stream-ac)`);
      this.q = new StreamQ({ obsDim: inputDim, actions: spec.actionSpace.n, hidden: c.hidden ?? [32, 32], gamma: c.gamma, lambda: c.lambda, lr: c.lr, kappa: c.kappa, sparsity: c.sparsity }, netRng);
      this.ac = null;
    }
    this.normalizer = new ObservationNormalizer(this.obsDim);
    this.rewards = new RewardScaler(o.config.gamma);
  }

  get step(): number {
    return this.envSteps;
  }

  requestStop(): void {
    this.stopping = true;
  }

  /** Normalised observation plus time feature (a fresh array). */
  private features(obs: Float32Array, t: number, update: boolean): Float64Array {
    const out = new Float64Array(this.obsDim + (this.o.config.timeFeature ? 1 : 0));
    out.set(this.o.config.normalizeObservations ? this.normalizer.normalize(obs, update) : obs);
    if (this.o.config.timeFeature) out[this.obsDim] = -0.5 + t / this.horizon;
    return out;
  }

  private epsilon(): number {
    const c = this.o.config;
    return c.kind === 'stream-q' ? linearEpsilon(this.envSteps, this.o.schedule.steps, c.explorationFraction, c.epsilonStart, c.epsilonEnd) : 0;
  }

  async run(): Promise<EvalResult> {
    const { env, schedule } = this.o;
    let t = 0;
    let s: Float64Array = new Float64Array(0);
    // Episodes start lazily at the top of a step, so a checkpoint taken after an episode end
    // precedes the next reset (whose observation updates the normaliser) and resumes exactly.
    let needsReset = true;
    let [stepsAtLog, timeAtLog] = [this.envSteps, performance.now()];
    let envStepsPerSec = 0;
    while (this.envSteps < schedule.steps && !this.stopping) {
      if (needsReset) {
        t = 0;
        s = this.features((await env.reset({ seed: this.episodeSeed() })).obs, t, true);
        needsReset = false;
      }
      let action: Float32Array;
      let greedy = true;
      if (this.ac) action = this.ac.act(s, this.rng);
      else {
        const choice = (this.q as StreamQ).act(s, this.epsilon(), this.rng);
        action = Float32Array.of(choice.action);
        greedy = choice.greedy;
      }
      const r = await env.step(action);
      const done = r.terminated || r.truncated;
      t++;
      const sNext = this.features(r.obs, t, true);
      const reward = this.o.config.scaleRewards ? this.rewards.scale(r.reward, done) : r.reward;
      const t0 = process.hrtime.bigint();
      if (this.ac) this.ac.update(s, action, reward, sNext, r.terminated, done);
      else (this.q as StreamQ).update(s, action[0] as number, reward, sNext, r.terminated, done, greedy);
      this.updateUs.push(Number(process.hrtime.bigint() - t0) / 1000);
      this.envSteps++;
      s = sNext;
      if (done) {
        this.episodes++;
        if (r.info.episode) this.logEpisode(r.info.episode);
        needsReset = true;
      }
      if (this.envSteps % schedule.logEvery === 0) {
        const now = performance.now();
        envStepsPerSec = ((this.envSteps - stepsAtLog) * 1000) / (now - timeAtLog);
        [stepsAtLog, timeAtLog] = [this.envSteps, now];
        const sorted = this.updateUs.sort((a, b) => a - b);
        this.o.metrics.write({ type: 'train', step: this.envSteps, envStepsPerSec, updateUsP50: sorted[Math.floor(sorted.length / 2)] ?? 0, updateUsP99: sorted[Math.floor(sorted.length * 0.99)] ?? 0, epsilon: this.epsilon() });
        this.updateUs = [];
      }
      if (schedule.evalEvery > 0 && this.envSteps % schedule.evalEvery === 0 && this.envSteps < schedule.steps) await this.evaluateAndLog();
      if (this.envSteps % schedule.checkpointEvery === 0) this.checkpoint();
      this.o.onStep?.({ step: this.envSteps, episodes: this.episodes, updates: this.envSteps, lastReturn: this.lastReturn, updatesPerSec: envStepsPerSec, envStepsPerSec });
    }
    if (this.stopping) {
      this.o.log?.(`stopping at step ${this.envSteps}: ${this.checkpoint()}`);
      return this.evaluate();
    }
    const final = await this.evaluateAndLog();
    if (this.envSteps % schedule.checkpointEvery !== 0) this.checkpoint();
    return final;
  }

  /** The greedy / mean-action policy with frozen normalisation, as an episodic policy. */
  policy(): EpisodicPolicy {
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

  async evaluate(episodes = this.o.schedule.evalEpisodes): Promise<EvalResult> {
    return evaluatePolicy(this.o.evalEnv, this.policy(), episodes, 1_000_000 + this.o.seed * 1000);
  }

  private async evaluateAndLog(): Promise<EvalResult> {
    const e = await this.evaluate();
    this.o.metrics.write({ type: 'eval', step: this.envSteps, returnMean: e.returnMean, returnStd: e.returnStd, successRate: e.successRate, lengthMean: e.lengthMean });
    this.o.log?.(`eval @${this.envSteps}: return ${e.returnMean.toFixed(2)} ± ${e.returnStd.toFixed(2)}, success ${(100 * e.successRate).toFixed(0)}%`);
    return e;
  }

  private logEpisode(ep: EpisodeSummary): void {
    this.lastReturn = ep.return;
    this.o.metrics.write({ type: 'episode', step: this.envSteps, episode: this.episodes, return: ep.return, length: ep.length, success: ep.success, costs: ep.costs });
  }

  private episodeSeed(): number {
    return this.o.seed * 1_000_000 + this.episodes;
  }

  /** Networks and traces, in a fixed order. */
  private parts(): { net: StreamNet; opt: ObGD }[] {
    return this.ac
      ? [
          { net: this.ac.actor, opt: this.ac.policyOpt },
          { net: this.ac.critic, opt: this.ac.valueOpt },
        ]
      : [{ net: (this.q as StreamQ).net, opt: (this.q as StreamQ).opt }];
  }

  checkpoint(): string {
    const sections = this.parts().flatMap(({ net, opt }) => [net.params, opt.traces]);
    return saveCheckpoint(
      this.o.checkpointDir,
      this.envSteps,
      { kind: this.o.config.kind, sizes: sections.map((a) => a.length), normalizer: this.normalizer.stats.getState(), rewards: this.rewards.getState(), rng: this.rng.getState(), episodes: this.episodes },
      sections,
    );
  }

  /**
   * Loads the newest checkpoint (parameters, traces, normaliser and reward statistics, RNG,
   * counters). `truncateMetrics: false` leaves metrics.jsonl alone (evaluation of a finished run).
   */
  resume({ truncateMetrics = true } = {}): number | null {
    const ckpt = loadLatestCheckpoint(this.o.checkpointDir, (m) => this.o.log?.(m));
    if (!ckpt) return null;
    const h = ckpt.header;
    const targets = this.parts().flatMap(({ net, opt }) => [net.params, opt.traces]);
    if (h['kind'] !== this.o.config.kind || ckpt.sections.length !== targets.length) throw new Error(`${ckpt.path} holds a ${String(h['kind'])} learner, not ${this.o.config.kind}`);
    ckpt.sections.forEach((bytes, i) => {
      const values = new Float64Array(bytes.slice().buffer);
      const target = targets[i] as Float64Array;
      if (values.length !== target.length) throw new Error(`${ckpt.path}: section ${i} has ${values.length} values, expected ${target.length} (different network config)`);
      target.set(values);
    });
    this.normalizer.stats.setState(h['normalizer'] as Parameters<ObservationNormalizer['stats']['setState']>[0]);
    this.rewards.setState(h['rewards'] as Parameters<RewardScaler['setState']>[0]);
    this.rng.setState(h['rng'] as RngState);
    this.envSteps = ckpt.step;
    this.episodes = h['episodes'] as number;
    // The episode in progress at the checkpoint is restarted: its traces no longer apply.
    this.parts().forEach(({ opt }) => opt.resetTraces());
    const dropped = truncateMetrics ? this.o.metrics.truncateAfter(ckpt.step) : 0;
    this.o.log?.(`resumed from ${ckpt.path} at step ${ckpt.step} (${dropped} newer metric lines dropped; they will be recomputed)`);
    return ckpt.step;
  }

  dispose(): void {}
}
