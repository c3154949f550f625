import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Env } from '../control/env.js';
import type { Policy } from '../control/policy.js';
import { seedAt } from '../control/rng.js';
import type { Transition } from '../control/transition.js';
import { driveEpisode } from '../hil/drive.js';
import { ReplayBuffer, replayDims, type RecordedWith } from '../policies/replay.js';
import { envEntry } from '../tasks/registry.js';
import { loadConfig, validateConfig, type ExperimentConfig } from './config.js';
import { UsageError } from './errors.js';
import { scriptedInLearnerUnits } from './learner-units.js';
import { absolutizePaths, makeLearnerEnv, recordedWithOf } from './setup.js';

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

/**
 * A demo table holding `transitions` (actions as the learner sees them), sized for the env and
 * labelled with its id, observation names and what the recording config says of its transitions
 * (`recordedWithOf`; checked when a config loads it: `loadDemos`).
 */
export function demoTable(env: Env, transitions: readonly Transition[], recordedWith?: RecordedWith): ReplayBuffer {
  const table = new ReplayBuffer({ capacity: Math.max(1, transitions.length), ...replayDims(env.spec) });
  transitions.forEach((t) => table.add(t));
  table.source = { env: env.spec.id, ...(env.spec.observationNames ? { observationNames: [...env.spec.observationNames] } : {}), ...(recordedWith ? { recordedWith } : {}) };
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
 * episodes (or all `episodes` attempts with `keepFailures`); with `start`, from the central
 * share of the task's start states only ({@link DemoStart}).
 */
export async function recordDemonstrations(config: ExperimentConfig, episodes: number, seed: number, keepFailures: boolean, onEpisode?: (successes: number, attempts: number) => void, start?: DemoStart): Promise<{ table: ReplayBuffer; successes: number; attempts: number }> {
  const id = config.env.id;
  if (!envEntry(id).scripted) throw new UsageError(`${id} has no scripted expert`);
  const env = await makeLearnerEnv(config);
  if (env.spec.actionSpace.kind !== 'box') throw new UsageError('demos are recorded for continuous-action envs');
  // The expert sees the task's observations and acts in the task's units; the learner env takes [−1, 1].
  const expert = scriptedInLearnerUnits(id, env);
  const seeds = start ? await centralStartSeeds(env, seed, keepFailures ? episodes : episodes * 5, start) : null;
  const kept: Transition[] = [];
  let attempts = 0;
  let successes = 0;
  while (keepFailures ? attempts < episodes : successes < episodes) {
    if (!keepFailures && attempts >= episodes * 5) throw new Error(`the expert succeeded in only ${successes} of ${attempts} episodes; use --keep-failures to keep them all`);
    const ep = await driveEpisode(env, expert, seeds ? (seeds[attempts] as number) : seedAt(seed, attempts));
    attempts++;
    if (ep.success) successes++;
    if (ep.success || keepFailures) kept.push(...ep.transitions);
    onEpisode?.(successes, attempts);
  }
  await env.close();
  return { table: demoTable(env, kept, recordedWithOf(config)), successes, attempts };
}

/**
 * Demos from a narrower start distribution than training's: the corrections of a person in the
 * loop then cover starts the demos do not (the HIL benchmark's setup).
 */
export interface DemoStart {
  /** The share of the task's start states demos come from: those nearest the middle of the distribution, 0 < share ≤ 1. */
  readonly share: number;
  /**
   * Observation entries, by name, that place a start. Default: the task's object and goal
   * positions (`cube x`…, `goal x`…); every entry where the task names none of those.
   */
  readonly fields?: readonly string[];
}

/**
 * `count` reset seeds whose start states are the central `share` of the task's: resets
 * count / share candidate seeds, measures each start by its distance from the candidates' mean
 * over `fields` (each entry in units of its spread; entries that never vary are left out), and
 * keeps the nearest `count`, in seed order. Deterministic for a seed.
 */
export async function centralStartSeeds(env: Env, seed: number, count: number, start: DemoStart): Promise<number[]> {
  if (!(start.share > 0 && start.share <= 1)) throw new UsageError(`demo start: share must be in (0, 1], got ${start.share}`);
  const names = env.spec.observationNames ?? [];
  const wanted = start.fields ?? names.filter((n) => /^(cube|goal) [xyz]$/.test(n));
  const missing = wanted.filter((f) => !names.includes(f));
  if (missing.length > 0) throw new UsageError(`demo start: ${env.spec.id} has no observation entries named ${missing.join(', ')}`);
  const candidates = Array.from({ length: Math.ceil(count / start.share) }, (_, i) => seedAt(seed, i));
  const starts: Float32Array[] = [];
  for (const s of candidates) starts.push((await env.reset({ seed: s })).obs);
  const dims = wanted.length > 0 ? wanted.map((f) => names.indexOf(f)) : Array.from(starts[0] ?? [], (_, i) => i);
  const n = starts.length;
  const stats = dims.map((d) => {
    const mean = starts.reduce((a, o) => a + (o[d] as number), 0) / n;
    const std = Math.sqrt(starts.reduce((a, o) => a + ((o[d] as number) - mean) ** 2, 0) / n);
    return { d, mean, std };
  });
  const spread = stats.filter((x) => x.std > 1e-9);
  const distance = (o: Float32Array): number => Math.hypot(...spread.map(({ d, mean, std }) => ((o[d] as number) - mean) / std));
  const order = candidates.map((s, i) => ({ i, s, dist: distance(starts[i] as Float32Array) })).sort((a, b) => a.dist - b.dist || a.i - b.i);
  return order
    .slice(0, count)
    .sort((a, b) => a.i - b.i)
    .map((x) => x.s);
}

/** The config demos are recorded with: a training config's env and safety sections, or the defaults for `envId`. */
export function demoConfig(envId: string | undefined, configPath: string | undefined): ExperimentConfig {
  if (configPath) {
    // Paths in it (a URDF, a classifier) are relative to the config file, as `train` reads them.
    const config = absolutizePaths(loadConfig(configPath), configPath);
    if (envId && envId !== config.env.id) throw new UsageError(`--env ${envId} disagrees with ${configPath}, which trains ${config.env.id}`);
    return config;
  }
  if (!envId) throw new UsageError('demos need an env: --env <id> or --config <train.yaml>');
  return validateConfig({ name: 'demos', env: { id: envId }, algo: { kind: 'sac' }, train: { steps: 1 } }, '(defaults)');
}
