import { seedAt } from '../../control/rng.js';
import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Transition } from '../../control/transition.js';
import { ReplayBuffer } from '../../policies/replay.js';
import { envEntry } from '../../sim/registry.js';
import { loadConfig, validateConfig, type ExperimentConfig } from '../config.js';
import { makeLearnerEnv, scriptedInLearnerUnits } from '../run-setup.js';
import { allowFlags, intFlag, seedFlag, stringFlag, UsageError, type Args } from '../args.js';
import { USAGE } from '../usage.js';
import { Progress } from '../progress.js';

/**
 * `roborl record-demos --env <id> | --config <train.yaml> --policy scripted --episodes N [--out FILE] [--seed S] [--keep-failures]`
 * Records demonstrations into a replay-table file that RLPD configs load (`algo.demos.path`).
 * Actions are stored as the learner sees them: rescaled to [−1, 1]. By default only successful
 * episodes are kept (as SERL's demo recording does); N counts kept episodes.
 */
export async function recordDemosCommand(args: Args): Promise<void> {
  allowFlags(args, 'record-demos', ['env', 'config', 'policy', 'episodes', 'out', 'seed', 'keep-failures']);
  const config = demoConfig(stringFlag(args, 'env'), stringFlag(args, 'config'));
  const id = config.env.id;
  const policyName = stringFlag(args, 'policy') ?? 'scripted';
  if (policyName !== 'scripted') throw new UsageError(`Expected --policy to be scripted, got \`${policyName}\` (teleoperated demos come with the human-in-the-loop tools)`);
  const episodes = intFlag(args, 'episodes', 20);
  const seed = seedFlag(args, 5_000_000);
  const out = stringFlag(args, 'out') ?? `demos/${id}-${episodes}.demos`;
  const keepFailures = args.flags.has('keep-failures');
  const progress = new Progress(episodes, `record ${id}`);
  const { table, successes, attempts } = await recordDemonstrations(config, episodes, seed, keepFailures, (s, a) => progress.update(keepFailures ? a : s, `${s}/${a} successful`, true));
  progress.done();
  mkdirSync(dirname(out), { recursive: true });
  table.save(out);
  process.stdout.write(`wrote ${table.size} transitions from ${keepFailures ? attempts : successes} episodes (${successes}/${attempts} successful) to ${out}\n`);
}

/**
 * Runs the env's scripted expert through the env stack training uses (`makeLearnerEnv`: the
 * config's env options, expression costs, Tier 0 limits, shield, actions rescaled to [−1, 1])
 * and returns its transitions as a replay table holding the actions that were executed — as
 * training stores them — rather than the expert's unfiltered ones. Keeps `episodes` successful
 * episodes (or all `episodes` attempts with `keepFailures`).
 */
export async function recordDemonstrations(config: ExperimentConfig, episodes: number, seed: number, keepFailures: boolean, onEpisode?: (successes: number, attempts: number) => void): Promise<{ table: ReplayBuffer; successes: number; attempts: number }> {
  const id = config.env.id;
  const entry = envEntry(id);
  if (!entry.scripted) throw new UsageError(`${id} has no scripted expert`);
  const env = await makeLearnerEnv(config);
  if (env.spec.actionSpace.kind !== 'box') throw new UsageError('demos are recorded for continuous-action envs');
  // The expert sees the task's observations and acts in the task's units; the learner env takes [−1, 1].
  const expert = scriptedInLearnerUnits(id, env);
  const kept: Transition[] = [];
  let attempts = 0;
  let successes = 0;
  while (keepFailures ? attempts < episodes : successes < episodes) {
    if (!keepFailures && attempts >= episodes * 5) throw new Error(`the expert succeeded in only ${successes} of ${attempts} episodes; use --keep-failures to keep them all`);
    const episode: Transition[] = [];
    let { obs } = await env.reset({ seed: seedAt(seed, attempts) });
    attempts++;
    let success = false;
    for (;;) {
      const action = expert(obs);
      const r = await env.step(action);
      success ||= r.info.success === true;
      const executed = r.info.safety?.executed ?? action;
      episode.push({ obs, action: Float32Array.from(executed), proposedAction: action, reward: r.reward, costs: r.costs, nextObs: r.obs, terminated: r.terminated, truncated: r.truncated, intervened: r.info.safety?.intervened ?? false });
      obs = r.obs;
      if (r.terminated || r.truncated) break;
    }
    if (success) successes++;
    if (success || keepFailures) kept.push(...episode);
    onEpisode?.(successes, attempts);
  }
  await env.close();
  const space = env.spec.actionSpace;
  const table = new ReplayBuffer({ capacity: kept.length, obsDim: env.spec.observationSpace.low.length, actDim: space.kind === 'box' ? space.low.length : 1, costDim: env.spec.constraints.length });
  kept.forEach((t) => table.add(t));
  return { table, successes, attempts };
}

/** The config demos are recorded with: a training config's env and safety sections, or the defaults for `envId`. */
export function demoConfig(envId: string | undefined, configPath: string | undefined): ExperimentConfig {
  if (configPath) {
    const config = loadConfig(configPath);
    if (envId && envId !== config.env.id) throw new UsageError(`--env ${envId} disagrees with ${configPath}, which trains ${config.env.id}`);
    return config;
  }
  if (!envId) throw new UsageError(USAGE['record-demos']);
  return validateConfig({ name: 'demos', env: { id: envId }, algo: { kind: 'sac' }, train: { steps: 1 } }, '(defaults)');
}
