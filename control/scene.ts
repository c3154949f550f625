import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Env, ResetOptions, ResetResult, StepResult } from './env.js';
import type { SceneMesh } from './scene-mesh.js';
import { Wrapper } from './wrappers/wrapper.js';

export { MAX_MESH_FACES, MAX_MESH_VERTICES, meshExtents, meshProblem, type SceneMesh } from './scene-mesh.js';

/**
 * What a 3D viewer needs to draw an env: shapes (the robot's URDF collision shapes, an MJCF
 * model's geoms and meshes, objects, fixtures) and markers (targets, keep-out zones), each with
 * a pose per frame. Shapes are in metres, z up; capsules and cylinders lie along their local y
 * axis (Rapier's and three.js's convention).
 */
export interface SceneShape {
  /** Unique within the scene, e.g. `panda_link3#0`, `table`, `goal`. */
  readonly name: string;
  /**
   * box: half extents [x, y, z]; sphere: [radius]; capsule, cylinder: [radius, half height];
   * mesh: the half extents of a box about the shape's origin that holds every vertex.
   */
  readonly kind: 'box' | 'sphere' | 'capsule' | 'cylinder' | 'mesh';
  readonly size: readonly number[];
  readonly role: 'robot' | 'object' | 'fixture' | 'target' | 'keep-out';
  /** A mesh's triangles (kind `mesh` only), in the shape's frame. */
  readonly mesh?: SceneMesh;
}

/** One moment of a scene: the shapes and, per shape, x y z qx qy qz qw. */
export interface SceneState {
  readonly shapes: readonly SceneShape[];
  readonly poses: readonly number[];
}

/** An env that can describe its scene (the simulator's tasks). */
export interface SceneSource {
  scene(): SceneState;
}

export function isSceneSource(env: unknown): env is SceneSource {
  return typeof (env as Partial<SceneSource> | null)?.scene === 'function';
}

/** The first env in a wrapper stack that describes its scene, if any. */
export function findSceneSource(env: Env): SceneSource | null {
  let e: Env = env;
  for (;;) {
    if (isSceneSource(e)) return e;
    if (!(e instanceof Wrapper)) return null;
    e = e.env;
  }
}

/**
 * Lines of a scene recording (JSON lines, `*.scene.jsonl`): a `scene` line at each episode's
 * start (the shapes), then one `frame` line per step. Appended and flushed as
 * they happen, so a viewer can follow a recording that is still being written.
 */
export type SceneLine =
  | { readonly type: 'scene'; readonly env: string; readonly hz: number; readonly episode: number; readonly shapes: readonly SceneShape[] }
  | { readonly type: 'frame'; readonly episode: number; readonly t: number; readonly poses: readonly number[]; readonly reward?: number; readonly success?: boolean; readonly done?: boolean };

/** Appends scene lines to a file (created fresh), flushed line by line so a viewer can follow it. */
export class SceneWriter {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '');
  }

  write(line: SceneLine): void {
    appendFileSync(this.path, `${JSON.stringify(line)}\n`);
  }
}

/** Poses rounded to 0.1 mm / 1e-4 for the file. */
export function roundPoses(poses: readonly number[]): number[] {
  return poses.map((v) => Math.round(v * 1e4) / 1e4);
}

/**
 * Records the scene of chosen episodes to a file, beside any env stack whose inner env is a
 * {@link SceneSource} (a no-op otherwise). `recordNext(path, n)` arms it: the next `n` episodes
 * are written to `path`, one frame per step.
 */
export class SceneRecorder extends Wrapper {
  private readonly source: SceneSource | null;
  private writer: SceneWriter | null = null;
  private left = 0;
  private episode = -1;
  private t = 0;

  constructor(env: Env) {
    super(env);
    this.source = findSceneSource(env);
  }

  /** Whether this env stack can be recorded. */
  get available(): boolean {
    return this.source !== null;
  }

  /** Records the next `episodes` episodes into `path` (a fresh file). */
  recordNext(path: string, episodes = 1): void {
    if (!this.source) return;
    this.writer = new SceneWriter(path);
    this.left = episodes;
  }

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    const r = await this.env.reset(options);
    if (this.writer && this.left > 0 && this.source) {
      this.episode++;
      this.t = 0;
      const s = this.source.scene();
      this.writer.write({ type: 'scene', env: this.spec.id, hz: this.spec.controlHz, episode: this.episode, shapes: s.shapes });
      this.writer.write({ type: 'frame', episode: this.episode, t: 0, poses: roundPoses(s.poses) });
    }
    return r;
  }

  override async step(action: Float32Array): Promise<StepResult> {
    const r = await this.env.step(action);
    if (this.writer && this.left > 0 && this.source) {
      const done = r.terminated || r.truncated;
      this.writer.write({ type: 'frame', episode: this.episode, t: ++this.t, poses: roundPoses(this.source.scene().poses), reward: Math.round(r.reward * 1e4) / 1e4, success: r.info.success === true, ...(done ? { done } : {}) });
      if (done && --this.left === 0) this.writer = null;
    }
    return r;
  }
}
