import { Rng } from '../../control/rng.js';
import type { SceneSource, SceneState } from '../../control/scene.js';
import { Camera, type CameraFrame } from './camera.js';
import { type CameraConfig, parseCameras } from './config.js';

/**
 * An env's cameras with their frames, preallocated: the one object an env, the ROS emulator or a
 * script needs.
 *
 * ```ts
 * const rig = CameraRig.fromConfig(options.cameras, seed); // validates, names bad fields
 * rig.randomize();                                         // at each episode's start (no-op without `randomize`)
 * const frames = rig.render(env.scene());                  // every camera; same objects each call
 * frames.get('front')!.rgb;                                // Uint8Array H×W×3
 * ```
 *
 * Frames are overwritten by the next render: copy what must be kept (replay stores its own).
 * Deterministic: the same seed, configs and scenes give the same bytes; domain randomisation
 * draws from one {@link Rng} seeded by `seed`, camera by camera in config order.
 */
export class CameraRig {
  readonly cameras: readonly Camera[];
  /** One frame per camera, by name, in config order; rewritten in place by each render. */
  readonly frames: ReadonlyMap<string, CameraFrame>;
  private readonly rng: Rng;

  constructor(configs: readonly CameraConfig[], seed = 0) {
    this.cameras = configs.map((c) => new Camera(c));
    this.frames = new Map(this.cameras.map((c) => [c.name, c.createFrame()]));
    this.rng = new Rng(seed);
  }

  /** Validates raw configs (an env's `cameras:` option) first; see {@link parseCameras}. */
  static fromConfig(raw: unknown, seed = 0, where = 'cameras'): CameraRig {
    return new CameraRig(parseCameras(raw, where), seed);
  }

  /** Restarts the randomisation stream (an env's reset with a seed). */
  reseed(seed: number): void {
    this.rng.seed(seed);
  }

  /** A new domain-randomisation sample for every camera (see {@link Camera.randomize}). */
  randomize(): void {
    for (const c of this.cameras) c.randomize(this.rng);
  }

  /** Renders every camera; returns {@link frames}. */
  render(scene: SceneState): ReadonlyMap<string, CameraFrame> {
    for (const c of this.cameras) {
      const out = this.frames.get(c.name);
      if (out) c.render(scene, out);
    }
    return this.frames;
  }

  /** Renders one camera by name and returns its frame. */
  renderOne(scene: SceneState, name: string): CameraFrame {
    const camera = this.camera(name);
    const out = this.frames.get(name);
    if (!out) throw new RangeError(`no frame for camera "${name}"`);
    camera.render(scene, out);
    return out;
  }

  /** Renders every camera from a scene source (a simulated env): `render(source.scene())`. */
  renderSource(source: SceneSource): ReadonlyMap<string, CameraFrame> {
    return this.render(source.scene());
  }

  /** The camera named `name`; a RangeError lists the names there are. */
  camera(name: string): Camera {
    const c = this.cameras.find((x) => x.name === name);
    if (!c) throw new RangeError(`no camera "${name}" (have: ${this.cameras.map((x) => x.name).join(', ') || 'none'})`);
    return c;
  }
}
