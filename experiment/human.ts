import { isatty, ReadStream } from 'node:tty';
import { isMainThread } from 'node:worker_threads';
import type { Env } from '../control/env.js';
import type { Policy } from '../control/policy.js';
import { findSceneSource, type SceneSource } from '../control/scene.js';
import { RealtimeEnv } from '../control/wrappers/realtime.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { CartesianTeleop, ToolFrameAxes } from '../hil/cartesian.js';
import type { TeleopDevice } from '../hil/device.js';
import { openHid, SPACEMOUSE, SPACEMOUSE_6AXIS } from '../hil/devices/hid.js';
import { keyboardHelp, KeyboardDevice } from '../hil/devices/keyboard.js';
import { SimulatedHuman } from '../hil/devices/simulated-human.js';
import { WebTeleop } from '../hil/devices/web.js';
import { Intervention } from '../hil/intervention.js';
import { robotCameras, type CameraSource } from '../robots/camera-observation.js';
import { PANDA_TCP_ACTION_NAMES } from '../tasks/panda-action.js';
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

/**
 * The configured teleop device for a learner env. On an env acting in the tool frame
 * ({@link actsInToolFrame}) the device drives the action's entries directly in either hil.frame;
 * on joint-delta envs `hil.frame: tcp` maps three axes through the task's IK
 * ({@link CartesianTeleop}).
 */
export async function teleopDevice(envId: string, env: Env, hil: HilSection, seed: number): Promise<TeleopDevice> {
  if (hil.device === 'simulated') return new SimulatedHuman({ expert: checkedExpert(envId, env), episodeSteps: env.spec.maxEpisodeSteps ?? undefined, ...hil.simulated, seed: seed + 31 });
  if (env.spec.actionSpace.kind !== 'box') throw new UsageError(`${hil.device} teleop drives continuous (Box) actions; ${envId} has discrete ones`);
  const actionDims = env.spec.actionSpace.low.length;
  const actionNames = env.spec.actionNames?.length === actionDims ? env.spec.actionNames : undefined;
  if (actsInToolFrame(actionNames)) {
    // The env's action is the tool frame already (env.options.action.frame: tcp): the person's
    // axes are its entries, in its units, whatever hil.frame says — there are no joint axes to
    // drive, and mapping tool-frame axes through the IK onto joint deltas gave 7 values for an
    // action of 3–5. The policy's proposal is shown as it is (it is in that frame).
    const view: PageView = { labels: actionNames, frame: 'tcp', observationNames: env.spec.observationNames, scene: findSceneSource(env), cameras: robotCameras(env) };
    // The keys keep the policy's gripper until one of the gripper's keys is pressed (the page: until its gripper input is moved).
    if (hil.device !== 'hid') return rawDevice(envId, hil, actionDims, view, actionNames?.indexOf('gripper'));
    // A SpaceMouse's translation axes drive Δx, Δy, Δz; the policy keeps the yaw and the gripper.
    const mouse = await rawDevice(envId, { ...hil, frame: 'tcp' }, 3, view);
    return actionDims > 3 ? new ToolFrameAxes(mouse, actionDims) : mouse;
  }
  const entry = envEntry(envId);
  const tcp = hil.frame === 'tcp' ? entry.tcpTeleop : undefined;
  if (hil.frame === 'tcp' && !tcp) throw new UsageError(`${envId} has no Cartesian teleop (hil.frame: tcp); use hil.frame: joint, or env.options.action: { frame: tcp } (the env then acts in the tool frame and every device drives it there)`);
  // In the tool frame the web page drives the gripper as a fourth axis (a key or HID device has three).
  const gripper = tcp && hil.device === 'web' ? actionNames?.indexOf('gripper') ?? -1 : -1;
  const dims = tcp ? (gripper >= 0 ? 4 : 3) : actionDims;
  const view: PageView = {
    labels: tcp ? ['tcp x', 'tcp y', 'tcp z', 'gripper'].slice(0, dims) : actionNames,
    frame: tcp ? 'tcp' : 'action',
    observationNames: env.spec.observationNames,
    scene: findSceneSource(env),
    cameras: robotCameras(env),
  };
  const device = await rawDevice(envId, hil, dims, view);
  if (!tcp) return device;
  const map = tcp();
  const toLearner = learnerUnits(env);
  const ofAction = entry.tcpOfAction?.();
  const toTask = taskUnits(env);
  return new CartesianTeleop(device, {
    toAction: (obs, v) => toLearner(map(obs, v)),
    ...(ofAction ? { fromAction: (obs: Float32Array, a: Float32Array) => ofAction(obs, toTask(a)) } : {}),
    ...(gripper >= 0 ? { gripper } : {}),
  });
}

