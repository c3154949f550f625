import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../control/env.js';
import { findWrapper } from '../control/wrappers/wrapper.js';
import { CartesianTeleop } from '../hil/cartesian.js';
import type { TeleopDevice } from '../hil/device.js';
import { WebTeleop } from '../hil/devices/web.js';
import { Intervention } from '../hil/intervention.js';
import type { RobotEnv } from '../robots/robot-env.js';
import type { ExperimentConfig } from './config.js';
import { hasCameras, withoutCameras } from './pixels.js';
import { makeRobotLearnerEnv } from './robot-learner-env.js';
import { makeLearnerEnv } from './setup.js';

type HilSection = NonNullable<ExperimentConfig['hil']>;

/**
 * The env `roborl teleop` and `record-demos --device` drive: the learner stack training uses —
 * on the simulator (`makeLearnerEnv`: the config's cost expressions, Tier 0 limits, shield,
 * actions in [−1, 1]) or on a robot (`makeRobotLearnerEnv`: its link and Tier 0 limits, then the
 * same layers) — with the person's device in front, so what is recorded is what training would
 * have executed and stored. A robot whose device is lost holds and ends the episode.
 */
export async function makeTeleopEnv(config: ExperimentConfig, hil: HilSection, robotPath: string | undefined, log: (line: string) => void): Promise<{ env: Env; robot: RobotEnv | null }> {
  const driven = { ...stateStack(config), hil };
  if (!robotPath) return { env: await makeLearnerEnv(driven, log, { human: true }), robot: null };
  return makeRobotLearnerEnv(driven, robotPath, log, { human: true });
}

/**
 * What a person drives for a camera config: its state stack (the config without its cameras and
 * the learned reward that looks at their frames). The page shows the scene, or on a robot the
 * robot YAML's cameras. Recording a person's demos with frames is not wired (`record-demos`
 * refuses camera configs with a device).
 */
function stateStack(config: ExperimentConfig): ExperimentConfig {
  return hasCameras(config) ? withoutCameras(config, 'keep').inner : config;
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
