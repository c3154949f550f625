import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { listCheckpoints, loadLatestCheckpoint } from '../../policies/checkpoint.js';
import { removeStaleTempFiles, writeFileAtomic } from '../../policies/binary-file.js';
import { MetricsLog } from '../../policies/metrics-log.js';
import { OffPolicyTrainer } from '../../policies/sac/trainer.js';
import type { TrainerProgress } from '../../policies/run-loop.js';
import { StreamTrainer } from '../../policies/stream/trainer.js';
import { allowFlags, intFlag, stringFlag, UsageError, type Args } from '../args.js';
import { USAGE } from '../usage.js';
import { DistributedSectionSchema, loadConfig, TELEOP_DEVICES, validateConfig, type ExperimentConfig } from '../../experiment/config.js';
import { Progress } from '../progress.js';
import { SceneRecorder } from '../../control/scene.js';
import { writeRunStatus } from '../../experiment/run-status.js';
import { announceTeleop } from '../../experiment/teleop.js';
import { makeDistributedLearner, redisPrefix, redisRunId, ThreadedRun } from '../../experiment/distributed.js';
import { RedisLearnerTransport } from '../../policies/distributed/redis.js';
import { makeRobotPixelEnv, robotConfigFor } from '../../experiment/robot-learner-env.js';
import { hasCameras, trainPixels } from '../../experiment/pixels.js';
import { absolutizePaths, BEST_DIR, fixedPolicyFor, recordedWithOf, loadDemos, loadRunConfig, makeLearnerEnv, newRunDirPath, resolvedAlgo, resolvedConfigYaml, useBackend, withBackendFlag, writeRunDir } from '../../experiment/setup.js';

/**
 * `roborl train <config.yaml>` starts a run; `roborl train --resume <run-dir>` continues one
 * from its newest checkpoint. `--robot ROBOT.yaml` trains on a robot (issue 22): one actor steps
 * the arm on its own thread at its control rate and the learner updates here (the threads
 * transport), so an update never delays a robot step. Everything that can be wrong with the input (config, env, options,
 * constraints, demos, run folder) is checked before the run folder is written. SIGINT/SIGTERM
 * stop after the current step with a checkpoint; SIGKILL loses at most `train.checkpointEvery`
 * steps; a failure during the run checkpoints before the error is reported.
 */
