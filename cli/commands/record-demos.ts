import { seedAt } from '../../control/rng.js';
import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Transition } from '../../control/transition.js';
import { ReplayBuffer } from '../../policies/replay.js';
import { envEntry, make } from '../../sim/registry.js';
import { allowFlags, intFlag, seedFlag, stringFlag, UsageError, type Args } from '../args.js';
import { USAGE } from '../usage.js';
import { Progress } from '../progress.js';

/**
 * `roborl record-demos --env <id> --policy scripted --episodes N [--out FILE] [--seed S] [--keep-failures]`
 * Records demonstrations into a replay-table file that RLPD configs load (`algo.demos.path`).
 * Actions are stored as the learner sees them: rescaled to [−1, 1]. By default only successful
 * episodes are kept (as SERL's demo recording does); N counts kept episodes.
 */
export async function recordDemosCommand(args: Args): Promise<void> {
  allowFlags(args, 'record-demos', ['env', 'policy', 'episodes', 'out', 'seed', 'keep-failures']);
  const id = stringFlag(args, 'env');
  if (!id) throw new UsageError(USAGE['record-demos']);
  const policyName = stringFlag(args, 'policy') ?? 'scripted';
  if (policyName !== 'scripted') throw new UsageError(`Expected --policy to be scripted, got \`${policyName}\` (teleoperated demos come with the human-in-the-loop tools)`);
  const episodes = intFlag(args, 'episodes', 20);
  const seed = seedFlag(args, 5_000_000);
  const out = stringFlag(args, 'out') ?? `demos/${id}-${episodes}.demos`;
  const keepFailures = args.flags.has('keep-failures');
  const progress = new Progress(episodes, `record ${id}`);
  const { table, successes, attempts } = await recordDemonstrations(id, episodes, seed, keepFailures, (s, a) => progress.update(keepFailures ? a : s, `${s}/${a} successful`, true));
  progress.done();
  mkdirSync(dirname(out), { recursive: true });
  table.save(out);
  process.stdout.write(`wrote ${table.size} transitions from ${keepFailures ? attempts : successes} episodes (${successes}/${attempts} successful) to ${out}\n`);
}

/**
 * Runs the env's scripted expert and returns its transitions as a replay table, actions rescaled
 * to [−1, 1] as learners see them. Keeps `episodes` successful episodes (or all `episodes`
 * attempts with `keepFailures`).
 */
export async function recordDemonstrations(id: string, episodes: number, seed: number, keepFailures: boolean, onEpisode?: (successes: number, attempts: number) => void): Promise<{ table: ReplayBuffer; successes: number; attempts: number }> {
  const entry = envEntry(id);
  if (!entry.scripted) throw new UsageError(`${id} has no scripted expert`);
  const env = await make(id);
  const space = env.spec.actionSpace;
  if (space.kind !== 'box') throw new UsageError('demos are recorded for continuous-action envs');
  const expert = entry.scripted();
  const normalise = (a: Float32Array): Float32Array =>
    Float32Array.from(a, (v, i) => {
      const lo = space.low[i] as number;
      const hi = space.high[i] as number;
      return (2 * (Math.min(hi, Math.max(lo, v)) - lo)) / (hi - lo) - 1;
    });
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
      episode.push({ obs, action: normalise(action), reward: r.reward, costs: r.costs, nextObs: r.obs, terminated: r.terminated, truncated: r.truncated });
      obs = r.obs;
      if (r.terminated || r.truncated) break;
    }
    if (success) successes++;
    if (success || keepFailures) kept.push(...episode);
    onEpisode?.(successes, attempts);
  }
  await env.close();
  const table = new ReplayBuffer({ capacity: kept.length, obsDim: env.spec.observationSpace.low.length, actDim: space.low.length, costDim: env.spec.constraints.length });
  kept.forEach((t) => table.add(t));
  return { table, successes, attempts };
}
