import { percentile } from '../../control/running-stats.js';
import type { Env } from '../../control/env.js';
import { loadLatestCheckpoint, saveCheckpoint } from '../checkpoint.js';
import type { MetricsLog } from '../metrics-log.js';
import { isLinkLoss, RunLoop, Throughput, type TrainerProgress, type TrainerSchedule } from '../run-loop.js';
import type { StreamConfig } from './config.js';
import { StreamAgent, type StreamAgentState } from './agent.js';
import { linearEpsilon } from './stream-q.js';
import type { Policy } from '../../control/policy.js';
import { evaluatePolicy, EVALUATION_SEED, trainingEpisodeSeed, type EpisodicPolicy, type EvalResult } from '../evaluate.js';

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
  /** stream-td: the policy whose value is learned. */
  readonly fixedPolicy?: Policy;
}

/**
 * Streaming training (stream-x): one transition at a time, batch size 1, no replay, no target
 * networks. Each env step: features of the observation (normaliser updated with it first, time
 * feature), act, step the env, and let the {@link StreamAgent} scale the reward and update.
 * Per-update wall time is logged so the cost against a control-tick budget is visible.
 */
export class StreamTrainer extends RunLoop {
  readonly agent: StreamAgent;
  /** Wall time of recent updates, µs (reset at each log line). */
  private updateUs: number[] = [];

  constructor(private readonly o: StreamTrainerOptions) {
    super(o.schedule, o.metrics, o.log);
    this.checkpointEnv = o.env; // its person's spent budget and counts go in each checkpoint
    this.agent = new StreamAgent(o.config, o.env.spec, o.seed, o.fixedPolicy);
  }

  private epsilon(): number {
    const c = this.o.config;
    return c.kind === 'stream-q' ? linearEpsilon(this.envSteps, this.o.schedule.steps, c.explorationFraction, c.epsilonStart, c.epsilonEnd) : 0;
  }

