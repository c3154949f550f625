import { FixedRateClock, type RateStats } from './clock.js';
import type { Env } from './env.js';
import { percentile } from './running-stats.js';

export interface ControlLoopOptions {
  /** Ticks to run. */
  readonly ticks: number;
  /** Loop rate, Hz (10 Hz – 1 kHz). Default: the env's control rate. */
  readonly hz?: number;
  /**
   * Learning work for the spare time of a tick (one update, say). It runs after the tick's
   * command has gone out, and only if its expected duration (p99 of its recent runs) fits in
   * the rest of the learning budget; otherwise it is skipped and counted. Commands never wait.
   */
  readonly learn?: () => void;
  /** Share of each period available to `learn`, ms. Default 80% of the period. */
  readonly learnBudgetMs?: number;
  readonly seed?: number;
}

export interface ControlLoopReport {
  readonly rate: RateStats;
  readonly steps: number;
  readonly episodes: number;
  readonly returns: number[];
  readonly learnRuns: number;
  readonly learnSkipped: number;
  /** Observation age when the action was chosen (real robots report it), ms. */
  readonly obsAgeP50Ms: number;
  readonly obsAgeP99Ms: number;
}

/**
 * The fixed-rate actor loop every deployment runs: each tick acts on the freshest observation
 * and sends the command on time (period error, jitter and missed deadlines are measured by a
 * {@link FixedRateClock}); optional learning fills the rest of the tick without delaying a
 * command; episodes reset as they end. `env` is a robot env, or a simulator in RealtimeEnv.
 */
export async function runControlLoop(env: Env, act: (obs: Float32Array) => Float32Array, options: ControlLoopOptions): Promise<ControlLoopReport> {
  const hz = options.hz ?? env.spec.controlHz;
  if (!(hz >= 10 && hz <= 1000)) throw new RangeError(`control loop rate must be within 10 Hz – 1 kHz, got ${hz}`);
  const clock = new FixedRateClock(hz);
  const budgetMs = options.learnBudgetMs ?? 0.8 * clock.periodMs;
  const learnMs: number[] = [];
  const ages: number[] = [];
  const returns: number[] = [];
  let learnRuns = 0;
  let learnSkipped = 0;
  let episodes = 0;
  let ret = 0;
  let obs = (await env.reset({ seed: options.seed ?? 0 })).obs;
  let age = 0;
  clock.begin();
  for (let tick = 0; tick < options.ticks; tick++) {
    const deadline = await clock.tick();
    ages.push(age);
    const pending = env.step(act(obs)); // the command goes out first
    if (options.learn) {
      const expected = learnMs.length ? percentile(learnMs.slice(-50), 0.99) : 0;
      if (performance.now() + expected <= deadline + budgetMs) {
        const t0 = performance.now();
        options.learn();
        learnMs.push(performance.now() - t0);
        learnRuns++;
      } else {
        learnSkipped++;
        // Let the estimate decay while skipping, so one slow run does not stop learning for good.
        if (learnMs.length) learnMs[learnMs.length - 1] = (learnMs[learnMs.length - 1] as number) * 0.9;
      }
    }
    const r = await pending;
    ret += r.reward;
    obs = r.obs;
    age = r.info.obsAgeMs ?? 0;
    if (r.terminated || r.truncated) {
      returns.push(ret);
      ret = 0;
      episodes++;
      obs = (await env.reset()).obs;
    }
  }
  return { rate: clock.stats(), steps: options.ticks, episodes, returns, learnRuns, learnSkipped, obsAgeP50Ms: percentile(ages, 0.5), obsAgeP99Ms: percentile(ages, 0.99) };
}
