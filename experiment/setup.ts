import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { CorruptFileError, writeFileAtomic } from '../policies/binary-file.js';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Env, EnvSpec } from '../control/env.js';
import type { Observation } from '../control/spaces.js';
import { RescaleAction } from '../control/wrappers/action-transforms.js';
import { EpisodeStatistics } from '../control/wrappers/episode-statistics.js';
import { BACKEND_NAMES, DEFAULT_TRAIN_THREADS, describeBackend, selectBackend } from '../policies/backend.js';
import { CorruptCheckpointsError, listCheckpoints, loadLatestCheckpoint } from '../policies/checkpoint.js';
import { isFrameReplayFile } from '../policies/frame-replay.js';
import { ReplayBuffer, replayDims, type RecordedWith, type ReplaySource } from '../policies/replay.js';
import { GaussianActor } from '../policies/sac/actor.js';
import { resolveSacConfig, type SacConfig } from '../policies/sac/config.js';
import { SacLearner } from '../policies/sac/sac.js';
import { episodic, type EpisodicPolicy } from '../policies/evaluate.js';
import { MetricsLog } from '../policies/metrics-log.js';
import { truncateEcho } from '../control/log.js';
import { bestEvaluationOf, type BestEvaluation } from '../policies/run-loop.js';
import { StreamTrainer } from '../policies/stream/trainer.js';
import { resolveStreamConfig } from '../policies/stream/config.js';
import { Rng } from '../control/rng.js';
import { envEntry, listEnvs, make } from '../tasks/registry.js';
import { proprioIndices, splitCameraOptions } from '../tasks/cameras.js';
import { SelectState } from '../sim/camera/observation.js';
import { ExpressionConstraints, type HasStateVariables } from '../control/safety/expressions.js';
import { SafetyLimits, tier0FilterSettings, type JointPositionControl } from '../control/safety/safety-limits.js';
import { SafetyShield } from '../control/safety/shield.js';
import type { WorkspaceBox } from '../control/safety/workspace.js';
import { randomPolicy, type Policy } from '../control/policy.js';
import { findWrapper, unwrap } from '../control/wrappers/wrapper.js';
import { withHuman } from './human.js';
import { scriptedInLearnerUnits } from './learner-units.js';
import { ClassifierReward, RewardClassifier } from '../hil/reward-classifier.js';
import { loadConfig, type ExperimentConfig } from './config.js';
import { UsageError } from './errors.js';

export { learnerUnits, scriptedInLearnerUnits } from './learner-units.js';

/**
 * The env a learner sees: the registered env; declared expression constraints; Tier 0 limits
 * (on by default wherever the task commands joint positions); the task's shield when asked;
 * actions rescaled to [−1, 1]; episode statistics outermost.
 */
export async function makeLearnerEnv(config: ExperimentConfig, log?: (line: string) => void, { human = false, evaluation = false }: { human?: boolean; evaluation?: boolean } = {}): Promise<Env> {
  // Cameras and `state` choose what the task is observed through (tasks/cameras.ts), not the task.
  const observed = splitCameraOptions(config.env.id, config.env.options);
  if (observed.cameras.length) throw new UsageError(`env.options.cameras: this command runs state-vector policies; ${config.env.id} with cameras trains with roborl train (experiment/pixels.ts)`);
  let env = await make(config.env.id, { options: observed.task, timeLimit: config.env.timeLimit ?? true });
  const raw = unwrap(env);
  const safety = config.safety;
  if (safety.constraints.length) {
    if (!hasStateVariables(raw)) throw new Error(`safety.constraints: ${config.env.id} exposes no state variables for cost expressions`);
    env = new ExpressionConstraints(env, raw, safety.constraints).check();
  }
  if (isJointPositionControl(raw)) {
    if (safety.limits === false) log?.(`WARNING: Tier 0 safety limits are OFF for ${config.env.id} (safety.limits: false)`);
    else {
      const { workspace, ...limits } = safety.limits;
      env = new SafetyLimits(env, raw, { ...limits, workspace: workspace === 'task' ? raw.workspace : undefined });
    }
  }
  if (safety.shield) {
    const model = envEntry(config.env.id).shield;
    if (!model) throw new Error(`safety.shield: ${config.env.id} has no shield model (tasks with one: ${listEnvs().filter((id) => envEntry(id).shield).join(', ') || 'none'})`);
    env = new SafetyShield(env, model());
  }
  env = env.spec.actionSpace.kind === 'box' ? new RescaleAction(env) : env;
  // `state: proprio`: the policy sees q, q̇, TCP (and the gripper), not where the goal or the object is.
  if (observed.state === 'proprio') env = new SelectState(env, proprioIndices(env));
  // A learned reward replaces the task's; a simulator's evaluation keeps the task's own success (the honest measure).
  if (config.env.rewardClassifier && !(evaluation && env.spec.kind === 'sim')) {
    const classifier = loadClassifier(config.env.rewardClassifier);
    try {
      env = new ClassifierReward(env, classifier);
    } catch (err) {
      await env.close();
      const hint = classifier.camera ? ` (it looks at camera "${classifier.camera.name}": a camera config, with env.options.cameras, takes it)` : '';
      throw new UsageError(`env.rewardClassifier ${config.env.rewardClassifier}: ${(err as Error).message}${hint}`);
    }
  }
  // The person acts outside the safety layers and the rescaling: their commands pass through both.
  if (human && config.hil) env = await withHuman(env, config, config.hil, log);
  return new EpisodeStatistics(env);
}

