import type { Env, EnvSpec, ResetOptions, ResetResult, StepResult } from '../../control/env.js';
import type { SceneSource } from '../../control/scene.js';
import { box, dict, image, type Box, type DictObservation, type DictSpace } from '../../control/spaces.js';
import { BaseWrapper } from '../../control/wrappers/wrapper.js';
import { CameraRig } from './rig.js';
import type { CameraConfig } from './config.js';

/**
 * Picks entries of a state-vector env's observation (`indices`, in order), e.g. the
 * proprioceptive part of a task's vector so that a pixel policy must find the goal in the image.
 * Bounds and names follow the entries. Frames do not pass here: this wraps the vector env under
 * {@link CameraObservation}.
 */
export class SelectState extends BaseWrapper<Float32Array> {
  private readonly indices: Int32Array;

  constructor(env: Env, indices: readonly number[]) {
    const space = env.spec.observationSpace;
    for (const i of indices) if (!Number.isInteger(i) || i < 0 || i >= space.low.length) throw new RangeError(`${env.spec.id}: state index ${i} is outside its ${space.low.length}-entry observation`);
    const pick = (a: Float32Array): number[] => indices.map((i) => a[i] as number);
    const names = env.spec.observationNames;
    const spec: EnvSpec = {
      ...env.spec,
      observationSpace: box(pick(space.low), pick(space.high)),
      ...(names ? { observationNames: indices.map((i) => names[i] as string) } : {}),
    };
    super(env, spec);
    this.indices = Int32Array.from(indices);
  }

  private select(obs: Float32Array): Float32Array {
    const out = new Float32Array(this.indices.length);
    for (let k = 0; k < out.length; k++) out[k] = obs[this.indices[k] as number] as number;
    return out;
  }

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    const r = await this.env.reset(options);
    return { ...r, obs: this.select(r.obs) };
  }

  override async step(action: Float32Array): Promise<StepResult> {
    const r = await this.env.step(action);
    return { ...r, obs: this.select(r.obs) };
  }
}

/**
 * A simulated env observed through cameras: `{state, <camera>: uint8 H×W×3}` (SERL's dict
 * observation), with `state` the wrapped env's vector and each frame rendered from the scene of
 * `source` (the task under the wrapper stack) after every reset and step. The renderer draws the
 * scene description, not an engine's buffers, so Rapier and MuJoCo give the same bytes for the
 * same poses. Domain randomisation is reseeded from the reset seed and drawn afresh each episode,
 * so frames are deterministic by seed. Frames are fresh arrays each step (replay keeps them).
 */
export class CameraObservation extends BaseWrapper<DictObservation> {
  readonly rig: CameraRig;
  private readonly inner: Env;

  constructor(
    env: Env,
    private readonly source: SceneSource,
    cameras: readonly CameraConfig[],
  ) {
    if (cameras.length === 0) throw new RangeError(`${env.spec.id}: CameraObservation needs at least one camera`);
    for (const c of cameras) if (c.depth) throw new RangeError(`${env.spec.id}: camera "${c.name}" has depth: true; observations carry RGB frames only`);
    const state: Box = env.spec.observationSpace;
    const space: DictSpace = dict(state, Object.fromEntries(cameras.map((c) => [c.name, image(c.height, c.width, 3)])));
    const spec: EnvSpec<DictSpace> = { ...env.spec, observationSpace: space };
    // BaseWrapper<DictObservation> forwards to an Env<DictObservation>; every call is overridden here and goes to `inner`.
    super(env as unknown as Env<DictObservation>, spec);
    this.inner = env;
    this.rig = new CameraRig(cameras, 0);
  }

  private observe(state: Float32Array): DictObservation {
    const frames = this.rig.render(this.source.scene());
    const obs: Record<string, Float32Array | Uint8Array> = { state };
    for (const [name, f] of frames) obs[name] = Uint8Array.from(f.rgb);
    return obs as DictObservation;
  }

  override async reset(options?: ResetOptions): Promise<ResetResult<DictObservation>> {
    const r = await this.inner.reset(options);
    if (options?.seed !== undefined) this.rig.reseed(options.seed);
    this.rig.randomize();
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