  async run(): Promise<EvalResult> {
    const { env } = this.o;
    const schedule = this.schedule;
    const agent = this.agent;
    let t = 0;
    let s: Float64Array = new Float64Array(0);
    let obs: Float32Array = new Float32Array(0);
    // Episodes start lazily at the top of a step, so a checkpoint taken after an episode end
    // precedes the next reset (whose observation updates the normaliser) and resumes exactly.
    let needsReset = true;
    // One update per env step: the stream learners have no replay.
    const throughput = new Throughput(this.envSteps, this.envSteps);
    while (this.running()) {
      if (needsReset) {
        t = 0;
        obs = (await env.reset({ seed: trainingEpisodeSeed(this.o.seed, this.episodes) })).obs;
        s = agent.features(obs, t, true);
        needsReset = false;
      }
      const a = agent.act(s, this.epsilon(), obs);
      const r = await env.step(a.action);
      const done = r.terminated || r.truncated;
      t++;
      const lost = isLinkLoss(r);
      const sNext = agent.features(r.obs, t, !lost);
      if (lost) {
        // The robot's safe stop: no transition of the task (made-up reward, the last observation
        // again), so no update and no reward statistics; the episode ends, and so do its traces.
        this.linkLostSteps++;
        agent.resetTraces();
      } else {
        const t0 = process.hrtime.bigint();
        agent.learn(s, a, r.reward, sNext, r.terminated, done);
        this.updateUs.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
      this.envSteps++;
      s = sNext;
      obs = r.obs;
      if (done) {
        this.endEpisode(r.info.episode);
        needsReset = true;
      }
      if (this.envSteps % schedule.logEvery === 0) {
        const { envStepsPerSec } = throughput.sample(this.envSteps, this.envSteps);
        this.o.metrics.write({ type: 'train', step: this.envSteps, envStepsPerSec, updateUsP50: percentile(this.updateUs, 0.5), updateUsP99: percentile(this.updateUs, 0.99), epsilon: this.epsilon(), linkLostSteps: this.linkLostSteps });
        this.updateUs = [];
      }
      await this.afterStep();
      this.o.onStep?.({ step: this.envSteps, episodes: this.episodes, updates: this.envSteps, lastReturn: this.lastReturn, updatesPerSec: throughput.updatesPerSec, envStepsPerSec: throughput.envStepsPerSec });
    }
    return this.finish();
  }

  /** The greedy / mean-action policy with frozen normalisation. */
  policy(): EpisodicPolicy {
    return this.agent.policy();
  }

  override async evaluate(episodes = this.o.schedule.evalEpisodes): Promise<EvalResult> {
    return evaluatePolicy(this.o.evalEnv, this.policy(), episodes, EVALUATION_SEED, { signal: this.stopSignal });
  }

  protected override async evalExtras(): Promise<Record<string, number>> {
    return this.agent.td ? this.valueError() : {};
  }

  /**
   * Stream TD(λ): RMSE between v̂(sₜ) and the discounted Monte-Carlo return Gₜ over every state
   * of `evalEpisodes` episodes of the fixed policy, beside the std of Gₜ (the error of predicting
   * a constant). Truncated episodes make late-episode Gₜ short, as for the learner.
   */
  async valueError(): Promise<{ valueRmse: number; returnStd: number }> {
    const { evalEnv, config } = this.o;
    const policy = this.agent.policy();
    const errors: number[] = [];
    const allReturns: number[] = [];
    for (let ep = 0; ep < this.o.schedule.evalEpisodes; ep++) {
      let { obs } = await evalEnv.reset({ seed: 2_000_000 + ep });
      const predictions: number[] = [];
      const rewards: number[] = [];
      for (let t = 0; ; t++) {
        predictions.push(this.agent.value(obs, t));
        const r = await evalEnv.step(policy.act(obs));
        rewards.push(r.reward);
        obs = r.obs;
        if (r.terminated || r.truncated) break;
      }
      let g = 0;
      for (let t = rewards.length - 1; t >= 0; t--) {
        g = (rewards[t] as number) + config.gamma * g;
        allReturns.push(g);
        errors.push(((predictions[t] as number) - g) ** 2);
      }
    }
    const mean = allReturns.reduce((a, b) => a + b, 0) / allReturns.length;
    return { valueRmse: Math.sqrt(errors.reduce((a, b) => a + b, 0) / errors.length), returnStd: Math.sqrt(allReturns.reduce((a, b) => a + (b - mean) ** 2, 0) / allReturns.length) };
  }

  override checkpoint(): string {
    const sections = this.agent.parts().flatMap(({ net, opt }) => [net.params, opt.traces]);
    return saveCheckpoint(this.o.checkpointDir, this.envSteps, { kind: this.o.config.kind, agent: this.agent.getState(), ...this.counters() }, sections);
  }

  /**
   * Loads the newest checkpoint (parameters, traces, normaliser and reward statistics, RNG,
   * counters). `truncateMetrics: false` leaves metrics.jsonl alone (evaluation of a finished run).
   */
  resume({ truncateMetrics = true } = {}): number | null {
    const ckpt = loadLatestCheckpoint(this.o.checkpointDir, (m) => this.o.log?.(m));
    if (!ckpt) return null;
    const h = ckpt.header;
    const targets = this.agent.parts().flatMap(({ net, opt }) => [net.params, opt.traces]);
    if (h['kind'] !== this.o.config.kind || ckpt.sections.length !== targets.length) throw new Error(`${ckpt.path} holds a ${String(h['kind'])} learner, not ${this.o.config.kind}`);
    ckpt.sections.forEach((bytes, i) => {
      const values = new Float64Array(bytes.slice().buffer);
      const target = targets[i] as Float64Array;
      if (values.length !== target.length) throw new Error(`${ckpt.path}: section ${i} has ${values.length} values, expected ${target.length} (different network config)`);
      target.set(values);
    });
    this.agent.setState(h['agent'] as StreamAgentState);
    this.envSteps = ckpt.step;
    this.restoreCounters(h);
    // The episode in progress at the checkpoint is restarted: its traces no longer apply.
    this.agent.resetTraces();
    const dropped = truncateMetrics ? this.o.metrics.truncateAfter(ckpt.step) : 0;
    this.o.log?.(`resumed from ${ckpt.path} at step ${ckpt.step} (${dropped} newer metric lines dropped; they will be recomputed)`);
    return ckpt.step;
  }

  dispose(): void {}
}