export function loadClassifier(path: string): RewardClassifier {
  if (!existsSync(path)) throw new UsageError(`reward classifier ${path} not found: train one with \`roborl classifier train --demos <file.demos> --out ${path}\``);
  return RewardClassifier.load(path);
}

function hasStateVariables(env: Env): env is Env & HasStateVariables {
  return typeof (env as Partial<HasStateVariables>).stateVariables === 'function';
}

function isJointPositionControl(env: Env): env is Env & JointPositionControl & { workspace?: WorkspaceBox } {
  const c = env as Partial<JointPositionControl>;
  return typeof c.actionToTargets === 'function' && typeof c.holdAction === 'function' && c.jointLimits !== undefined;
}

/** The SAC config with its preset applied (SAC runs only). */
export function resolvedAlgo(config: ExperimentConfig): SacConfig {
  if (config.algo.kind !== 'sac') throw new Error(`resolvedAlgo: ${config.algo.kind} is not a SAC config`);
  return resolveSacConfig(config.algo);
}

/** The algo section as the run will use it (presets applied). */
export function resolvedAlgoSection(config: ExperimentConfig): ExperimentConfig['algo'] | SacConfig {
  return config.algo.kind === 'sac' ? resolveSacConfig(config.algo) : resolveStreamConfig(config.algo);
}

/**
 * Makes the config's demo path absolute (relative paths are relative to the config file), so
 * the run folder's copy of the config works from any working directory.
 */
export function absolutizePaths(config: ExperimentConfig, configPath: string): ExperimentConfig {
  const base = dirname(resolve(configPath));
  let out = config;
  // A user's URDF or MJCF named in env options (UrdfReach-v0) is relative to the config file too.
  for (const key of ['urdf', 'mjcf']) {
    const path = out.env.options?.[key];
    if (typeof path === 'string' && !isAbsolute(path)) out = { ...out, env: { ...out.env, options: { ...out.env.options, [key]: resolve(base, path) } } };
  }
  const classifier = out.env.rewardClassifier;
  if (classifier && !isAbsolute(classifier)) out = { ...out, env: { ...out.env, rewardClassifier: resolve(base, classifier) } };
  const init = out.algo.kind === 'sac' ? out.algo.encoder?.init : undefined;
  if (out.algo.kind === 'sac' && out.algo.encoder && init && !isAbsolute(init)) out = { ...out, algo: { ...out.algo, encoder: { ...out.algo.encoder, init: resolve(base, init) } } };
  const demos = out.algo.kind === 'sac' ? out.algo.demos : undefined;
  if (out.algo.kind !== 'sac' || !demos || isAbsolute(demos.path)) return out;
  return { ...out, algo: { ...out.algo, demos: { ...demos, path: resolve(base, demos.path) } } };
}

