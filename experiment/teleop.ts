import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../control/env.js';
import { findWrapper } from '../control/wrappers/wrapper.js';
import { RescaleAction } from '../control/wrappers/action-transforms.js';
import { EpisodeStatistics } from '../control/wrappers/episode-statistics.js';
import { CartesianTeleop } from '../hil/cartesian.js';
import type { TeleopDevice } from '../hil/device.js';
import { WebTeleop } from '../hil/devices/web.js';
import { Intervention } from '../hil/intervention.js';
import { connectRobot, loadRobotConfig } from '../robots/config.js';
import type { RobotEnv } from '../robots/robot-env.js';
import { UsageError } from './errors.js';
import type { ExperimentConfig } from './config.js';
import { withHuman } from './human.js';
import { makeLearnerEnv } from './setup.js';

type HilSection = NonNullable<ExperimentConfig['hil']>;

/**
 * The env `roborl teleop` and `record-demos --device` drive: the simulator through the learner
 * stack (the config's safety, Tier 0 limits, actions in [−1, 1]), or a robot through its link
 * and Tier 0 limits — with the person's device in front. A robot whose device is lost holds and
 * ends the episode.
 */
export async function makeTeleopEnv(config: ExperimentConfig, hil: HilSection, robotPath: string | undefined, log: (line: string) => void): Promise<{ env: Env; robot: RobotEnv | null }> {
  if (!robotPath) return { env: await makeLearnerEnv({ ...config, hil }, log, { human: true }), robot: null };
  const robotConfig = loadRobotConfig(robotPath);
  if (robotConfig.task !== config.env.id) throw new UsageError(`${robotPath} runs task ${robotConfig.task}, not ${config.env.id}`);
  const connected = await connectRobot(robotConfig, log, config.env.options);
  const inner = connected.env.spec.actionSpace.kind === 'box' ? new RescaleAction(connected.env) : connected.env;
  const env = await withHuman(inner, config, { ...hil, onDisconnect: 'hold' }, log);
  return { env: new EpisodeStatistics(env), robot: connected.robot };
}

/**
 * The run folder's `teleop.json`: where the run's teleop page listens (its address, token
 * included), so `roborl dashboard` can host the teleop panel and relay it. Written owner-only
 * (the token steers the robot); removed when the page closes. No-op without a web device.
 */
export function announceTeleop(env: Env, runDir: string): (() => void) | null {
  const intervention = findWrapper(env, Intervention);
  let device: TeleopDevice | undefined = intervention?.device;
  while (device instanceof CartesianTeleop) device = device.inner;
  if (!(device instanceof WebTeleop)) return null;
  const path = join(runDir, 'teleop.json');
  writeFileSync(path, `${JSON.stringify({ url: device.url, pid: process.pid })}\n`, { mode: 0o600 });
  return () => rmSync(path, { force: true });
}