export async function trainCommand(args: Args, role: 'train' | 'learner' = 'train'): Promise<void> {
  allowFlags(args, role, role === 'learner' ? ['resume', 'run-dir', 'quiet', 'backend', 'steps', 'redis'] : ['resume', 'run-dir', 'quiet', 'backend', 'steps', 'teleop', 'robot']);
  const resumeDir = stringFlag(args, 'resume');
  const configPath = args.positionals[0];
  if (!resumeDir && !configPath) throw new UsageError(USAGE[role]);
  if (resumeDir && configPath) throw new UsageError(`--resume continues a run with the config it was started with (${join(resumeDir, 'config.yaml')}); drop ${configPath}, or start a new run with it`);
  if (resumeDir && args.flags.has('run-dir')) throw new UsageError('--resume names the run folder; --run-dir is for new runs');
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const started = performance.now();
  let config = withBackendFlag(resumeDir ? loadRunConfig(resumeDir) : absolutizePaths(loadConfig(configPath as string), configPath as string), stringFlag(args, 'backend'));
  // What a missing demo file's hint records demos through: the config the run trains with.
  const recordWith = resumeDir ? join(resumeDir, 'config.yaml') : (configPath as string);
  const steps = args.flags.has('steps') ? intFlag(args, 'steps', config.train.steps) : null;
  const teleop = stringFlag(args, 'teleop');
  if (teleop !== undefined) {
    if (!(TELEOP_DEVICES as readonly string[]).includes(teleop)) throw new UsageError(`Expected --teleop to be one of ${TELEOP_DEVICES.join(', ')}, got \`${teleop}\``);
    config = validateConfig({ ...config, hil: { ...(config.hil ?? {}), device: teleop } }, '--teleop');
  }
  if (steps !== null) config = { ...config, train: { ...config.train, steps } };
  if (role === 'learner') config = learnerConfig(config, stringFlag(args, 'redis'));
  const robotArg = role === 'train' ? stringFlag(args, 'robot') : undefined;
  const robotPath = robotArg === undefined ? undefined : resolve(robotArg);
  if (resumeDir) checkRobotResume(resumeDir, robotPath);
  // A camera run on a robot trains in this process (experiment/pixels.ts); the others on an actor thread.
  if (robotPath !== undefined) config = hasCameras(config) ? pixelRobotRunConfig(config, robotPath) : robotRunConfig(config, robotPath);
  const resumeHint = (dir: string): string => `roborl train --resume ${dir}${robotPath ? ` --robot ${robotPath}` : ''}`;

  let resumeFrom: number | null = null;
  if (resumeDir) {
    // Refuses (names the files) when every checkpoint is corrupt; nothing is written before this.
    const ckpt = loadLatestCheckpoint(join(resumeDir, 'checkpoints'), log);
    resumeFrom = ckpt?.step ?? null;
    if (resumeFrom !== null && resumeFrom >= config.train.steps) {
      log(`${resumeDir} finished at step ${resumeFrom} of ${config.train.steps}: nothing to do (extend it with --resume ${resumeDir} --steps N, N > ${resumeFrom})`);
      return;
    }
  }
  const runDir = resumeDir ?? newRunDirPath(config, stringFlag(args, 'run-dir'));

  // Build everything from the config before writing anything: a bad env id, option, constraint
  // or demo file fails here, and a retry with the same --run-dir works.
  await useBackend(config, log);
  if (hasCameras(config)) {
    // Camera observations (issue 23): SAC / RLPD with the conv encoder and a frame replay, in this process.
    if (role !== 'train') throw new UsageError('env.options.cameras: camera runs train with roborl train (in one process), not roborl learner');
    const progress = new Progress(config.train.steps, config.name, !args.flags.has('quiet'));
    const pixelConfig = config;
    const r = await trainPixels({
      config,
      runDir,
      configPath: recordWith,
      ...(robotPath ? { robot: { makeEnv: async () => (await makeRobotPixelEnv(pixelConfig, robotPath, log)).env, onRunDir: () => writeFileSync(join(runDir, ROBOT_FILE), `${JSON.stringify({ path: robotPath })}\n`) } } : {}),
      resume: resumeDir ? { from: resumeFrom, stepsChanged: steps !== null } : null,
      resumeCommand: resumeHint(runDir),
      log,
      onStep: (p) => progress.update(p.step, `ep ${p.episodes} return ${p.lastReturn === null ? '–' : p.lastReturn.toFixed(1)} · ${perSec(p.updatesPerSec, 1)} upd/s · ${perSec(p.envStepsPerSec, 1)} steps/s · ${elapsed(started)}`),
    });
    progress.done();
    if (r.signal) {
      log(`${r.signal}: stopped with a checkpoint after ${elapsed(started)}; continue with: ${resumeHint(runDir)}`);
      process.exitCode = r.signal === 'SIGINT' ? 130 : 143;
      return;
    }
    process.stdout.write(r.line);
    return;
  }
  // On a robot the person's device belongs to the robot's actor thread (it steps the arm).
  const env = await makeLearnerEnv(config, log, { human: robotPath === undefined });
  // The first episode of every evaluation is recorded for the dashboard's 3D view (runDir/scenes/).
  const evalEnv = new SceneRecorder(await makeLearnerEnv(config, undefined, { evaluation: true }));
  const progress = new Progress(config.train.steps, config.name, !args.flags.has('quiet'));
  const metrics = new MetricsLog(join(runDir, 'metrics.jsonl'));
  const common = {
    env,
    evalEnv,
    schedule: config.train,
    seed: config.seed,
    checkpointDir: join(runDir, 'checkpoints'),
    bestDir: join(runDir, BEST_DIR),
    metrics,
    log,
    onStep: (p: TrainerProgress) => {
      const costs = Object.entries(p.lastCosts ?? {}).map(([n, c]) => ` · ${n} ${c.toFixed(1)}${p.lambdas?.[n] === undefined ? '' : ` (λ ${p.lambdas[n].toFixed(2)})`}`).join('');
      const human = p.humanRate === undefined ? '' : ` · human ${(100 * p.humanRate).toFixed(0)}%`;
      const link = p.link ? ` · ratio ${p.link.samplesPerInsert.toFixed(2)}× · stale ${p.link.stale}` : '';
      const pacing = threaded?.pacing?.summary();
      const robot = pacing?.steps ? ` · robot step p99 ${pacing.stepPeriodP99Ms.toFixed(0)}/${pacing.controlPeriodMs.toFixed(0)} ms` : '';
      progress.update(p.step, `ep ${p.episodes} return ${p.lastReturn === null ? '–' : p.lastReturn.toFixed(1)}${costs}${human}${link}${robot} · ${perSec(p.updatesPerSec, 0)} upd/s · ${perSec(p.envStepsPerSec, 0)} steps/s · ${elapsed(started)}`);
    },
  };
  let trainer: OffPolicyTrainer | StreamTrainer;
  let threaded: ThreadedRun | null = null;
  let transport: RedisLearnerTransport | null = null;
  if (role === 'train' && config.distributed && config.distributed.transport !== 'threads') throw new UsageError(`distributed.transport: ${config.distributed.transport} runs as separate processes: roborl learner <config> and roborl actor <config> (train runs the threads transport)`);
  if (config.distributed && config.algo.kind !== 'sac') throw new UsageError('distributed: actors and a learner are for SAC / RLPD (the streaming learners learn from each step as it happens)');
  if (config.distributed && config.hil && config.hil.device !== 'simulated' && !robotPath) throw new UsageError('distributed: a person at a device drives one env; run without distributed: to teleoperate');
  if (config.algo.kind === 'sac' && config.distributed) {
    const algo = resolvedAlgo(config);
    const demos = algo.demos ? loadDemos(algo.demos.path, recordWith, env.spec, recordedWithOf(config, env), algo.demos) : undefined;
    const parts = { config, env: evalEnv, evalEnv, checkpointDir: common.checkpointDir, bestDir: common.bestDir, metrics, demos, log, onStep: common.onStep, resuming: resumeDir !== undefined, robot: robotPath ? { path: robotPath, runDir } : undefined };
    // The person sits on the actor's thread; only the learner writes checkpoints (not yet theirs).
    if (config.hil && resumeDir !== undefined) log(`note: on the actor/learner split the person's spent budget and intervention counts start afresh on a resume (one-process runs keep them)`);
    if (role === 'learner') {
      const redis = config.distributed.redis;
      const run = redisRunId(runDir);
      transport = await RedisLearnerTransport.open({ ...redis, prefix: redisPrefix(config), run, log });
      trainer = makeDistributedLearner(parts, transport);
      log(`learner on ${redis.url} (run ${run} under roborl:${redisPrefix(config)}:); start actors with: roborl actor <config> --redis ${redis.url}`);
    } else {
      threaded = new ThreadedRun(parts);
      trainer = threaded.learner;
      log(robotPath ? `the robot's actor on its own thread, one learner; evaluations run on the simulated ${config.env.id} (roborl eval <run> --robot evaluates on the arm)` : `${config.distributed.actors} actor thread(s), one learner`);
    }
  } else if (config.algo.kind === 'sac') {
    const algo = resolvedAlgo(config);
    const demos = algo.demos ? loadDemos(algo.demos.path, recordWith, env.spec, recordedWithOf(config, env), algo.demos) : undefined;
    if (demos) log(`${demos.size} demo transitions from ${algo.demos?.path}`);
    const interventions = config.hil ? { toDemos: config.hil.buffers === 'both', upsample: config.hil.upsample } : undefined;
    trainer = new OffPolicyTrainer({ ...common, config: algo, demos, interventions });
  } else {
    trainer = new StreamTrainer({ ...common, config: config.algo, fixedPolicy: fixedPolicyFor(config, env) });
  }

  if (resumeDir) {
    const stale = [...removeStaleTempFiles(resumeDir), ...removeStaleTempFiles(join(resumeDir, 'checkpoints')), ...removeStaleTempFiles(join(resumeDir, BEST_DIR))];
    if (stale.length) log(`removed ${stale.length} temp file(s) a killed run left behind: ${stale.join(', ')}`);
    if (steps !== null) writeFileAtomic(join(resumeDir, 'config.yaml'), resolvedConfigYaml(config));
    if (resumeFrom === null) {
      const dropped = metrics.truncateAfter(-1);
      log(`no checkpoint in ${resumeDir} yet: starting from step 0${dropped ? ` (${dropped} metric lines of the lost attempt dropped)` : ''}`);
    } else trainer.resume();
  }
  if (threaded && robotPath) {
    // After the checkpoint (the actor's incarnation follows the ones it knows), before a new run's folder: a robot that cannot be reached or does not fit is refused with nothing written.
    try {
      await threaded.connect();
    } catch (err) {
      trainer.dispose();
      await Promise.all([env.close(), evalEnv.close()]);
      throw err;
    }
  }
  if (!resumeDir) writeRunDir(runDir, config);
  if (robotPath) writeFileSync(join(runDir, ROBOT_FILE), `${JSON.stringify({ path: robotPath })}\n`);
  if (evalEnv.available) trainer.beforeEvaluation = (step) => evalEnv.recordNext(join(runDir, 'scenes', `eval-${String(step).padStart(9, '0')}.scene.jsonl`));
  const unannounce = announceTeleop(env, runDir);
  writeRunStatus(runDir, { state: 'running', pid: process.pid, step: trainer.step, steps: config.train.steps });
  log(`run folder: ${runDir} · learner ${config.algo.kind}`);

  let signal: NodeJS.Signals | null = null;
  const stop = (s: NodeJS.Signals): void => {
    signal = s;
    if (threaded) threaded.requestStop();
    else trainer.requestStop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const final = await (threaded ?? trainer).run().catch((err: unknown) => {
      try {
        writeRunStatus(runDir, { state: 'failed', pid: process.pid, step: trainer.step, steps: config.train.steps, error: (err as Error).message ?? String(err) });
      } catch {
        // the status is for the dashboard; the run's own error (below) matters more
      }
      throw checkpointAfterFailure(trainer, err, runDir, log, resumeHint(runDir));
    });
    progress.done();
    const estop = threaded?.robotEnded?.by === 'e-stop';
    if (threaded?.pacing) log(robotSummary(threaded));
    writeRunStatus(runDir, { state: signal || estop ? 'stopped' : 'finished', pid: process.pid, step: trainer.step, steps: config.train.steps });
    if (signal) {
      log(`${signal}: stopped at step ${trainer.step} with a checkpoint after ${elapsed(started)}${robotPath ? '; the robot was sent its hold command' : ''}; continue with: ${resumeHint(runDir)}`);
      process.exitCode = signal === 'SIGINT' ? 130 : 143;
      return;
    }
    if (estop) {
      log(`e-stop: the robot holds; stopped at step ${trainer.step} with a checkpoint after ${elapsed(started)}; once it is safe, continue with: ${resumeHint(runDir)}`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(
      `${config.name}: ${trainer.step} env steps in ${elapsed(started)} · final evaluation return ${final.returnMean.toFixed(2)} ± ${final.returnStd.toFixed(2)}, success ${(100 * final.successRate).toFixed(0)}%\nrun folder: ${runDir}\n`,
    );
  } finally {
    unannounce?.();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    trainer.dispose();
    await Promise.all([env.close(), evalEnv.close(), transport?.close()]);
  }
}

/**
 * A run that fails mid-way (a cost expression that goes non-finite, a disk that fills up) keeps
 * what it learned: it checkpoints at the current step if it can, and the error says so.
 */
function checkpointAfterFailure(trainer: OffPolicyTrainer | StreamTrainer, err: unknown, runDir: string, log: (s: string) => void, resumeHint: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  try {
    const path = trainer.checkpoint();
    log(`the run failed at step ${trainer.step}; checkpoint written: ${path}`);
    return new Error(`${e.message}\n(step ${trainer.step}; fix the cause, then continue with: ${resumeHint})`, { cause: e });
  } catch (ckptErr) {
    const listed = listCheckpoints(join(runDir, 'checkpoints'));
    return new Error(`${e.message}\n(step ${trainer.step}; the checkpoint after the failure could not be written either: ${(ckptErr as Error).message}; newest existing: ${listed.at(-1) ?? 'none'})`, { cause: e });
  }
}

/** A rate for the progress line: – until the trainer has measured one (its first log window). */
function perSec(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

function elapsed(since: number): string {
  const s = (performance.now() - since) / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}


/** `roborl learner`: the config's distributed section with the Redis transport (and `--redis URL` over its address). */
export function learnerConfig(config: ExperimentConfig, url: string | undefined): ExperimentConfig {
  if (config.algo.kind !== 'sac') throw new UsageError('roborl learner runs SAC / RLPD configs');
  const d = config.distributed ?? DistributedSectionSchema.parse({});
  return { ...config, distributed: { ...d, transport: 'redis', redis: { ...d.redis, ...(url ? { url } : {}) } } };
}

/** The run folder's note of the robot a run trains on (its robot config's absolute path). */
const ROBOT_FILE = 'robot.json';

/**
 * A run trained on a robot continues there only when named again: `--resume` alone would train
 * its policy on the simulator (or, were the robot found from the run folder, move an arm no one
 * named on this command line).
 */
function checkRobotResume(runDir: string, robotPath: string | undefined): void {
  const file = join(runDir, ROBOT_FILE);
  if (!existsSync(file) || robotPath !== undefined) return;
  let saved = '(unreadable)';
  try {
    const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof v === 'object' && v !== null && 'path' in v && typeof v.path === 'string') saved = v.path;
  } catch {
    // the note names the robot for the message only
  }
  throw new UsageError(`${runDir} trains on a robot (${saved}): continue it there with \`roborl train --resume ${runDir} --robot ${saved}\``);
}

/**
 * The config of a run on a robot: SAC / RLPD with one actor on a thread. Refused clearly: other
 * learners, the Redis transport, more than one actor (one arm), a robot running another task.
 */
function robotRunConfig(config: ExperimentConfig, robotPath: string): ExperimentConfig {
  if (config.algo.kind !== 'sac') throw new UsageError(`--robot trains SAC / RLPD (an actor thread steps the arm while the learner updates beside it); ${config.algo.kind} learns from each step as it happens, in the control loop`);
  const d = config.distributed ?? DistributedSectionSchema.parse({});
  if (d.transport !== 'threads') throw new UsageError(`--robot runs the robot's actor and the learner in this process (distributed.transport: threads); for a learner elsewhere, run roborl learner <config> there and roborl actor <config> --robot ${robotPath} at the arm`);
  if (d.actors !== 1) throw new UsageError(`--robot drives one arm with one actor; the config asks for distributed.actors: ${d.actors} (set it to 1 or drop it)`);
  // Serial robots too: their port is opened on the actor's thread with a poller of its own (robots/serial/binding.ts).
  robotConfigFor(config, robotPath);
  return { ...config, distributed: d };
}

/**
 * The config of a camera run on a robot (issue 23): SAC / RLPD from pixels trains in this process
 * — the arm holds its last target while an update runs — against the robot's cameras; its
 * evaluations run on the simulator. Refused: other learners, distributed runs, another task.
 */
function pixelRobotRunConfig(config: ExperimentConfig, robotPath: string): ExperimentConfig {
  if (config.algo.kind !== 'sac') throw new UsageError(`--robot with env.options.cameras trains SAC / RLPD from pixels; got algo.kind ${config.algo.kind}`);
  if (config.distributed) throw new UsageError('--robot with env.options.cameras: camera runs train in one process (drop distributed:)');
  robotConfigFor(config, robotPath);
  return config;
}

/** The robot's pacing and link over the run, for the log. */
function robotSummary(run: ThreadedRun): string {
  const p = run.pacing?.summary();
  const l = run.robotLink;
  const pacing = p && p.steps ? `${p.steps} steps, step period p50 ${p.stepPeriodP50Ms.toFixed(1)} ms, p99 ${p.stepPeriodP99Ms.toFixed(1)} ms (control period ${p.controlPeriodMs.toFixed(1)} ms)` : 'no steps';
  const link = l ? `; link: ${l['staleSteps'] ?? 0} stale step(s), ${l['reconnects'] ?? 0} reconnect(s), ${l['lateCommands'] ?? 0} late command(s)` : '';
  return `robot: ${pacing}${link}`;
}