/** The folder a new run will use: `explicit`, or runs/<name>-<time>. Refuses a folder that is not empty (checked before anything is written). */
export function newRunDirPath(config: ExperimentConfig, explicit: string | undefined): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const dir = resolve(explicit ?? join('runs', `${config.name}-${stamp}`));
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new UsageError(`run folder ${dir} already exists and is not empty: continue it with \`roborl train --resume ${dir}\`, or pick another --run-dir`);
  }
  return dir;
}

/** The run's config.yaml: every default filled in, presets applied. */
export function resolvedConfigYaml(config: ExperimentConfig): string {
  const resolvedConfig = { ...config, algo: resolvedAlgoSection(config) };
  return `# resolved by roborl ${new Date().toISOString()}\n${stringify(resolvedConfig)}`;
}

/** Creates the run folder and writes the resolved config (atomically). */
export function writeRunDir(dir: string, config: ExperimentConfig): void {
  mkdirSync(join(dir, 'checkpoints'), { recursive: true });
  writeFileAtomic(join(dir, 'config.yaml'), resolvedConfigYaml(config));
}

/** Loads the config a run was started with. */
export function loadRunConfig(runDir: string): ExperimentConfig {
  const path = join(runDir, 'config.yaml');
  if (!existsSync(path)) throw new UsageError(`${runDir} is not a roborl run folder (no config.yaml)`);
  return loadConfig(path);
}

/** Demo episodes a config's file holds where its `algo.demos.episodes` does not say. */
const DEFAULT_DEMO_EPISODES = 20;

/** How a config's demos are recorded: its `algo.demos` episodes and starts, where it states them. */
export type DemoRecipe = Pick<NonNullable<SacConfig['demos']>, 'episodes' | 'starts'>;

/** A recipe with its defaults filled in: what `record-demos --config` records where the config is silent. */
export function demoRecipeOrDefaults(recipe?: DemoRecipe): Required<DemoRecipe> {
  return { episodes: recipe?.episodes ?? DEFAULT_DEMO_EPISODES, starts: recipe?.starts ?? 'all' };
}

/** The command that records a config's demo file at `path` as its `algo.demos` says (the hint of every demo error). */
export function recordDemosCommandLine(configPath: string, path: string, recipe?: DemoRecipe): string {
  const { episodes, starts } = demoRecipeOrDefaults(recipe);
  return `npx roborl record-demos --config ${configPath} --episodes ${episodes}${starts === 'all' ? '' : ` --starts ${starts}`} --out ${path}`;
}

/**
 * Loads a demo file (an absolute path, see {@link absolutizePaths}). A missing one is explained
 * with the command that records it through `configPath` (the training config): demos must be
 * recorded with its env options (e.g. the tool-frame action) and safety limits, which `--env`
 * alone would not apply.
 */
export function loadDemos(path: string, configPath: string, env: EnvSpec, recordedWith?: RecordedWith, recipe?: DemoRecipe): ReplayBuffer {
  const record = `record them with \`${recordDemosCommandLine(configPath, path, recipe)}\``;
  if (!existsSync(path)) throw new UsageError(`demo file ${path} not found: ${record.replace('them', 'it')}`);
  if (isFrameReplayFile(path)) throw new UsageError(`${path} holds demos with camera frames (recorded with a camera config); this config observes ${env.id}'s state vector: ${record}`);
  let table: ReplayBuffer;
  try {
    table = ReplayBuffer.load(path, replayDims(env));
  } catch (err) {
    if (!(err instanceof CorruptFileError)) throw err;
    throw new UsageError(`demo file ${path}: ${withoutPath(err.message, path)} (${record})`);
  }
  checkDemoSource(path, table.source, env, record, recordedWith);
  checkDemoRecipe(path, table.source, record, recipe);
  return table;
}

/**
 * A scripted recording against the config's `algo.demos.episodes` / `starts`, where the config
 * states them (a file recorded with other flags, e.g. 3 quick episodes over the config's 20, is
 * refused rather than trained on). Files without the label (older ones, a person's) pass.
 */
