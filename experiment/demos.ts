import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Env } from '../control/env.js';
import type { Policy } from '../control/policy.js';
import { seedAt } from '../control/rng.js';
import type { Transition } from '../control/transition.js';
import { driveEpisode } from '../hil/drive.js';
import { ReplayBuffer, replayDims, type ExpertRecording, type RecordedWith } from '../policies/replay.js';
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
export function demoTable(env: Env, transitions: readonly Transition[], recordedWith?: RecordedWith, expert?: ExpertRecording): ReplayBuffer {
  const table = new ReplayBuffer({ capacity: Math.max(1, transitions.length), ...replayDims(env.spec) });
  transitions.forEach((t) => table.add(t));
  table.source = { env: env.spec.id, ...(env.spec.observationNames ? { observationNames: [...env.spec.observationNames] } : {}), ...(recordedWith ? { recordedWith } : {}), ...(expert ? { expert } : {}) };
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
 * episodes (or all `episodes` attempts with `keepFailures`); with `start`, from the starts it
 * chooses ({@link DemoStart}: the central share of the task's start states, or starts spread
 * evenly over them).
 */
export async function recordDemonstrations(config: ExperimentConfig, episodes: number, seed: number, keepFailures: boolean, onEpisode?: (successes: number, attempts: number) => void, start?: DemoStart): Promise<{ table: ReplayBuffer; successes: number; attempts: number }> {
  const id = config.env.id;
  if (!envEntry(id).scripted) throw new UsageError(`${id} has no scripted expert`);
  const env = await makeLearnerEnv(config);
  if (env.spec.actionSpace.kind !== 'box') throw new UsageError('demos are recorded for continuous-action envs');
  // The expert sees the task's observations and acts in the task's units; the learner env takes [−1, 1].
  const expert = scriptedInLearnerUnits(id, env);
  // Spread starts are picked in order, so the same ones with or without failures kept (a failed
  // start is replaced by the next pick); central ones in seed order, as before.
  const seeds = !start ? null : start.pick === 'spread' ? await spreadStartSeeds(env, seed, episodes * 5, start) : await centralStartSeeds(env, seed, keepFailures ? episodes : episodes * 5, start);
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
  return { table: demoTable(env, kept, recordedWithOf(config, env), { episodes: keepFailures ? attempts : successes, starts: demoStartsName(start) }), successes, attempts };
}

/** How `record-demos --starts` and a config's `algo.demos.starts` name a {@link DemoStart}: all (none), spread, central:S. */
export function demoStartsName(start: DemoStart | undefined): string {
  return !start ? 'all' : start.pick === 'spread' ? 'spread' : `central:${start.share}`;
}

/** How many candidate starts `spread` picks from per start the recorder may use (5 an episode). */
const SPREAD_POOL = 10;

/** The {@link DemoStart} a name gives ({@link demoStartsName}'s inverse): all (undefined), spread or central:SHARE with 0 < SHARE ≤ 1, a decimal. */
export function demoStartNamed(name: string): DemoStart | undefined {
  if (name === 'all') return undefined;
  if (name === 'spread') return { pick: 'spread', share: 1 / SPREAD_POOL };
  const central = /^central:(\d*\.?\d+(?:e-?\d+)?)$/.exec(name);
  const share = central ? Number(central[1]) : NaN;
  if (central && share > 0 && share <= 1) return { pick: 'central', share };
  throw new UsageError(`Expected --starts to be all, spread or central:SHARE with 0 < SHARE ≤ 1, got \`${name}\``);
}

/**
 * Which of the task's start states demos come from. `central` (the default): a narrower start
 * distribution than training's, so the corrections of a person in the loop cover starts the demos
 * do not (the HIL benchmark's setup). `spread`: starts spread over the whole distribution, so a
 * few demos cover its corners and directions rather than the clusters consecutive seeds give.
 */
export interface DemoStart {
  /** `central` (default): the starts nearest the middle ({@link centralStartSeeds}); `spread`: starts spread evenly over the task's ({@link spreadStartSeeds}). */
  readonly pick?: 'central' | 'spread';
  /**
   * The share of candidate starts kept, 0 < share ≤ 1: `central` keeps those nearest the middle
   * of the distribution; `spread` picks from count / share candidates.
   */
  readonly share: number;
  /**
   * Observation entries, by name, that place a start. Default: the task's object, goal and
   * target positions (`cube x`…, `goal x`…, `target x`…); every entry where the task names none
   * of those.
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
  const { candidates, points } = await candidateStarts(env, seed, count, start);
  const distance = (p: readonly number[]): number => Math.hypot(...p);
  const order = candidates.map((s, i) => ({ i, s, dist: distance(points[i] as number[]) })).sort((a, b) => a.dist - b.dist || a.i - b.i);
  return order
    .slice(0, count)
    .sort((a, b) => a.i - b.i)
    .map((x) => x.s);
}

/**
 * `count` reset seeds whose start states spread over the task's as evenly as its distribution
 * allows: resets count / share candidate seeds, places each start by `fields` (as
 * {@link centralStartSeeds}: in units of each entry's spread) and picks by kernel herding
 * (Chen, Welling & Smola 2010; a Gaussian kernel of width 1 there) — each time the candidate
 * where the candidates are dense and the picks so far are thin (from at most
 * {@link MAX_CANDIDATE_STARTS} candidates). Random seeds leave gaps and
 * clusters (20 pushes may miss a direction); farthest-point picks would take the distribution's
 * corners first. Returned in the order picked, so the first N of them spread as well as N picks
 * can (a recorder replaces a start its expert fails from with the next one). Deterministic for a
 * seed.
 */
export async function spreadStartSeeds(env: Env, seed: number, count: number, start: DemoStart): Promise<number[]> {
  // Herding costs the square of the candidates: at most MAX_CANDIDATE_STARTS of them (a larger share).
  const { candidates, points } = await candidateStarts(env, seed, count, { ...start, share: Math.max(start.share, Math.min(1, count / MAX_CANDIDATE_STARTS)) });
  const n = candidates.length;
  const kernel = (a: readonly number[], b: readonly number[]): number => {
    let d2 = 0;
    for (let k = 0; k < a.length; k++) d2 += (a[k]! - b[k]!) ** 2;
    return Math.exp(-d2 / 2);
  };
  // Density of the candidates at each candidate, and the picks' kernel sum there.
  const density = points.map((p) => points.reduce((acc, q) => acc + kernel(p, q), 0) / n);
  const covered = new Float64Array(n);
  const taken = new Uint8Array(n);
  const picked: number[] = [];
  while (picked.length < Math.min(count, n)) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < n; i++) {
      if (taken[i]) continue;
      const score = density[i]! - covered[i]! / (picked.length + 1);
      if (score > bestScore) [best, bestScore] = [i, score];
    }
    taken[best] = 1;
    picked.push(candidates[best]!);
    for (let i = 0; i < n; i++) covered[i] = covered[i]! + kernel(points[i]!, points[best]!);
  }
  return picked;
}

