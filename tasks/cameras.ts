import type { Env } from '../control/env.js';
import { findSceneSource } from '../control/scene.js';
import type { Observation } from '../control/spaces.js';
import { CameraConfigError, parseCameras, type CameraConfig, type CameraConfigInput } from '../sim/camera/config.js';
import { CameraObservation, SelectState } from '../sim/camera/observation.js';
import { PANDA_FRONT_CAMERA, PANDA_WRIST_CAMERA } from '../sim/camera/presets.js';
import { make, type MakeOptions } from './registry.js';

/**
 * Env options that change what a simulated task is observed through, not the task itself:
 * `cameras` (a list of camera configs or preset names, sim/camera/config.ts) and `state`
 * (`full`, the task's vector, or `proprio`: q, q̇, TCP and the gripper width only, so a pixel
 * policy must find the goal or the object in the image).
 */
export const OBSERVATION_OPTION_KEYS = ['cameras', 'state'] as const;

/** Camera presets by name, usable in `cameras:` as a bare string. */
export const CAMERA_PRESETS: Readonly<Record<string, CameraConfigInput>> = { front: PANDA_FRONT_CAMERA, wrist: PANDA_WRIST_CAMERA };

/** The observation options, validated, and the task's own options. */
export interface ObservationOptions {
  /** The cameras, validated (presets expanded); empty: a state-vector env. */
  readonly cameras: readonly CameraConfig[];
  readonly state: 'full' | 'proprio';
  /** The options left for the task. */
  readonly task: Record<string, unknown>;
}

/**
 * Splits and validates `cameras` and `state` from a task's env options. Errors name the field
 * (`cameras.1.pose.lookAt: …`, `cameras.0: unknown camera preset "side"`), prefixed by `where`.
 */
export function splitCameraOptions(id: string, options: Record<string, unknown>, where = ''): ObservationOptions {
  const { cameras: rawCameras, state: rawState, ...task } = options;
  const state = rawState ?? 'full';
  if (state !== 'full' && state !== 'proprio') throw new CameraConfigError(`${id}: ${where}state: expected "full" or "proprio", got ${JSON.stringify(rawState)}`);
  if (rawCameras === undefined) return { cameras: [], state, task };
  if (!Array.isArray(rawCameras)) throw new CameraConfigError(`${id}: ${where}cameras: expected a list of camera configs or preset names (${Object.keys(CAMERA_PRESETS).join(', ')}), got ${JSON.stringify(rawCameras)}`);
  const expanded = rawCameras.map((c: unknown, i) => {
    if (typeof c !== 'string') return c;
    const preset = CAMERA_PRESETS[c];
    if (!preset) throw new CameraConfigError(`${id}: ${where}cameras.${i}: unknown camera preset "${c}" (presets: ${Object.keys(CAMERA_PRESETS).join(', ')})`);
    return preset;
  });
  try {
    return { cameras: parseCameras(expanded, `${where}cameras`), state, task };
  } catch (err) {
    throw new CameraConfigError(`${id}: ${(err as Error).message}`);
  }
}

/** Whether an observation name is proprioceptive: a joint angle or speed, the TCP, the gripper. */
const PROPRIO = /^(q\d+|q̇\d+|tcp [xyz]|gripper width)$/;

/** The indices of the proprioceptive entries of an env's observation (by its observation names). */
export function proprioIndices(env: Env): number[] {
  const names = env.spec.observationNames;
  if (!names) throw new CameraConfigError(`${env.spec.id}: state: proprio needs the task's observation names`);
  const idx = names.flatMap((n, i) => (PROPRIO.test(n) ? [i] : []));
  if (idx.length === 0) throw new CameraConfigError(`${env.spec.id}: state: proprio found no joint, TCP or gripper entries in its observation`);
  return idx;
}

/**
 * Wraps a (possibly wrapped) simulated env with its observation options: the state picked down to
 * proprioception, then the cameras rendering the innermost task's scene. Without either, `env`.
 */
export function observeWith(env: Env, options: Pick<ObservationOptions, 'cameras' | 'state'>): Env<Observation> {
  let e: Env = env;
  if (options.state === 'proprio') e = new SelectState(e, proprioIndices(e));
  if (options.cameras.length === 0) return e;
  const source = findSceneSource(env);
  if (!source) throw new CameraConfigError(`${env.spec.id} has no scene to render: cameras work on the simulated physical tasks (the Panda tasks, PandaPickCube-v0)`);
  return new CameraObservation(e, source, options.cameras);
}

/**
 * `make` with the observation options: the registered task (its own options), observed through
 * `cameras` and `state` (see {@link splitCameraOptions}). Without them it is `make`.
 */
export async function makeObserved(id: string, makeOptions: MakeOptions = {}): Promise<Env<Observation>> {
  const split = splitCameraOptions(id, makeOptions.options ?? {});
  const env = await make(id, { ...makeOptions, options: split.task });
  try {
    return observeWith(env, split);
  } catch (err) {
    await env.close();
    throw err;
  }
}
