import { join } from 'node:path';
import type { Env, EnvSpec } from '../control/env.js';
import { seedAt } from '../control/rng.js';
import { findSceneSource, SceneRecorder } from '../control/scene.js';
import { EpisodeStatistics } from '../control/wrappers/episode-statistics.js';
import type { DictObservation } from '../control/spaces.js';
import type { Transition } from '../control/transition.js';
import { ClassifierReward, type RewardClassifier } from '../hil/reward-classifier.js';
import { removeStaleTempFiles, writeFileAtomic } from '../policies/binary-file.js';
import { selectBackend } from '../policies/backend.js';
import { FrameReplay } from '../policies/frame-replay.js';
import type { FrameSource, RecordedWith } from '../policies/replay.js';
import { GaussianActor } from '../policies/sac/actor.js';
import { SacLearner } from '../policies/sac/sac.js';
import { Rng } from '../control/rng.js';
import { MetricsLog } from '../policies/metrics-log.js';
import type { BestEvaluation, TrainerProgress } from '../policies/run-loop.js';
import { cameraShapes, PixelTrainer } from '../policies/sac/pixel-trainer.js';
import { RENDERER_VERSION } from '../sim/camera/camera.js';
import { parseCameras, type CameraConfig } from '../sim/camera/config.js';
import { truncateEcho } from '../control/log.js';
import { CameraObservation } from '../sim/camera/observation.js';
import { proprioIndices, splitCameraOptions } from '../tasks/cameras.js';
import { envEntry } from '../tasks/registry.js';
import type { ExperimentConfig } from './config.js';
import { UsageError } from './errors.js';
import { scriptedInLearnerUnits } from './learner-units.js';
import { BEST_DIR, checkDemoRecipe, checkDemoSource, firstDifference, importLearnerFrom, loadClassifier, loadRunConfig, makeLearnerEnv, policyCheckpoint, recordDemosCommandLine, recordedWithOf, resolvedAlgo, type DemoRecipe, resolvedConfigYaml, showPath, showValue, valueAt, withoutPath, writeRunDir } from './setup.js';
import { writeRunStatus } from './run-status.js';

/** Whether a config's env observes camera frames (`env.options.cameras`). */
export function hasCameras(config: ExperimentConfig): boolean {
  return splitCameraOptions(config.env.id, config.env.options).cameras.length > 0;
}

/**
 * The config without its cameras (the vector env the cameras look at), the cameras, and its learned
 * reward, taken out too: a classifier that looks at the frames goes outside the cameras.
 */
export function withoutCameras(config: ExperimentConfig, state: 'keep' | 'full'): { inner: ExperimentConfig; cameras: readonly CameraConfig[]; rewardClassifier: string | undefined } {
  const { cameras: _c, ...options } = config.env.options;
  if (state === 'full') delete options['state'];
  const { rewardClassifier, ...env } = config.env;
  return { inner: { ...config, env: { ...env, options } }, cameras: splitCameraOptions(config.env.id, config.env.options).cameras, rewardClassifier };
}

function observe(env: Env, cameras: readonly CameraConfig[]): CameraObservation {
  const source = findSceneSource(env);
  if (!source) throw new UsageError(`env.options.cameras: ${env.spec.id} has no scene to render`);
  return new CameraObservation(env, source, cameras);
}

/**
 * The env a pixel learner sees: the learner env of the config without its cameras (task
 * options, `state`, safety layers, actions in [−1, 1], episode statistics), observed through the
 * cameras (`{state, <camera>…}`). A learned reward (`env.rewardClassifier`, one trained on camera
 * demos: `roborl classifier train`) looks at the frames, so it sits outside the cameras, with the
 * episode statistics over it; an evaluation keeps the task's own success (the honest measure), as
 * state runs do. A person in the loop is not wired for camera runs yet: refused by name.
 */
