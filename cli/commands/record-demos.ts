import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Transition } from '../../control/transition.js';
import { ReplayBuffer } from '../../policies/replay.js';
import { envEntry, make } from '../../sim/registry.js';
import { allowFlags, intFlag, stringFlag, UsageError, type Args } from '../args.js';
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
  if (!id) throw new UsageError('usage: roborl record-demos --env <id> --policy scripted --episodes N [--out FILE]');
  const policyName = stringFlag(args, 'policy') ?? 'scripted';
  if (policyName !== 'scripted') throw new UsageError(`Expected --policy to be scripted, got \`${policyName}\` (teleoperated demos come with the human-in-the-loop tools)`);
  const entry = envEntry(id);
  if (!entry.scripted) throw new UsageError(`${id} has no scripted expert`);
  const episodes = intFlag(args, 'episodes', 20);
  const seed = intFlag(args, 'seed', 5_000_000, 0);
  const out = stringFlag(args, 'out') ?? `demos/${id}-${episodes}.demos`;
  const keepFailures = args.flags.has('keep-failures');
  const env = await make(id);
  const space = env.spec.actionSpace;
  if (space.kind !== 'box') throw new UsageError('demos are recorded for continuous-action envs');
  const expert = entry.scripted();
  const normalise = (a: Float32Array): Float32Array => Float32Array.from(a, (v, i) => (2 * (v - (space.low[i] as number))) / ((space.high[i] as number) - (space.low[i] as number)) - 1);
  const kept: Transition[] = [];
  const progress = new Progress(episodes, `record ${id}`);
  let attempts = 0;
  let successes = 0;
  while (successes < episodes || (keepFailures && attempts < episodes)) {
    if (!keepFailures && attempts >= episodes * 5) throw new Error(`the expert succeeded in only ${successes} of ${attempts} episodes; use --keep-failures to keep them all`);
    const episode: Transition[] = [];
    let { obs } = await env.reset({ seed: seed + attempts });
    attempts++;
    let success = false;
    for (;;) {
      const action = expert(obs);
      const r = await env.step(action);
      success ||= r.info.success === true;
      episode.push({ obs, action: normalise(Float32Array.from(action, (v, i) => Math.min(space.high[i] as number, Math.max(space.low[i] as number, v)))), reward: r.reward, costs: r.costs, nextObs: r.obs, terminated: r.terminated, truncated: r.truncated });
      obs = r.obs;
      if (r.terminated || r.truncated) break;
    }
    if (success) successes++;
    if (success || keepFailures) kept.push(...episode);
    progress.update(keepFailures ? attempts : successes, `${successes}/${attempts} successful`, true);
    if (keepFailures && attempts >= episodes) break;
  }
  progress.done();
  await env.close();
  const table = new ReplayBuffer({ capacity: kept.length, obsDim: env.spec.observationSpace.low.length, actDim: space.low.length, costDim: env.spec.constraints.length });
  kept.forEach((t) => table.add(t));
  mkdirSync(dirname(out), { recursive: true });
  table.save(out);
  process.stdout.write(`wrote ${kept.length} transitions from ${keepFailures ? attempts : successes} episodes (${successes}/${attempts} successful) to ${out}\n`);
}
