import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Env } from '../control/env.js';
import type { Policy } from '../control/policy.js';
import { seedAt } from '../control/rng.js';
import type { Transition } from '../control/transition.js';
import { driveEpisode } from '../hil/drive.js';
import { ReplayBuffer } from '../policies/replay.js';
import { envEntry } from '../tasks/registry.js';
import { loadConfig, validateConfig, type ExperimentConfig } from './config.js';
import { UsageError } from './errors.js';
import { scriptedInLearnerUnits } from './learner-units.js';
import { makeLearnerEnv } from './setup.js';

/**
 * Demonstrations for RLPD configs (`algo.demos.path`): the scripted expert's, recorded through
 * the env stack training uses, and the pieces `roborl record-demos` and `roborl teleop` share
 * when a person drives. A library home, so benchmarks and tests record demos without importing
 * a command.
 */

/** The policy under a person: the zero action, which holds the arm on the joint-delta tasks. */
export function holdStill(env: Env): Policy {
  const space = env.spec.actionSpace;
  const zero = new Float32Array(space.kind === 'box' ? space.low.length : 1);
  return () => zero;
}

/** A demo table holding `transitions` (actions as the learner sees them), sized for the env. */
export function demoTable(env: Env, transitions: readonly Transition[]): ReplayBuffer {
  const space = env.spec.actionSpace;
  const table = new ReplayBuffer({ capacity: Math.max(1, transitions.length), obsDim: env.spec.observationSpace.low.length, actDim: space.kind === 'box' ? space.low.length : 1, costDim: env.spec.constraints.length });
  transitions.forEach((t) => table.add(t));
  return table;
}

/** Writes a demo table, creating its folder. */
export function saveDemos(table: ReplayBuffer, out: string): void {
  mkdirSync(dirname(out), { recursive: true });
  table.save(out);
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
  if (!envEntry(id).scripted) throw new UsageError(`${id} has no scripted expert`);
  const env = await makeLearnerEnv(config);
  if (env.spec.actionSpace.kind !== 'box') throw new UsageError('demos are recorded for continuous-action envs');
  // The expert sees the task's observations and acts in the task's units; the learner env takes [−1, 1].
  const expert = scriptedInLearnerUnits(id, env);
  const kept: Transition[] = [];
  let attempts = 0;
  let successes = 0;
  while (keepFailures ? attempts < episodes : successes < episodes) {
    if (!keepFailures && attempts >= episodes * 5) throw new Error(`the expert succeeded in only ${successes} of ${attempts} episodes; use --keep-failures to keep them all`);
    const ep = await driveEpisode(env, expert, seedAt(seed, attempts));
    attempts++;
    if (ep.success) successes++;
    if (ep.success || keepFailures) kept.push(...ep.transitions);
    onEpisode?.(successes, attempts);
  }
  await env.close();
  return { table: demoTable(env, kept), successes, attempts };
}

/** The config demos are recorded with: a training config's env and safety sections, or the defaults for `envId`. */
export function demoConfig(envId: string | undefined, configPath: string | undefined): ExperimentConfig {
  if (configPath) {
    const config = loadConfig(configPath);
    if (envId && envId !== config.env.id) throw new UsageError(`--env ${envId} disagrees with ${configPath}, which trains ${config.env.id}`);
    return config;
  }
  if (!envId) throw new UsageError('demos need an env: --env <id> or --config <train.yaml>');
  return validateConfig({ name: 'demos', env: { id: envId }, algo: { kind: 'sac' }, train: { steps: 1 } }, '(defaults)');
}