/** At most this many candidate starts are reset to choose demo starts from (~10 s of herding at the most). */
export const MAX_CANDIDATE_STARTS = 20_000;

/**
 * The candidate seeds of a {@link DemoStart} (count / share of them, from `seed`) and each start's
 * place: its `fields` (default: the task's object, goal and target positions, `cube x`…,
 * `goal x`…, `target x`…; every entry where the task names none), each minus the candidates' mean over their standard
 * deviation; entries that never vary are left out.
 */
async function candidateStarts(env: Env, seed: number, count: number, start: DemoStart): Promise<{ candidates: number[]; points: number[][] }> {
  if (!(start.share > 0 && start.share <= 1)) throw new UsageError(`demo start: share must be in (0, 1], got ${start.share}`);
  if (start.pick !== undefined && start.pick !== 'central' && start.pick !== 'spread') throw new UsageError(`demo start: pick must be central or spread, got ${String(start.pick)}`);
  const names = env.spec.observationNames ?? [];
  const wanted = start.fields ?? names.filter((n) => /^(cube|goal|target) [xyz]$/.test(n));
  const missing = wanted.filter((f) => !names.includes(f));
  if (missing.length > 0) throw new UsageError(`demo start: ${env.spec.id} has no observation entries named ${missing.join(', ')}`);
  const pool = Math.ceil(count / start.share);
  if (pool > MAX_CANDIDATE_STARTS) throw new UsageError(`demo start: ${count} starts from a share of ${start.share} means ${pool} candidate resets, more than ${MAX_CANDIDATE_STARTS}: ask for a larger share or fewer episodes`);
  const candidates = Array.from({ length: pool }, (_, i) => seedAt(seed, i));
  const starts: Float32Array[] = [];
  for (const s of candidates) starts.push((await env.reset({ seed: s })).obs);
  const dims = wanted.length > 0 ? wanted.map((f) => names.indexOf(f)) : Array.from(starts[0] ?? [], (_, i) => i);
  const n = starts.length;
  const stats = dims.map((d) => {
    const mean = starts.reduce((a, o) => a + (o[d] as number), 0) / n;
    const std = Math.sqrt(starts.reduce((a, o) => a + ((o[d] as number) - mean) ** 2, 0) / n);
    return { d, mean, std };
  });
  const varying = stats.filter((x) => x.std > 1e-9);
  return { candidates, points: starts.map((o) => varying.map(({ d, mean, std }) => ((o[d] as number) - mean) / std)) };
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
