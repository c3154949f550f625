import type { Env } from '../control/env.js';
import { RealtimeEnv } from '../control/wrappers/realtime.js';
import { CartesianTeleop } from '../hil/cartesian.js';
import type { TeleopDevice } from '../hil/device.js';
import { openHid, SPACEMOUSE, SPACEMOUSE_6AXIS } from '../hil/devices/hid.js';
import { keyboardHelp, KeyboardDevice } from '../hil/devices/keyboard.js';
import { SimulatedHuman } from '../hil/devices/simulated-human.js';
import { WebTeleop } from '../hil/devices/web.js';
import { Intervention } from '../hil/intervention.js';
import { envEntry } from '../tasks/registry.js';
import type { ExperimentConfig } from './config.js';
import { UsageError } from './errors.js';
import { learnerUnits, scriptedInLearnerUnits } from './learner-units.js';

type HilSection = NonNullable<ExperimentConfig['hil']>;

/**
 * Puts a person in the loop of a learner env (actions in [−1, 1]): the configured device, in
 * the joint or tool frame, behind the intervention wrapper. A simulator is paced to its control
 * rate for a real person (no one can follow 150 steps/s).
 */
export async function withHuman(env: Env, config: Pick<ExperimentConfig, 'env' | 'seed'>, hil: HilSection, log?: (line: string) => void): Promise<Env> {
  const paced = hil.device !== 'simulated' && env.spec.kind === 'sim' ? new RealtimeEnv(env) : env;
  return new Intervention(paced, await teleopDevice(config.env.id, paced, hil, config.seed), { onDisconnect: hil.onDisconnect, log });
}

/** The configured teleop device for a learner env. */
export async function teleopDevice(envId: string, env: Env, hil: HilSection, seed: number): Promise<TeleopDevice> {
  if (hil.device === 'simulated') return new SimulatedHuman({ expert: scriptedInLearnerUnits(envId, env), ...hil.simulated, seed: seed + 31 });
  if (env.spec.actionSpace.kind !== 'box') throw new UsageError(`${hil.device} teleop drives continuous (Box) actions; ${envId} has discrete ones`);
  const actionDims = env.spec.actionSpace.low.length;
  const tcp = hil.frame === 'tcp' ? envEntry(envId).tcpTeleop : undefined;
  if (hil.frame === 'tcp' && !tcp) throw new UsageError(`${envId} has no Cartesian teleop (hil.frame: tcp); use hil.frame: joint`);
  const dims = tcp ? 3 : actionDims;
  const device = await rawDevice(envId, hil, dims);
  if (!tcp) return device;
  const map = tcp();
  const toLearner = learnerUnits(env);
  return new CartesianTeleop(device, (obs, v) => toLearner(map(obs, v)));
}

async function rawDevice(envId: string, hil: HilSection, dims: number): Promise<TeleopDevice> {
  switch (hil.device) {
    case 'hid': {
      const mapping = hil.hid.mapping === 'spacemouse' ? SPACEMOUSE : SPACEMOUSE_6AXIS;
      const axes = mapping.axes.length;
      if (hil.frame === 'joint' && axes !== dims) throw new UsageError(`a SpaceMouse gives ${axes} axes; ${envId} takes ${dims} actions (drive the tool instead: hil.frame: tcp, or --frame tcp)`);
      // In the tool frame only the translation axes drive (and engage): `dims` is 3 there.
      return openHid(hil.hid.vendorId, hil.hid.productId, mapping, { dims });
    }
    case 'keyboard': {
      if (!process.stdin.isTTY) throw new UsageError('keyboard teleop needs a terminal: run roborl in one (stdin is not a TTY)');
      process.stderr.write(`${keyboardHelp(dims, hil.frame === 'tcp' ? ['tcp x', 'tcp y', 'tcp z'] : undefined)}\n`);
      return new KeyboardDevice(process.stdin, { dims });
    }
    case 'web': {
      const labels = hil.frame === 'tcp' ? ['tcp x', 'tcp y', 'tcp z'] : undefined;
      const page = await WebTeleop.open({ dims, env: envId, labels, ...hil.web, log: (line) => process.stderr.write(`${line}\n`) });
      if (!['127.0.0.1', 'localhost', '::1'].includes(hil.web.host)) process.stderr.write(`WARNING: the teleop page listens on ${hil.web.host}: anyone there with the token can steer\n`);
      process.stderr.write(`teleop page: ${page.url}\n`);
      return page;
    }
    case 'simulated':
      throw new Error('unreachable: the simulated person is built by teleopDevice');
  }
}
