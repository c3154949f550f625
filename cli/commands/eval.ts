import type { Env } from '../../control/env.js';
import { EpisodeStatistics } from '../../control/wrappers/episode-statistics.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import { connectRobot, loadRobotConfig } from '../../robots/config.js';
import { allowFlags, intFlag, stringFlag, UsageError, type Args } from '../args.js';
import { loadRunPolicy, makeLearnerEnv } from '../run-setup.js';

/**
 * `roborl eval <run-dir> [--episodes N] [--seed S] [--json] [--robot ROBOT.yaml]`: deterministic
 * evaluation of a run's newest checkpoint, on the simulator or — unchanged — on a robot
 * (ROS or serial) running the same task.
 */
export async function evalCommand(args: Args): Promise<void> {
  allowFlags(args, 'eval', ['episodes', 'seed', 'json', 'robot']);
  const runDir = args.positionals[0];
  if (!runDir) throw new UsageError('usage: roborl eval <run-dir> [--episodes N] [--seed S] [--json] [--robot ROBOT.yaml]');
  const episodes = intFlag(args, 'episodes', 10);
  const seed = intFlag(args, 'seed', 2_000_000, 0);
  const { config, policy, step } = await loadRunPolicy(runDir);
  const robotPath = stringFlag(args, 'robot');
  const log = (s: string): void => void process.stderr.write(`${s}
`);
  let env: Env;
  let where = 'sim';
  if (robotPath) {
    const robot = loadRobotConfig(robotPath);
    if (robot.task !== config.env.id) throw new UsageError(`the run was trained on ${config.env.id}; ${robotPath} runs task ${robot.task}`);
    env = new EpisodeStatistics((await connectRobot(robot, log)).env);
    where = robot.kind;
  } else env = await makeLearnerEnv(config);
  const r = await evaluatePolicy(env, policy, episodes, seed).finally(() => env.close());
  const summary = { run: runDir, env: config.env.id, on: where, checkpointStep: step, episodes, returnMean: r.returnMean, returnStd: r.returnStd, successRate: r.successRate, lengthMean: r.lengthMean, costMeans: r.costMeans };
  if (args.flags.has('json')) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  process.stdout.write(
    `${config.env.id} on ${where} · checkpoint @${step} · ${episodes} episodes (deterministic)\n  return   ${r.returnMean.toFixed(2)} ± ${r.returnStd.toFixed(2)}\n  success  ${(100 * r.successRate).toFixed(0)}%\n  length   ${r.lengthMean.toFixed(1)}\n${Object.keys(r.costMeans).length ? `  cost/ep  ${Object.entries(r.costMeans).map(([n, c]) => `${n} ${c.toFixed(2)}`).join(', ')}\n` : ''}`,
  );
}