export async function makePixelLearnerEnv(config: ExperimentConfig, log?: (line: string) => void, { evaluation = false }: { evaluation?: boolean } = {}): Promise<Env<DictObservation>> {
  if (config.hil) throw new UsageError('hil: a person in the loop is not wired for camera observations yet (drop hil:, or env.options.cameras)');
  const { inner, cameras, rewardClassifier } = withoutCameras(config, 'keep');
  const classifier = rewardClassifier && !evaluation ? loadCameraClassifier(rewardClassifier, cameras) : null;
  const observed = observe(await makeLearnerEnv(inner, log, { evaluation }), cameras);
  if (!classifier) return observed;
  try {
    return new EpisodeStatistics(new ClassifierReward(observed, classifier));
  } catch (err) {
    await observed.close();
    throw new UsageError(`env.rewardClassifier ${rewardClassifier}: ${(err as Error).message}`);
  }
}

/**
 * A config's learned reward for a camera run: loaded, and, when it looks at a camera it was
 * trained on, that camera compared with the config's of the same name (renderer, pose, optics),
 * as camera demos are — a classifier trained on another view scores images it never saw.
 */
function loadCameraClassifier(path: string, cameras: readonly CameraConfig[]): RewardClassifier {
  const classifier = loadClassifier(path);
  const camera = classifier.camera;
  const ours = camera ? cameras.find((c) => c.name === camera.name) : undefined;
  if (camera && ours && classifier.meta.frames) checkFrameSource(path, classifier.meta.frames, [ours], `train it again from demos recorded with this config's cameras (\`npx roborl classifier train --demos <those demos> --out ${path}\`)`);
  return classifier;
}

/**
 * The scripted expert's demos with camera frames: the expert acts on the task's full state (it
 * needs the goal), the table stores what the learner will observe — the config's `state`
 * (proprioception with `state: proprio`) and the frames. Successful episodes only (or all, with
 * `keepFailures`). With `policy` (a camera run's, {@link loadRecordingPolicy}) it acts instead,
 * on what the learner observes: its episodes, failures kept, are the negatives a success
 * classifier needs (HIL-SERL's come from the policy's own runs).
 */