export function checkDemoRecipe(path: string, source: ReplaySource | undefined, record: string, recipe?: DemoRecipe): void {
  const expert = source?.expert;
  if (!expert || !recipe) return;
  const episodes = recipe.episodes;
  const starts = recipe.starts;
  if ((episodes !== undefined && expert.episodes !== episodes) || (starts !== undefined && expert.starts !== starts)) {
    throw new UsageError(`${path}: the scripted expert's ${expert.episodes} episode(s) from ${expert.starts} starts, where this config's algo.demos says ${episodes ?? expert.episodes} from ${starts ?? expert.starts} starts: ${record} (or change algo.demos)`);
  }
}

/**
 * What a demo file is labelled with and checked against ({@link ReplaySource.recordedWith}): the
 * config's `env.options` but the observation's (`cameras`, `state`) and the `engine`, and its reward
 * classifier, as JSON data; paths as `absolutizePaths` leaves them; and the safety layers `env`
 * (the recording's or the training's learner env) applies, which filter the actions the table
 * holds and define its cost columns: Tier 0's limits with their defaults filled in (`false` where
 * the stack has none: limits off, or a task that does not command joint positions; the watchdog
 * is left out, it acts on wall-clock gaps), whether the shield is in the stack, and the named
 * constraints' expressions. On a robot, Tier 0 is the robot YAML's on both sides; the label
 * compares the configs'.
 */
export function recordedWithOf(config: ExperimentConfig, env: Env<Observation>): RecordedWith {
  const { cameras: _c, state: _s, engine: _e, ...options } = config.env.options;
  // The classifier's content too: one trained again at the same path gives other rewards.
  const path = config.env.rewardClassifier;
  let digest = {};
  try {
    if (path && existsSync(path)) digest = { rewardClassifierSha256: createHash('sha256').update(readFileSync(path)).digest('hex') };
  } catch {
    // Not a readable file: no digest here; loading the classifier says what is wrong.
  }
  const l = config.safety.limits;
  const tier0 = l !== false && findWrapper(env as Env, SafetyLimits) !== undefined;
  const limits = tier0 ? { ...tier0FilterSettings(l), maxActionRate: l.maxActionRate ?? null, workspace: l.workspace } : false;
  const safety = { limits, shield: findWrapper(env as Env, SafetyShield) !== undefined, constraints: config.safety.constraints.map(({ name, cost }) => ({ name, cost })) };
  return JSON.parse(JSON.stringify({ options, rewardClassifier: path ?? null, ...digest, safety })) as RecordedWith;
}

/** {@link recordedWithOf} for the config's simulator learner stack: what a robot recording is labelled with (its Tier 0 is the robot YAML's). */
export async function simulatorLabel(config: ExperimentConfig): Promise<RecordedWith> {
  const env = await makeLearnerEnv({ ...config, hil: undefined });
  try {
    return recordedWithOf(config, env);
  } finally {
    await env.close();
  }
}

/** The first path (its keys, outermost first) where two JSON values differ, `[]` for the values themselves, or null when equal. Both are checked labels a few levels deep (camera configs, task options). */
export function firstDifference(a: unknown, b: unknown, at: readonly string[] = []): string[] | null {
  if (a === b) return null;
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  if (!isObj(a) || !isObj(b) || Array.isArray(a) !== Array.isArray(b)) return [...at];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = firstDifference(Object.hasOwn(a, k) ? a[k] : undefined, Object.hasOwn(b, k) ? b[k] : undefined, [...at, k]);
    if (d !== null) return d;
  }
  return null;
}

