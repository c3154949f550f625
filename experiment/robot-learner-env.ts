import type { Env, EnvSpec } from '../control/env.js';
import type { DictObservation } from '../control/spaces.js';
import { ExpressionConstraints, type HasStateVariables } from '../control/safety/expressions.js';
import { SafetyShield } from '../control/safety/shield.js';
import { RescaleAction } from '../control/wrappers/action-transforms.js';
import { EpisodeStatistics } from '../control/wrappers/episode-statistics.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { checkClassifierFits, ClassifierReward } from '../hil/reward-classifier.js';
import { RobotCameraObservation } from '../robots/camera-observation.js';
import { connectRobot, loadRobotConfig, type RobotConfig } from '../robots/config.js';
import type { RobotEnv } from '../robots/robot-env.js';
import { SelectState } from '../sim/camera/observation.js';
import { proprioIndices, splitCameraOptions, type ObservationOptions } from '../tasks/cameras.js';
import { envEntry } from '../tasks/registry.js';
import type { ExperimentConfig } from './config.js';
import { UsageError } from './errors.js';
import { withHuman } from './human.js';
import { makePixelLearnerEnv } from './pixels.js';
import { loadClassifier, makeLearnerEnv } from './setup.js';

/**
 * A robot config for training `config` on it: refused (before anything connects) when the robot
 * runs another task than the config trains.
 */
export function robotConfigFor(config: ExperimentConfig, robotPath: string): RobotConfig {
  const robot = loadRobotConfig(robotPath);
  if (robot.task !== config.env.id) throw new UsageError(`${robotPath} runs task ${robot.task}; the config trains ${config.env.id} (the robot's task and the config's env must be the same task)`);
  return robot;
}

/**
 * The robot as a learner sees it — the same stack {@link makeLearnerEnv} builds on the simulator:
 * the robot's link, time limit and Tier 0 limits (`connectRobot`), the config's cost expressions,
 * the task's shield when asked, actions in [−1, 1], a learned reward, the person's device when
 * `human` (a lost device holds the arm and ends the episode), episode statistics outermost. The
 * sizes (observation, action, constraints) are checked against the simulated learner env's, so a
 * mismatch is said at once rather than in every batch.
 */
export async function makeRobotLearnerEnv(config: ExperimentConfig, robotPath: string, log: (line: string) => void, { human = false }: { human?: boolean } = {}): Promise<{ env: Env; robot: RobotEnv }> {
  const robotConfig = robotConfigFor(config, robotPath);
  const observed = splitCameraOptions(config.env.id, config.env.options, 'env.options.');
  if (observed.cameras.length) throw new UsageError(`env.options.cameras: this command runs state-vector policies on a robot; a config with cameras runs there with roborl train --robot and roborl eval --robot`);
  const sim = await makeLearnerEnv({ ...config, hil: undefined });
  const learnerSpec = sim.spec;
  await sim.close();
  return robotStack(config, robotConfig, robotPath, observed, learnerSpec, log, human);
}

/**
 * A robot env for a config whose env has cameras (issue 23): {@link makeRobotLearnerEnv}'s stack
 * observed as the simulator's camera env is — `{state, <camera>: uint8 H×W×3}`, each frame the
 * robot camera of the same name (robot YAML `cameras:`), decoded and resized to the size the
 * policy was trained on. The robot YAML must have every camera the config names, at the config's
 * size: checked before anything connects, so a missing camera is said before the arm moves. A
 * stale camera ends the step in the robot's safe stop (truncated, `info.linkError` names it).
 */
export async function makeRobotPixelEnv(config: ExperimentConfig, robotPath: string, log: (line: string) => void): Promise<{ env: Env<DictObservation>; robot: RobotEnv }> {
  const robotConfig = robotConfigFor(config, robotPath);
  const observed = splitCameraOptions(config.env.id, config.env.options, 'env.options.');
  checkRobotCameras(observed, robotConfig, robotPath);
  // A learned reward looks at the frames: outside the cameras (below), not in the state stack.
  const { rewardClassifier, ...envSection } = config.env;
  const classifier = rewardClassifier ? loadClassifier(rewardClassifier) : null;
  const sim = await makePixelLearnerEnv(config, undefined, { evaluation: true });
  const pixelSpec = sim.spec;
  await sim.close();
  try {
    if (classifier) checkClassifierFits(classifier, pixelSpec);
  } catch (err) {
    throw new UsageError(`env.rewardClassifier ${rewardClassifier}: ${(err as Error).message}`);
  }
  const stateSpec: EnvSpec = { ...pixelSpec, observationSpace: pixelSpec.observationSpace.state };
  const { env, robot } = await robotStack({ ...config, env: envSection }, robotConfig, robotPath, observed, stateSpec, log, false);
  try {
    // The policy observes the config's cameras only, in the config's order (the simulator's env
    // and the checkpoint's networks do): a robot camera more would change the observation (review finding 3).
    const names = observed.cameras.map((c) => c.name);
    const ignored = robot.cameras.filter((c) => !names.includes(c.name)).map((c) => c.name);
    if (ignored.length) log(`robot camera${ignored.length > 1 ? 's' : ''} ${ignored.join(', ')} ${ignored.length > 1 ? 'are' : 'is'} not observed by the config (env.options.cameras: ${names.join(', ')}): ignored by the policy, still watched for staleness`);
    const cameraEnv = new RobotCameraObservation(env, robot, names);
    if (!classifier) return { env: cameraEnv, robot };
    try {
      return { env: new EpisodeStatistics(new ClassifierReward(cameraEnv, classifier)), robot };
    } catch (err) {
      throw new UsageError(`env.rewardClassifier ${rewardClassifier}: ${(err as Error).message}`);
    }
  } catch (err) {
    await env.close();
    throw err;
  }
}

