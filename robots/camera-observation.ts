import type { Env, EnvSpec, ResetOptions, ResetResult, StepResult } from '../control/env.js';
import { dict, image, type DictObservation, type DictSpace } from '../control/spaces.js';
import { BaseWrapper, unwrap } from '../control/wrappers/wrapper.js';
import type { CameraConfig, CameraFrame } from './camera.js';
import { RobotEnv } from './robot-env.js';

/** What the wrapper reads from a robot: its cameras and their newest frames (RobotEnv has both). */
export interface CameraSource {
  readonly cameras: readonly CameraConfig[];
  cameraFrame(name: string): CameraFrame | null;
}

/**
 * The robot under a wrapper stack when it has cameras, else null: what a person at the teleop
 * page sees beside the scene (issue 23) — every camera of the robot YAML, the ones a policy
 * observes and any others, since a person correcting the arm needs all the views there are.
 */
export function robotCameras(env: Env): CameraSource | null {
  const raw = unwrap(env);
  return raw instanceof RobotEnv && raw.cameras.length > 0 ? raw : null;
}

/**
 * A robot env observed as the simulator's camera envs are (sim/camera/observation.ts):
 * `{state, <camera>: uint8 H×W×3}` over the cameras `observed` names, in its order (the config's
 * env observes these; the robot may have more, which a policy never sees — default: all the
 * robot's), each frame the camera's newest (decoded and resized by the
 * transport to its configured size), copied after every reset and step, so a pixel policy runs on
 * the robot unchanged. Staleness is the robot env's: a step whose camera is stale already ends in
 * a safe stop (truncated, `info.linkError`); that step's frame is the last one received, or black
 * before any.
 */
export class RobotCameraObservation extends BaseWrapper<DictObservation> {
  private readonly inner: Env;
  /** The cameras observed, in the observation's order. */
  private readonly observed: readonly CameraConfig[];

  constructor(
    env: Env,
    private readonly source: CameraSource,
    observed: readonly string[] = source.cameras.map((c) => c.name),
  ) {
    if (observed.length === 0) throw new RangeError(`${env.spec.id}: no cameras to observe`);
    const cameras = observed.map((name) => {
      const c = source.cameras.find((k) => k.name === name);
      if (!c) throw new RangeError(`${env.spec.id}: the robot has no camera "${name}" (its cameras: ${source.cameras.map((k) => k.name).join(', ') || 'none'})`);
      return c;
    });
    const space: DictSpace = dict(env.spec.observationSpace, Object.fromEntries(cameras.map((c) => [c.name, image(c.height, c.width, 3)])));
    const spec: EnvSpec<DictSpace> = { ...env.spec, observationSpace: space };
    // Every call is overridden here and goes to `inner` (the vector env); the base class only carries the spec and the stack.
    super(env as unknown as Env<DictObservation>, spec);
    this.inner = env;
    this.observed = cameras;
  }

  private observe(state: Float32Array): DictObservation {
    const obs: Record<string, Float32Array | Uint8Array> = { state };
    for (const c of this.observed) {
      const f = this.source.cameraFrame(c.name);
      obs[c.name] = f && f.rgb.length === c.width * c.height * 3 ? Uint8Array.from(f.rgb) : new Uint8Array(c.width * c.height * 3);
    }
    return obs as DictObservation;
  }

  override async reset(options?: ResetOptions): Promise<ResetResult<DictObservation>> {
    const r = await this.inner.reset(options);
    return { ...r, obs: this.observe(r.obs) };
  }

  override async step(action: Float32Array): Promise<StepResult<DictObservation>> {
    const r = await this.inner.step(action);
    return { ...r, obs: this.observe(r.obs) };
  }

  override async close(): Promise<void> {
    await this.inner.close();
  }
}