/** The value at a {@link firstDifference} path (undefined where it is absent). */
export function valueAt(v: unknown, path: readonly string[]): unknown {
  let cur = v;
  for (const k of path) cur = typeof cur === 'object' && cur !== null && Object.hasOwn(cur, k) ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

/** A {@link firstDifference} path for a message: plain keys joined by dots, any other key as a JSON string; bounded (keys come from files). */
export function showPath(path: readonly string[], whole = 'the whole'): string {
  if (path.length === 0) return whole;
  return truncateEcho(path.map((k) => (/^[A-Za-z0-9_-]{1,64}$/.test(k) ? k : JSON.stringify(k))).join('.'), 120);
}

/** A label's value for a message: JSON, bounded; `absent` where there is none. */
export function showValue(v: unknown): string {
  return v === undefined ? 'absent' : truncateEcho(JSON.stringify(v));
}

/** A file error's message without the path it starts with, for a message that names the path already. */
export function withoutPath(message: string, path: string): string {
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}

/**
 * Same shape is not same meaning: a demo table labelled with another task, or with other
 * observation entries (PandaPush-v0's metres against v1's decimetres; a camera config's state
 * entries), would be mixed into every batch. Tables written before the label pass as they are.
 * `record` says how to record the right ones.
 */
export function checkDemoSource(path: string, source: ReplaySource | undefined, env: Pick<EnvSpec, 'id' | 'observationNames'>, record: string, recordedWith?: RecordedWith): void {
  if (!source) return;
  if (source.env !== env.id) throw new UsageError(`${path} holds demos of ${JSON.stringify(source.env)}, but this config trains ${env.id}: ${record}`);
  if (source.recordedWith && recordedWith) {
    // Labels from before the classifier's digest or the safety section was recorded pass unchecked
    // on it, as files from before a label do.
    const { rewardClassifierSha256: digest, safety, ...older } = recordedWith;
    const ours = { ...older, ...(source.recordedWith.rewardClassifierSha256 === undefined || digest === undefined ? {} : { rewardClassifierSha256: digest }), ...(source.recordedWith.safety === undefined ? {} : { safety }) };
    const field = firstDifference(source.recordedWith, ours);
    if (field !== null) throw new UsageError(`${path}: recorded under another config than this one (rewards, episode ends or actions may differ; options compare as the configs write them${field[0] === 'rewardClassifierSha256' ? '; here the classifier file changed since, e.g. trained again' : ''}) — at ${showPath(field, 'the label')}: ${showValue(valueAt(source.recordedWith, field))} in the demos, ${showValue(valueAt(ours, field))} in this config: ${record}`);
  }
  const ours = env.observationNames;
  const theirs = source.observationNames;
  if (!ours || !theirs) return;
  let k = 0;
  while (k < Math.max(ours.length, theirs.length) && ours[k] === theirs[k]) k++;
  if (k < Math.max(ours.length, theirs.length)) throw new UsageError(`${path}: observation entry ${k} is ${JSON.stringify(theirs[k] ?? '(none)')} in the demos and ${JSON.stringify(ours[k] ?? '(none)')} in ${env.id}: ${record}`);
}

const BACKENDS = BACKEND_NAMES;

/** Applies `--backend NAME` over the config's `backend`. */
export function withBackendFlag(config: ExperimentConfig, flag: string | undefined): ExperimentConfig {
  if (flag === undefined) return config;
  if (!(BACKENDS as readonly string[]).includes(flag)) throw new UsageError(`Expected --backend to be one of ${BACKENDS.join(', ')}, got \`${flag}\``);
  return { ...config, backend: flag as ExperimentConfig['backend'] };
}

export async function useBackend(config: ExperimentConfig, log: (s: string) => void): Promise<void> {
  log(describeBackend(await selectBackend(config.backend, { threads: config.train.threads ?? DEFAULT_TRAIN_THREADS })));
}

/**
 * The fixed policy a stream-td config predicts values for: the task's scripted expert (seeing
 * the learner env's observations; actions are rescaled to [−1, 1] like a learner's), or
 * uniform random actions.
 */
export function fixedPolicyFor(config: ExperimentConfig, env: Env): Policy | undefined {
  if (config.algo.kind !== 'stream-td') return undefined;
  if (config.algo.policy === 'random') return randomPolicy(env.spec.actionSpace, new Rng(config.seed + 77));
  return scriptedInLearnerUnits(config.env.id, env);
}

/** A SAC / RLPD run's learner as its checkpoint holds it, for the run's env (state observations). */
export function sacLearnerFromCheckpoint(config: ExperimentConfig, env: Env, ckpt: NonNullable<ReturnType<typeof loadLatestCheckpoint>>): SacLearner {
  const space = env.spec.actionSpace;
  if (space.kind !== 'box') throw new UsageError('SAC runs need a Box action space');
  const algo = resolvedAlgo(config);
  // A SAC-Lagrangian checkpoint also holds its cost critics: build the same learner to read it.
  const costColumns = Object.keys(algo.safe?.constraints ?? {}).map((n) => env.spec.constraints.indexOf(n));
  const learner = new SacLearner(algo, env.spec.observationSpace.low.length, space.low.length, new Rng(0), costColumns, env.spec.constraints.length);
  learner.importState(ckpt.header['learner'] as Record<string, unknown>, ckpt.sections.slice(0, ckpt.header['learnerSections'] as number));
  return learner;
}

/** A run folder's subfolder with the policy of its best evaluation (SAC / RLPD runs; `roborl eval --best`). */
export const BEST_DIR = 'best';

/**
 * The checkpoint a policy is read from: the newest, or with `best` the best evaluation's policy
 * ({@link BEST_DIR}, with the evaluation it was kept for). Throws a UsageError naming what is missing.
 */
export function policyCheckpoint(runDir: string, config: ExperimentConfig, best: boolean): { ckpt: NonNullable<ReturnType<typeof loadLatestCheckpoint>>; kept: BestEvaluation | null } {
  if (!best) {
    const ckpt = loadLatestCheckpoint(join(runDir, 'checkpoints'));
    if (!ckpt) throw new UsageError(`${runDir} has no checkpoint yet`);
    return { ckpt, kept: null };
  }
  if (config.algo.kind !== 'sac') throw new UsageError(`${runDir}: --best: a streaming run keeps no best policy (only SAC / RLPD runs do)`);
  const dir = join(runDir, BEST_DIR);
  let ckpt: ReturnType<typeof loadLatestCheckpoint>;
  try {
    ckpt = loadLatestCheckpoint(dir);
  } catch (err) {
    if (!(err instanceof CorruptCheckpointsError)) throw err;
    throw new UsageError(`the best-policy file in ${dir} does not verify (${listCheckpoints(dir).join(', ')}): the run's next evaluation replaces it; \`roborl eval ${runDir}\` runs its newest checkpoint`);
  }
  if (!ckpt) throw new UsageError(`${runDir} has no best policy yet (${BEST_DIR}/ is written at the first evaluation)`);
  const kept = bestEvaluationOf(ckpt.header);
  if (!kept) throw new UsageError(`${ckpt.path}: not a best-policy file (no evaluation recorded in it)`);
  return { ckpt, kept };
}

/** A checkpoint's learner state into `load`; a file whose networks do not fit the run's config is named, not a stack trace. */
export function importLearnerFrom<T>(ckpt: { path: string; header: Record<string, unknown> }, load: () => T): T {
  const h = ckpt.header['learner'];
  if (typeof h !== 'object' || h === null || typeof ckpt.header['learnerSections'] !== 'number') throw new UsageError(`${ckpt.path}: holds no SAC learner (not a SAC / RLPD run's checkpoint)`);
  try {
    return load();
  } catch (err) {
    throw new UsageError(`${ckpt.path}: its networks do not fit this run's config (${truncateEcho((err as Error).message.split('\n')[0] ?? '')})`);
  }
}


/** The deterministic policy of a run's newest checkpoint, or with `best` its best evaluation's (mean action / greedy, frozen normalisation). */
export async function loadRunPolicy(runDir: string, { best = false }: { best?: boolean } = {}): Promise<{ config: ExperimentConfig; policy: EpisodicPolicy; step: number; kept: BestEvaluation | null }> {
  const config = loadRunConfig(runDir);
  await selectBackend(config.backend);
  const checkpointDir = join(runDir, 'checkpoints');
  const { ckpt, kept } = policyCheckpoint(runDir, config, best);
  const env = await makeLearnerEnv(config, undefined, { evaluation: true });
  try {
    if (config.algo.kind !== 'sac') {
      const trainer = new StreamTrainer({ env, evalEnv: env, config: config.algo, schedule: config.train, seed: config.seed, checkpointDir, metrics: new MetricsLog(join(runDir, 'metrics.jsonl')), fixedPolicy: fixedPolicyFor(config, env) });
      trainer.resume({ truncateMetrics: false });
      return { config, policy: trainer.policy(), step: ckpt.step, kept };
    }
    const learner = importLearnerFrom(ckpt, () => sacLearnerFromCheckpoint(config, env, ckpt));
    const actor = new GaussianActor(learner.snapshot(), new Rng(0));
    learner.dispose();
    return { config, policy: episodic((o) => actor.act(o, true)), step: ckpt.step, kept };
  } finally {
    await env.close();
  }
}
