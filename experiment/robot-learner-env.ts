import type { Env, EnvSpec } from '../control/env.js';
import { ExpressionConstraints, type HasStateVariables } from '../control/safety/expressions.js';
import { SafetyShield } from '../control/safety/shield.js';
import { RescaleAction } from '../control/wrappers/action-transforms.js';
import { EpisodeStatistics } from '../control/wrappers/episode-statistics.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { ClassifierReward, RewardClassifier } from '../hil/reward-classifier.js';
import { connectRobot, loadRobotConfig, type RobotConfig } from '../robots/config.js';
import type { RobotEnv } from '../robots/robot-env.js';
import { envEntry } from '../tasks/registry.js';
import type { ExperimentConfig } from './config.js';
import { UsageError } from './errors.js';
import { withHuman } from './human.js';
import { makeLearnerEnv } from './setup.js';

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
  const sim = await makeLearnerEnv({ ...config, hil: undefined });
  const learnerSpec = sim.spec;
  await sim.close();
  const { env: connected, robot } = await connectRobot(robotConfig, log, config.env.options);
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
    if (config.env.rewardClassifier) env = new ClassifierReward(env, RewardClassifier.load(config.env.rewardClassifier));
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