/**
 * Whether an env's actions are the tool frame already (a Panda task with `action: { frame: tcp }`:
 * Δtcp x, y, z first, then Δyaw and the gripper when it has them) — told by the action's names,
 * so a robot env running the same task is recognised as the simulator is.
 */
export function actsInToolFrame(actionNames: readonly string[] | undefined): boolean {
  return actionNames !== undefined && PANDA_TCP_ACTION_NAMES.every((n, i) => actionNames[i] === n);
}

/**
 * The task's scripted expert for the simulated person, checked against the env's action size
 * at once: an expert that does not know the env's action frame (a robot env whose raw env is not
 * the task's) would act in joint deltas on a tool-frame action. Probed on a zero observation.
 */
function checkedExpert(envId: string, env: Env): Policy {
  const expert = scriptedInLearnerUnits(envId, env);
  const { actionSpace, observationSpace } = env.spec;
  if (actionSpace.kind !== 'box' || observationSpace.kind !== 'box') return expert;
  const size = expert(new Float32Array(observationSpace.low.length)).length;
  const want = actionSpace.low.length;
  if (size !== want) throw new UsageError(`the simulated person: ${envId}'s scripted expert acts with ${size} values here, the env's action has ${want}${actsInToolFrame(env.spec.actionNames) ? ' (tool frame); on a robot the expert does not know the env\'s action frame yet — use a person\'s device, or joint actions' : ''}`);
  return expert;
}

/** What the web page shows beside the controls (the env's names, frame and scene). */
interface PageView {
  readonly labels: readonly string[] | undefined;
  readonly frame: 'action' | 'tcp';
  readonly observationNames: readonly string[] | undefined;
  readonly scene: SceneSource | null;
  /** A robot's cameras, shown beside the scene (issue 23). */
  readonly cameras: CameraSource | null;
}

/** A learner-unit action ([−1, 1]) in the task's units (the inverse of {@link learnerUnits}). */
function taskUnits(env: Env): (action: Float32Array) => Float32Array {
  const inner = unwrap(env).spec.actionSpace;
  if (inner.kind !== 'box') throw new Error('expected a Box action space');
  return (a) => Float32Array.from(a, (v, i) => (inner.low[i] as number) + ((v + 1) / 2) * ((inner.high[i] as number) - (inner.low[i] as number)));
}

async function rawDevice(envId: string, hil: HilSection, dims: number, view: PageView, gripper?: number): Promise<TeleopDevice> {
  switch (hil.device) {
    case 'hid': {
      const mapping = hil.hid.mapping === 'spacemouse' ? SPACEMOUSE : SPACEMOUSE_6AXIS;
      const axes = mapping.axes.length;
      if (hil.frame === 'joint' && axes !== dims) throw new UsageError(`a SpaceMouse gives ${axes} axes; ${envId} takes ${dims} actions (drive the tool instead: hil.frame: tcp, or --frame tcp)`);
      // In the tool frame only the translation axes drive (and engage): `dims` is 3 there.
      return openHid(hil.hid.vendorId, hil.hid.productId, mapping, { dims });
    }
    case 'keyboard': {
      if (!isatty(0)) throw new UsageError('keyboard teleop needs a terminal: run roborl in one (stdin is not a TTY)');
      process.stderr.write(`${keyboardHelp(dims, view.labels)}\n`);
      // A robot's actor thread (roborl train --robot) reads the terminal itself: a worker's process.stdin is not it.
      return new KeyboardDevice(isMainThread ? process.stdin : new ReadStream(0), { dims, ...(gripper !== undefined && gripper >= 0 ? { gripper } : {}) });
    }
    case 'web': {
      const page = await WebTeleop.open({ dims, env: envId, ...view, ...hil.web, log: (line) => process.stderr.write(`${line}\n`) });
      if (!['127.0.0.1', 'localhost', '::1'].includes(hil.web.host)) process.stderr.write(`WARNING: the teleop page listens on ${hil.web.host}: anyone there with the token can steer\n`);
      process.stderr.write(`teleop page: ${page.url}\n`);
      return page;
    }
    case 'simulated':
      throw new Error('unreachable: the simulated person is built by teleopDevice');
  }
}
