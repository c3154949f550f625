import type { Env } from '../../control/env.js';
import type { Observation } from '../../control/spaces.js';
import { SceneRecorder } from '../../control/scene.js';
import { EVALUATION_SEED, evaluatePolicy, type EvalResult } from '../../policies/evaluate.js';
import { loadRobotConfig } from '../../robots/config.js';
import type { RobotEnv } from '../../robots/robot-env.js';
import { allowFlags, intFlag, seedFlag, stringFlag, UsageError, type Args } from '../args.js';
import { USAGE } from '../usage.js';
import type { ExperimentConfig } from '../../experiment/config.js';
import { makeRobotLearnerEnv } from '../../experiment/robot-learner-env.js';
import { loadRunConfig, loadRunPolicy, makeLearnerEnv } from '../../experiment/setup.js';
import { hasCameras, loadPixelRunPolicy, makePixelLearnerEnv } from '../../experiment/pixels.js';
import { makeRobotPixelEnv } from '../../experiment/robot-learner-env.js';
import type { DictObservation } from '../../control/spaces.js';
import { envEntry } from '../../tasks/registry.js';
import type { BestEvaluation } from '../../policies/run-loop.js';

/**
 * `roborl eval <run-dir> [--episodes N] [--seed S] [--json] [--robot ROBOT.yaml]`: deterministic
 * evaluation of a run's newest checkpoint, on the simulator or — unchanged — on a robot
 * (ROS or serial) running the same task.
 */
export async function evalCommand(args: Args): Promise<void> {
  allowFlags(args, 'eval', ['episodes', 'seed', 'json', 'robot', 'record', 'engine', 'best']);
  const runDir = args.positionals[0];
  if (!runDir) throw new UsageError(USAGE.eval);
  const episodes = intFlag(args, 'episodes', 10);
  const seed = seedFlag(args, EVALUATION_SEED);
  // A camera run's policy acts on {state, <camera>…}: on the arm, the robot's cameras of the same names.
  if (hasCameras(loadRunConfig(runDir))) return evalPixels(args, runDir, episodes, seed);
  const run = await loadRunPolicy(runDir, { best: bestFlag(args) });
  const { policy, step, kept } = run;
  const robotPath = stringFlag(args, 'robot');
  const engine = stringFlag(args, 'engine');
  const config = engine === undefined ? run.config : onEngine(run.config, engine);
  if (engine !== undefined && robotPath) throw new UsageError('--engine picks the simulator\'s physics; it does not apply with --robot');
  const recordPath = stringFlag(args, 'record');
  const log = (s: string): void => void process.stderr.write(`${s}
`);
  let env: Env;
  let where = `sim (${String(config.env.options['engine'] ?? envEntry(config.env.id).engines[0] ?? 'analytic')})`;
  let robot: RobotEnv | null = null;
  if (robotPath) {
    const robotConfig = loadRobotConfig(robotPath);
    if (robotConfig.task !== config.env.id) throw new UsageError(`the run was trained on ${config.env.id}; ${robotPath} runs task ${robotConfig.task}`);
    // The stack the run trained with on a robot: the task with the config's env options, the
    // task's shield when the config asks for it, the cost expressions, actions in [−1, 1].
    const connected = await makeRobotLearnerEnv(config, robotPath, log);
    env = connected.env;
    robot = connected.robot;
    where = robotConfig.kind;
    log(`connected to the ${robotConfig.kind} robot (${robotPath}); evaluating ${episodes} episodes — Ctrl-C stops it and holds the robot`);
  } else env = await makeLearnerEnv(config, undefined, { evaluation: true });
  if (recordPath) {
    const recorder = new SceneRecorder(env);
    if (!recorder.available) {
      await env.close();
      throw new UsageError(`${config.env.id}${robotPath ? ' on this robot' : ''} does not describe its scene; nothing to record`);
    }
    // Every episode of this evaluation, including any a robot link cut off (they are run again).
    recorder.recordNext(recordPath, Number.POSITIVE_INFINITY);
    env = recorder;
    log(`recording ${episodes} episode(s) to ${recordPath} (open it in roborl dashboard)`);
  }
  const r = await evaluateUntilSignal(env, policy, episodes, seed, robot !== null, log);
  if (!r) return;
  const summary = {
    run: runDir,
    env: config.env.id,
    on: where,
    checkpointStep: step,
    ...(kept ? { best: kept } : {}),
    episodes,
    firstSeed: seed,
    returnMean: r.returnMean,
    returnStd: r.returnStd,
    successRate: r.successRate,
    lengthMean: r.lengthMean,
    costMeans: r.costMeans,
    ...(robot ? { lostEpisodes: r.lost.length, link: { ...robot.stats } } : {}),
  };
  if (args.flags.has('json')) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  process.stdout.write(
    `${config.env.id} on ${where} · ${checkpointLabel(step, kept)} · ${episodes} episodes (deterministic)\n  return   ${r.returnMean.toFixed(2)} ± ${r.returnStd.toFixed(2)}\n  success  ${(100 * r.successRate).toFixed(0)}%\n  length   ${r.lengthMean.toFixed(1)}\n${Object.keys(r.costMeans).length ? `  cost/ep  ${Object.entries(r.costMeans).map(([n, c]) => `${n} ${c.toFixed(2)}`).join(', ')}\n` : ''}${robot ? `  link     ${r.lost.length} episode(s) lost and rerun · ${robot.stats.reconnects} reconnects · ${robot.stats.statesDropped} states dropped\n` : ''}`,
  );
}