/**
 * Every camera a config observes must be on the robot, by name, at the size the policy takes
 * (the robot's transport resizes to its YAML's width × height). A robot camera the config does not
 * name is fine (it is still watched for staleness).
 */
export function checkRobotCameras(observed: Pick<ObservationOptions, 'cameras'>, robot: RobotConfig, robotPath: string): void {
  const have = robot.kind === 'ros' ? (robot.cameras ?? []) : [];
  const listed = have.length ? `its cameras: ${have.map((c) => `${c.name} ${c.width}×${c.height}`).join(', ')}` : 'it has no cameras:';
  for (const c of observed.cameras) {
    const r = have.find((x) => x.name === c.name);
    if (!r) throw new UsageError(`env.options.cameras: the policy observes camera "${c.name}" (${c.width}×${c.height}); the robot ${robotPath} has no camera "${c.name}" (${listed}) — add it under cameras: in the robot YAML (name: ${c.name}, its image topic, width: ${c.width}, height: ${c.height})`);
    if (r.width !== c.width || r.height !== c.height) throw new UsageError(`env.options.cameras: the policy observes camera "${c.name}" at ${c.width}×${c.height}; the robot ${robotPath} resizes it to ${r.width}×${r.height} — set width: ${c.width}, height: ${c.height} for "${c.name}" in the robot YAML`);
  }
}

/** The learner's stack over a connected robot (see {@link makeRobotLearnerEnv}); `learnerSpec` is the state part the learner takes. */
async function robotStack(config: ExperimentConfig, robotConfig: RobotConfig, robotPath: string, observed: ObservationOptions, learnerSpec: EnvSpec, log: (line: string) => void, human: boolean): Promise<{ env: Env; robot: RobotEnv }> {
  // The task's own options: `cameras` and `state` choose what it is observed through (tasks/cameras.ts).
  const { env: connected, robot } = await connectRobot(robotConfig, log, observed.task);
  let env: Env = connected;
  try {
    const constraints = config.safety.constraints;
    if (constraints.length) {
      const raw = unwrap(connected);
      if (!hasStateVariables(raw)) throw new UsageError(`safety.constraints: the ${robotConfig.kind} robot (${robotPath}) exposes no state variables for cost expressions (${constraints.map((c) => c.name).join(', ')}); the learner's batches would have ${learnerSpec.constraints.length} costs and the robot's ${connected.spec.constraints.length}`);
      env = new ExpressionConstraints(env, raw, constraints).check();
    }
    if (config.safety.shield) {
      const model = envEntry(config.env.id).shield;
      if (!model) throw new UsageError(`safety.shield: ${config.env.id} has no shield model`);
      env = new SafetyShield(env, model());
    }
    if (env.spec.actionSpace.kind === 'box') env = new RescaleAction(env);
    // `state: proprio` as on the simulator: q, q̇, TCP (and the gripper), not where the goal is.
    if (observed.state === 'proprio') env = new SelectState(env, proprioIndices(env));
    if (config.env.rewardClassifier) env = new ClassifierReward(env, loadClassifier(config.env.rewardClassifier));
    if (human && config.hil) env = await withHuman(env, config, { ...config.hil, onDisconnect: 'hold' }, log);
    env = new EpisodeStatistics(env);
    if (sizes(env.spec) !== sizes(learnerSpec)) throw new UsageError(`the robot (${robotPath}) gives ${sizes(env.spec)}; the learner of this config takes ${sizes(learnerSpec)}`);
    return { env, robot };
  } catch (err) {
    await env.close();
    throw err;
  }
}

function sizes(spec: EnvSpec): string {
  return `obs ${spec.observationSpace.kind === 'box' ? spec.observationSpace.low.length : 1}, action ${spec.actionSpace.kind === 'box' ? spec.actionSpace.low.length : 1}, costs [${spec.constraints.join(', ')}]`;
}

function hasStateVariables(env: Env): env is Env & HasStateVariables {
  return typeof (env as Partial<HasStateVariables>).stateVariables === 'function';
}