export async function recordPixelDemonstrations(config: ExperimentConfig, episodes: number, seed: number, keepFailures: boolean, onEpisode?: (successes: number, attempts: number) => void, policy?: { reset(): void; act(obs: DictObservation): Float32Array }): Promise<{ table: FrameReplay; successes: number; attempts: number }> {
  const id = config.env.id;
  if (!policy && !envEntry(id).scripted) throw new UsageError(`${id} has no scripted expert`);
  const { state } = splitCameraOptions(id, config.env.options);
  const { inner, cameras, rewardClassifier } = withoutCameras(config, 'full');
  // A learned reward goes outside the cameras, shown what the learner sees.
  const classifier = rewardClassifier ? loadCameraClassifier(rewardClassifier, cameras) : null;
  const full = await makeLearnerEnv(inner);
  const observed = observe(full, cameras);
  const pick = state === 'proprio' ? proprioIndices(full) : null;
  const stateOf = (o: DictObservation): DictObservation => (pick ? { ...o, state: Float32Array.from(pick, (i) => o.state[i] as number) } : o);
  let env: Env<DictObservation> = observed;
  try {
    if (classifier) env = new ClassifierReward(observed, classifier, { of: stateOf, stateLength: pick ? pick.length : observed.spec.observationSpace.state.low.length });
  } catch (err) {
    await observed.close();
    throw new UsageError(`env.rewardClassifier ${rewardClassifier}: ${(err as Error).message}`);
  }
  try {
    const expert = policy ? null : scriptedInLearnerUnits(id, full);
    const kept: Transition<DictObservation>[] = [];
    let attempts = 0;
    let successes = 0;
    while (keepFailures ? attempts < episodes : successes < episodes) {
      if (!keepFailures && attempts >= episodes * 5) throw new Error(`the ${policy ? 'policy' : 'expert'} succeeded in only ${successes} of ${attempts} episodes; use --keep-failures to keep them all`);
      const ep: Transition<DictObservation>[] = [];
      let { obs } = await env.reset({ seed: seedAt(seed, attempts) });
      policy?.reset();
      let success = false;
      for (;;) {
        const action = expert ? expert(obs.state) : (policy as { act(obs: DictObservation): Float32Array }).act(stateOf(obs));
        const r = await env.step(action);
        // At the last step, as evaluation counts it. With a learned reward, a success is one the
        // classifier and the task agree on: a classifier's false success would teach a wrong goal.
        success = r.info.success === true && (!classifier || r.info.metrics?.['envSuccess'] === 1);
        ep.push({ obs: stateOf(obs), action: r.info.safety?.executed ?? action, reward: r.reward, costs: r.costs, nextObs: stateOf(r.obs), terminated: r.terminated, truncated: r.truncated });
        obs = r.obs;
        if (r.terminated || r.truncated) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      attempts++;
      if (success) successes++;
      if (success || keepFailures) kept.push(...ep);
      onEpisode?.(successes, attempts);
    }
    const space = env.spec.observationSpace;
    const first = kept[0];
    const obsDim = first ? first.obs.state.length : space.state.low.length;
    const actDim = env.spec.actionSpace.kind === 'box' ? env.spec.actionSpace.low.length : 1;
    const table = new FrameReplay({ capacity: Math.max(2, kept.length + Math.max(1, keepFailures ? attempts : successes)), obsDim, actDim, costDim: env.spec.constraints.length, cameras: cameraShapes(space) });
    kept.forEach((t) => table.add(t));
    // Labelled with the task and the state entries the learner observes (checked when a config loads it).
    const names = full.spec.observationNames;
    // …and the renderer and cameras that drew the frames (checked against the config's cameras too).
    // …and, for the scripted expert's, how many episodes (from consecutive starts: a camera config
    // cannot ask for spread ones), checked against the config's algo.demos as state demos are.
    const expertLabel = policy ? {} : { expert: { episodes: keepFailures ? attempts : successes, starts: 'all' } };
    table.source = { env: id, ...(names ? { observationNames: pick ? pick.map((i) => names[i] as string) : [...names] } : {}), frames: { renderer: RENDERER_VERSION, cameras: cameraLabel(cameras) }, recordedWith: recordedWithOf(config, env), ...expertLabel };
    return { table, successes, attempts };
  } finally {
    await env.close();
  }
}

/**
 * A camera run's policy (its newest checkpoint, deterministic) to record with `config`: the run
 * must observe what the config does — the same task, `state` and cameras (as camera demos are
 * compared) — or it is refused by name.
 */
export async function loadRecordingPolicy(runDir: string, config: ExperimentConfig): Promise<{ reset(): void; act(obs: DictObservation): Float32Array }> {
  if (!hasCameras(loadRunConfig(runDir))) throw new UsageError(`--policy ${runDir}: a state run (its config has no env.options.cameras); a camera run's policy records with a camera config`);
  const actionOf = (c: ExperimentConfig): unknown => c.env.options['action'] ?? null;
  const run = await loadPixelRunPolicy(runDir);
  const action = firstDifference(actionOf(run.config), actionOf(config));
  if (action !== null) throw new UsageError(`--policy ${runDir}: the run acts with env.options.action ${showValue(actionOf(run.config))}, this config with ${showValue(actionOf(config))}`);
  const theirs = splitCameraOptions(run.config.env.id, run.config.env.options);
  const ours = splitCameraOptions(config.env.id, config.env.options);
  if (run.config.env.id !== config.env.id) throw new UsageError(`--policy ${runDir}: the run trained ${run.config.env.id}; this config is ${config.env.id}`);
  if (theirs.state !== ours.state) throw new UsageError(`--policy ${runDir}: the run observed state: ${theirs.state}; this config state: ${ours.state}`);
  const field = firstDifference(cameraLabel(theirs.cameras), cameraLabel(ours.cameras));
  if (field !== null) throw new UsageError(`--policy ${runDir}: the run's cameras differ from this config's at ${showPath(field, 'the cameras')}`);
  return run.policy;
}

/** What {@link trainPixels} needs from the train command. */
export interface PixelRun {
  readonly config: ExperimentConfig;
  readonly runDir: string;
  /** The config file the run was started from (its demos are recorded with it: a missing or mismatched demo file's hint names it). */
  readonly configPath: string;
  /** Set when continuing a run (its checkpoint step, or null when it has none yet). */
  readonly resume: { readonly from: number | null; readonly stepsChanged: boolean } | null;
  readonly log: (line: string) => void;
  readonly onStep?: (p: TrainerProgress) => void;
  /**
   * Train on a robot (`roborl train --robot`): the training env it connects (a robot env with the
   * config's cameras, experiment/robot-learner-env.ts), and what to write in the run folder once
   * it exists. Evaluations stay on the simulator.
   */
  readonly robot?: { readonly makeEnv: () => Promise<Env<DictObservation>>; readonly onRunDir: () => void };
  /** The command that continues this run, for a failure's message (default `roborl train --resume <runDir>`; a robot run's needs its `--robot`). */
  readonly resumeCommand?: string;
}

/**
 * `roborl train` for a config with cameras: SAC / RLPD with the conv encoder over
 * {@link makePixelLearnerEnv}, demos with frames (`roborl record-demos --config` on the same
 * config), checkpoints with the frame replay, `--resume`. Returns the final evaluation's line.
 * SIGINT/SIGTERM stop after the current step with a checkpoint.
 */
export async function trainPixels(run: PixelRun): Promise<{ line: string; signal: NodeJS.Signals | null }> {
  const { config, runDir, log } = run;
  if (config.algo.kind !== 'sac') throw new UsageError(`env.options.cameras: camera observations train with algo.kind: sac (with algo.encoder: {kind: conv}); got ${config.algo.kind}`);
  if (config.distributed) throw new UsageError('distributed: camera runs train in one process for now (drop distributed:)');
  if (config.safety.constraints.length) throw new UsageError('safety.constraints: constrained (SAC-Lagrangian) camera runs are not wired yet');
  const algo = resolvedAlgo(config);
  if (!algo.encoder) throw new UsageError('env.options.cameras: the agent needs an image encoder: add algo.encoder: {kind: conv}');
  if (algo.safe) throw new UsageError('algo.safe: constrained camera runs are not wired yet');
  // The first episode of every evaluation is recorded for the dashboard's 3D view and its camera panel (runDir/scenes/).
  const { inner, cameras } = withoutCameras(config, 'keep');
  const recorder = new SceneRecorder(await makeLearnerEnv(inner, undefined, { evaluation: true }));
  const evalEnv = observe(recorder, cameras);
  let env: Env<DictObservation>;
  try {
    env = run.robot ? await run.robot.makeEnv() : await makePixelLearnerEnv(config, log);
  } catch (err) {
    await evalEnv.close();
    throw err;
  }
  let trainer: PixelTrainer | null = null;
  try {
    // Labelled as the simulator's stack (evalEnv), on a robot too: the robot YAML's Tier 0 is not the config's.
    const demos = algo.demos ? loadPixelDemos(algo.demos.path, run.configPath, env.spec, cameras, recordedWithOf(config, evalEnv), algo.demos) : undefined;
    if (demos) log(`${demos.size} demo transitions (with frames) from ${algo.demos?.path}`);
    trainer = new PixelTrainer({ env, evalEnv, config: algo, schedule: config.train, seed: config.seed, checkpointDir: join(runDir, 'checkpoints'), bestDir: join(runDir, BEST_DIR), metrics: new MetricsLog(join(runDir, 'metrics.jsonl')), demos, log, onStep: run.onStep });
    const t = trainer;
    // Another run's encoders (before anything is written here; a resumed run has its own in its checkpoint).
    if (algo.encoder.init && !(run.resume && run.resume.from !== null)) {
      try {
        log(t.loadEncoders(algo.encoder.init));
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    } else if (algo.encoder.frozen && !algo.encoder.init && !run.resume) log('encoder.frozen without encoder.init: the encoders stay at their random initialisation (random conv features)');
    if (recorder.available) t.beforeEvaluation = (step) => recorder.recordNext(join(runDir, 'scenes', `eval-${String(step).padStart(9, '0')}.scene.jsonl`));
    log(`replay: ${t.bytesPerTransition.toFixed(0)} bytes per transition (frames stored once)`);
    if (run.resume) {
      const stale = [...removeStaleTempFiles(runDir), ...removeStaleTempFiles(join(runDir, 'checkpoints')), ...removeStaleTempFiles(join(runDir, BEST_DIR))];
      if (stale.length) log(`removed ${stale.length} temp file(s) a killed run left behind: ${stale.join(', ')}`);
      if (run.resume.stepsChanged) writeFileAtomic(join(runDir, 'config.yaml'), resolvedConfigYaml(config));
      if (run.resume.from !== null) t.resume();
      else {
        const dropped = new MetricsLog(join(runDir, 'metrics.jsonl')).truncateAfter(-1);
        log(`no checkpoint in ${runDir} yet: starting from step 0${dropped ? ` (${dropped} metric lines of the lost attempt dropped)` : ''}`);
      }
    } else writeRunDir(runDir, config);
    run.robot?.onRunDir();
    writeRunStatus(runDir, { state: 'running', pid: process.pid, step: t.step, steps: config.train.steps });
    log(`run folder: ${runDir} · learner sac with cameras ${Object.keys(env.spec.observationSpace.cameras).join(', ')}`);
    let signal: NodeJS.Signals | null = null;
    const stop = (s: NodeJS.Signals): void => {
      signal = s;
      t.requestStop();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const final = await t.run().catch((err: unknown) => {
        const path = t.checkpoint();
        writeRunStatus(runDir, { state: 'failed', pid: process.pid, step: t.step, steps: config.train.steps, error: (err as Error).message ?? String(err) });
        throw new Error(`${(err as Error).message}\n(step ${t.step}; checkpoint written: ${path}; continue with: ${run.resumeCommand ?? `roborl train --resume ${runDir}`})`, { cause: err });
      });
      writeRunStatus(runDir, { state: signal ? 'stopped' : 'finished', pid: process.pid, step: t.step, steps: config.train.steps });
      return { line: `${config.name}: ${t.step} env steps · final evaluation return ${final.returnMean.toFixed(2)} ± ${final.returnStd.toFixed(2)}, success ${(100 * final.successRate).toFixed(0)}%\nrun folder: ${runDir}\n`, signal };
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  } finally {
    trainer?.dispose();
    await Promise.all([env.close(), evalEnv.close()]);
  }
}

/**
 * A demo file with frames, checked against the config's env: its label (task and state entries,
 * {@link checkDemoSource}) here, its state size and cameras by the trainer.
 */
export function loadPixelDemos(path: string, configPath: string, env: Pick<EnvSpec, 'id' | 'observationNames'>, cameras: readonly CameraConfig[], recordedWith?: RecordedWith, recipe?: DemoRecipe): FrameReplay {
  const record = `record them with \`${recordDemosCommandLine(configPath, path, recipe)}\``;
  let table: FrameReplay;
  try {
    table = FrameReplay.load(path);
  } catch (err) {
    throw new UsageError(`demo file ${path}: ${withoutPath((err as Error).message, path)} (${record})`);
  }
  checkDemoSource(path, table.source, env, record, recordedWith);
  checkDemoRecipe(path, table.source, record, recipe);
  checkFrameSource(path, table.source?.frames, cameras, record);
  return table;
}

/**
 * The cameras as a demo file's label holds them, and as they are compared: their configs with
 * every default filled in (a field added to the schema later compares as its default, not as a
 * difference) and a randomisation that draws nothing (every amplitude 0, intensity 1) dropped
 * (`randomize: {}` draws what no `randomize` draws), as JSON data.
 */
function cameraLabel(cameras: readonly CameraConfig[]): unknown[] {
  return cameras.map((c) => {
    const { randomize, ...rest } = c;
    const still = !randomize || (randomize.positionM === 0 && randomize.rotationDeg === 0 && randomize.lightDirectionDeg === 0 && randomize.colorJitter === 0 && randomize.lightIntensity[0] === 1 && randomize.lightIntensity[1] === 1);
    return JSON.parse(JSON.stringify(still ? rest : c)) as unknown;
  });
}

/**
 * Frames drawn by another renderer version, or by cameras placed, aimed or randomised otherwise
 * than the config's, would train the encoder on images the policy never sees: refused by name.
 * The file's cameras are read through today's camera schema (defaults filled in) before the
 * comparison. Files recorded before the label pass as they are.
 */
function checkFrameSource(path: string, frames: FrameSource | undefined, cameras: readonly CameraConfig[], record: string): void {
  if (!frames) return;
  if (frames.renderer !== RENDERER_VERSION) throw new UsageError(`${path}: its frames were drawn by renderer version ${frames.renderer}, and this roborl draws version ${RENDERER_VERSION} (the image of a scene changed): ${record}`);
  let theirs: unknown[];
  try {
    theirs = cameraLabel(parseCameras(frames.cameras, 'source.frames.cameras'));
  } catch (err) {
    throw new UsageError(`${path}: the cameras its frames were drawn with are not camera configs this roborl reads (${truncateEcho((err as Error).message)}): ${record}`);
  }
  const ours = cameraLabel(cameras);
  const name = (c: unknown, i: number): string => truncateEcho(JSON.stringify((c as { name?: unknown } | null)?.name ?? `#${i}`), 60);
  if (theirs.length !== ours.length) throw new UsageError(`${path}: its frames come from ${theirs.length} camera(s) (${theirs.map(name).join(', ')}), this config has ${ours.length} (${ours.map(name).join(', ')}): ${record}`);
  ours.forEach((c, i) => {
    const field = firstDifference(theirs[i], c);
    if (field !== null) throw new UsageError(`${path}: camera ${i} (${name(c, i)}) differs from the one the demos were drawn with at ${showPath(field, 'the camera')}: ${showValue(valueAt(theirs[i], field))} in the demos, ${showValue(valueAt(c, field))} in this config: ${record}`);
  });
}

/**
 * The deterministic policy (mean action) of a camera run's newest checkpoint, acting on
 * `{state, <camera>…}` — what `roborl eval` runs on the simulator or, with `--robot`, on the arm.
 */
export async function loadPixelRunPolicy(runDir: string, { best = false }: { best?: boolean } = {}): Promise<{ config: ExperimentConfig; policy: { reset(): void; act(obs: DictObservation): Float32Array }; step: number; kept: BestEvaluation | null }> {
  const config = loadRunConfig(runDir);
  await selectBackend(config.backend);
  const { ckpt, kept } = policyCheckpoint(runDir, config, best);
  const h = ckpt.header;
  const nLearner = h['learnerSections'];
  if (typeof nLearner !== 'number' || h['frames'] !== true) throw new UsageError(`${ckpt.path}: not a camera run's checkpoint (no frame replay), though ${runDir}/config.yaml has cameras`);
  const env = await makePixelLearnerEnv(config, undefined, { evaluation: true });
  const spec = env.spec;
  await env.close();
  const space = spec.actionSpace;
  if (space.kind !== 'box') throw new UsageError('SAC runs need a Box action space');
  const learner = new SacLearner(resolvedAlgo(config), spec.observationSpace.state.low.length, space.low.length, new Rng(0), [], 0, undefined, cameraShapes(spec.observationSpace));
  try {
    importLearnerFrom(ckpt, () => learner.importState(h['learner'] as Record<string, unknown>, ckpt.sections.slice(0, nLearner)));
    const actor = new GaussianActor(learner.snapshot(), new Rng(0));
    return { config, policy: { reset: () => {}, act: (o) => actor.act(o, true) }, step: ckpt.step, kept };
  } finally {
    learner.dispose();
  }
}
