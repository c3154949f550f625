import { yielder } from '../control/clock.js';
import type { Env } from '../control/env.js';
import { seedAt } from '../control/rng.js';
import type { Policy } from '../control/policy.js';
import type { Observation } from '../control/spaces.js';

/** A policy that is told when each episode starts (e.g. one whose input has a time feature). */
export interface EpisodicPolicy {
  reset(): void;
  act(obs: Float32Array): Float32Array;
}

export interface EvalResult {
  readonly returnMean: number;
  readonly returnStd: number;
  readonly successRate: number;
  readonly lengthMean: number;
  readonly returns: number[];
  /** Mean episode cost per constraint name. */
  readonly costMeans: Readonly<Record<string, number>>;
  /** Per-episode costs per constraint name (in episode order). */
  readonly costs: Readonly<Record<string, number[]>>;
  /** Seed of the first episode (episode i used firstSeed + i): the recorded set of start states. */
  readonly firstSeed: number;
  /** Episodes cut off by a robot link (safe stop); each was run again with its seed and is not in the statistics. */
  readonly lost: readonly { seed: number; step: number; reason: string }[];
}

export interface EvaluateOptions {
  /** Stop between steps when this is aborted (Ctrl-C): the evaluation rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** How many episodes cut off by the link may be run again. Default: as many as `episodes`. */
  readonly maxLost?: number;
}

/**
 * Seed conventions of every trainer: training episode i of a run with seed s resets with
 * s·1e6 + i (mod 2³²).
 */
export function trainingEpisodeSeed(runSeed: number, episode: number): number {
  return seedAt(runSeed * 1_000_000, episode);
}

/**
 * Evaluation episode i of every run resets with EVALUATION_SEED + i, whatever the run's seed:
 * all seeds of a comparison are evaluated on one common set of start states, so the spread
 * between seeds is the learners', not the start states each drew (shared/facts/evaluation.md).
 * Disjoint from the training episodes' seeds of run seeds below 4000.
 */
export const EVALUATION_SEED = 4_000_000_000;

/** A stateless policy as an episodic one. */
export function episodic(policy: Policy): EpisodicPolicy {
  return { reset: () => {}, act: policy };
}

/**
 * Runs `episodes` episodes of `policy` with seeds `seed0 + i` and summarises them. An episode
 * that a robot link cuts off (`info.linkError`: the robot was stopped) is reported in `lost`
 * and run again with the same seed, so the statistics hold only whole episodes.
 */
export async function evaluatePolicy<O extends Observation = Float32Array>(env: Env<O>, policy: { reset(): void; act(obs: O): Float32Array }, episodes: number, seed0: number, options: EvaluateOptions = {}): Promise<EvalResult> {
  const returns: number[] = [];
  const costs: Record<string, number[]> = Object.fromEntries(env.spec.constraints.map((n) => [n, []]));
  const lost: { seed: number; step: number; reason: string }[] = [];
  const maxLost = options.maxLost ?? episodes;
  const pause = yielder();
  let successes = 0;
  let lengths = 0;
  for (let i = 0; i < episodes; i++) {
    policy.reset();
    let { obs } = await env.reset({ seed: seedAt(seed0, i) });
    let ret = 0;
    let success = false;
    const episodeCosts = new Float64Array(env.spec.constraints.length);
    let cutOff = false;
    for (let t = 0; ; t++) {
      await pause();
      options.signal?.throwIfAborted();
      const r = await env.step(policy.act(obs));
      if (typeof r.info.linkError === 'string') {
        lost.push({ seed: seedAt(seed0, i), step: t, reason: r.info.linkError });
        if (lost.length > maxLost) throw new Error(`evaluation abandoned: ${lost.length} episodes cut off by the robot link (last: ${r.info.linkError})`);
        cutOff = true;
        break;
      }
      ret += r.reward;
      for (let k = 0; k < episodeCosts.length; k++) episodeCosts[k] = (episodeCosts[k] as number) + (r.costs[k] as number);
      // An episode succeeds if its last step does (as SB3 and panda-gym count it): a cube lifted
      // and dropped again, or a target passed through, is no success.
      success = r.info.success === true;
      obs = r.obs;
      if (r.terminated || r.truncated) {
        lengths += t + 1;
        break;
      }
    }
    if (cutOff) {
      i--; // the same seed again
      continue;
    }
    returns.push(ret);
    env.spec.constraints.forEach((n, k) => costs[n]?.push(episodeCosts[k] as number));
    if (success) successes++;
  }
  const mean = returns.reduce((a, b) => a + b, 0) / episodes;
  const std = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / episodes);
  const costMeans = Object.fromEntries(Object.entries(costs).map(([n, c]) => [n, c.reduce((a, b) => a + b, 0) / episodes]));
  return { returnMean: mean, returnStd: std, successRate: successes / episodes, lengthMean: lengths / episodes, returns, costMeans, costs, lost, firstSeed: seed0 };
}
