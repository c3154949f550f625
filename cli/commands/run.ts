import { seedAt } from '../../control/rng.js';
import type { EpisodeSummary } from '../../control/env.js';
import { randomPolicy, type Policy } from '../../control/policy.js';
import { Rng } from '../../control/rng.js';
import { EpisodeStatistics } from '../../control/wrappers/episode-statistics.js';
import { envEntry, make } from '../../tasks/registry.js';
import { allowFlags, intFlag, seedFlag, stringFlag, UsageError, type Args } from '../args.js';
import { USAGE } from '../usage.js';
import { Progress } from '../progress.js';

export interface RunSummary {
  readonly env: string;
  readonly policy: string;
  readonly episodes: number;
  readonly returnMean: number;
  readonly returnStd: number;
  readonly lengthMean: number;
  readonly successRate: number;
  /** Mean summed cost per episode, per constraint. */
  readonly costMeans: Record<string, number>;
  readonly stepsPerSec: number;
}

/** Runs `episodes` episodes of a random or scripted policy and summarises them. */
export async function runEpisodes(envId: string, policyName: 'random' | 'scripted', episodes: number, seed: number, onEpisode?: (i: number, ep: EpisodeSummary) => void): Promise<RunSummary> {
  const entry = envEntry(envId);
  const env = new EpisodeStatistics(await make(envId));
  let policy: Policy;
  if (policyName === 'scripted') {
    if (!entry.scripted) throw new UsageError(`${envId} has no scripted policy; use --policy random`);
    policy = entry.scripted();
  } else {
    policy = randomPolicy(env.spec.actionSpace, new Rng(seed + 1_000_003));
  }
  const results: EpisodeSummary[] = [];
  let steps = 0;
  const t0 = performance.now();
  try {
    for (let i = 0; i < episodes; i++) {
      let { obs } = await env.reset({ seed: seedAt(seed, i) });
      for (;;) {
        const r = await env.step(policy(obs));
        steps++;
        obs = r.obs;
        if (r.info.episode) {
          results.push(r.info.episode);
          onEpisode?.(i, r.info.episode);
          break;
        }
      }
    }
  } finally {
    await env.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const returns = results.map((r) => r.return);
  const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
  const std = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / returns.length);
  const costMeans: Record<string, number> = {};
  for (const name of env.spec.constraints) costMeans[name] = results.reduce((a, r) => a + (r.costs[name] ?? 0), 0) / results.length;
  return {
    env: envId,
    policy: policyName,
    episodes: results.length,
    returnMean: mean,
    returnStd: std,
    lengthMean: results.reduce((a, r) => a + r.length, 0) / results.length,
    successRate: results.filter((r) => r.success).length / results.length,
    costMeans,
    stepsPerSec: steps / seconds,
  };
}

/** `roborl run <env> --policy random|scripted --episodes N [--seed S] [--json]`. */
export async function runCommand(args: Args): Promise<void> {
  allowFlags(args, 'run', ['policy', 'episodes', 'seed', 'json']);
  const envId = args.positionals[0];
  if (!envId) throw new UsageError(USAGE.run);
  const policy = stringFlag(args, 'policy') ?? 'random';
  if (policy !== 'random' && policy !== 'scripted') throw new UsageError(`Expected --policy to be random or scripted, got \`${policy}\``);
  const episodes = intFlag(args, 'episodes', 10);
  const seed = seedFlag(args, 0);
  const json = args.flags.has('json');
  const progress = new Progress(episodes, `${envId} ${policy}`);
  let sum = 0;
  const summary = await runEpisodes(envId, policy, episodes, seed, (i, ep) => {
    sum += ep.return;
    progress.update(i + 1, `return ${ep.return.toFixed(2)} (mean ${(sum / (i + 1)).toFixed(2)}) length ${ep.length}${ep.success ? ' success' : ''}`, true);
  });
  progress.done();
  if (json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const costs = Object.entries(summary.costMeans).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
  process.stdout.write(
    `${summary.env} · ${summary.policy} policy · ${summary.episodes} episodes\n` +
      `  return   ${summary.returnMean.toFixed(2)} ± ${summary.returnStd.toFixed(2)}\n` +
      `  length   ${summary.lengthMean.toFixed(1)}\n` +
      `  success  ${(100 * summary.successRate).toFixed(0)}%\n` +
      `  cost/ep  ${costs || '(no constraints)'}\n` +
      `  speed    ${summary.stepsPerSec.toFixed(0)} env steps/s\n`,
  );
}