/**
 * The run's config with its task on another physics engine (sim-to-sim: a policy trained on
 * Rapier evaluated on MuJoCo, or the reverse). Refused for tasks without that engine.
 */
function onEngine(config: ExperimentConfig, engine: string): ExperimentConfig {
  const engines = envEntry(config.env.id).engines;
  if (!(engines as readonly string[]).includes(engine)) {
    throw new UsageError(`--engine ${engine}: ${config.env.id} runs on ${engines.length ? engines.join(', ') : 'no physics engine (it is analytic)'}`);
  }
  return { ...config, env: { ...config.env, options: { ...config.env.options, engine } } };
}

/**
 * Evaluates until done or until Ctrl-C / SIGTERM, which stop it between steps. The env is closed
 * in every case (a robot gets its hold command). Returns null when interrupted, with the exit
 * code set (130 / 143); logs the episodes a robot link cut off (they were run again).
 */
async function evaluateUntilSignal<O extends Observation>(env: Env<O>, policy: { reset(): void; act(obs: O): Float32Array }, episodes: number, seed: number, onRobot: boolean, log: (line: string) => void): Promise<EvalResult | null> {
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => abort.abort(new Interrupted(signal));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const r = await evaluatePolicy(env, policy, episodes, seed, { signal: abort.signal });
    for (const l of r.lost) log(`episode with seed ${l.seed} lost at step ${l.step} (${l.reason}); run again`);
    return r;
  } catch (err) {
    if (!(err instanceof Interrupted)) throw err;
    log(`interrupted (${err.signal})${onRobot ? ': the robot was sent its hold command' : ''}`);
    process.exitCode = err.signal === 'SIGINT' ? 130 : 143;
    return null;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await env.close();
  }
}

/** `--best` takes no value: the run's best evaluation's policy instead of its newest checkpoint. */
function bestFlag(args: Args): boolean {
  if (args.flags.has('best') && args.flags.get('best') !== true) throw new UsageError('--best takes no value');
  return args.flags.has('best');
}

function checkpointLabel(step: number, kept: BestEvaluation | null): string {
  return kept ? `best policy @${step} (kept for ${(100 * kept.successRate).toFixed(0)}% success, return ${kept.returnMean.toFixed(2)} over ${kept.episodes} episodes)` : `checkpoint @${step}`;
}

/** The evaluation was stopped by a signal. */
class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

/**
 * `roborl eval` of a camera run (issue 23): the policy on `{state, <camera>…}` — the simulator's
 * rendered cameras, or with `--robot` the robot's cameras of the same names and sizes (checked
 * before it connects). A stale camera ends that episode in the robot's safe stop; it is run again.
 */
async function evalPixels(args: Args, runDir: string, episodes: number, seed: number): Promise<void> {
  for (const flag of ['record', 'engine']) if (args.flags.has(flag)) throw new UsageError(`--${flag} is not wired for camera runs yet`);
  const { config, policy, step, kept } = await loadPixelRunPolicy(runDir, { best: bestFlag(args) });
  const robotPath = stringFlag(args, 'robot');
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  let env: Env<DictObservation>;
  let robot: RobotEnv | null = null;
  if (robotPath) {
    const connected = await makeRobotPixelEnv(config, robotPath, log);
    [env, robot] = [connected.env, connected.robot];
    log(`connected to the robot (${robotPath}) with cameras ${robot.cameras.map((c) => c.name).join(', ')}; evaluating ${episodes} episodes — Ctrl-C stops it and holds the robot`);
  } else env = await makePixelLearnerEnv(config, undefined, { evaluation: true });
  const r = await evaluateUntilSignal(env, policy, episodes, seed, robot !== null, log);
  if (!r) return;
  const summary = { run: runDir, env: config.env.id, on: robot ? 'ros' : 'sim', cameras: Object.keys(env.spec.observationSpace.cameras), checkpointStep: step, ...(kept ? { best: kept } : {}), episodes, firstSeed: seed, returnMean: r.returnMean, returnStd: r.returnStd, successRate: r.successRate, lengthMean: r.lengthMean, costMeans: r.costMeans, ...(robot ? { lostEpisodes: r.lost.length, link: { ...robot.stats } } : {}) };
  if (args.flags.has('json')) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  process.stdout.write(`${config.env.id} on ${summary.on} with cameras ${summary.cameras.join(', ')} · ${checkpointLabel(step, kept)} · ${episodes} episodes (deterministic)\n  return   ${r.returnMean.toFixed(2)} ± ${r.returnStd.toFixed(2)}\n  success  ${(100 * r.successRate).toFixed(0)}%\n  length   ${r.lengthMean.toFixed(1)}\n${robot ? `  link     ${r.lost.length} episode(s) lost and rerun · ${robot.stats.reconnects} reconnects\n` : ''}`);
}
