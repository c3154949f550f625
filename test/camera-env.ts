import { EnvStateError, validateAction, type Env, type EnvSpec, type ResetOptions, type ResetResult, type StepResult } from '../control/env.js';
import { Rng } from '../control/rng.js';
import { box, dict, image, type DictObservation, type DictSpace } from '../control/spaces.js';

/**
 * A tiny env with a camera, for tests of image observations (no renderer needed): a point moves
 * in [−1, 1]² by the action; the `front` camera (S×S RGB) shows it as a red 2×2 dot on grey and
 * the goal as a green one; the state is the point's position; reward −distance to the goal.
 * Episodes truncate after `maxSteps`. `faults` break the contract on purpose (checkEnv tests).
 */
export class CameraDotEnv implements Env<DictObservation> {
  readonly spec: EnvSpec<DictSpace>;
  private rng = new Rng(0);
  private pos = new Float32Array(2);
  private goal = new Float32Array(2);
  private t = 0;
  private started = false;

  constructor(
    readonly size = 16,
    readonly maxSteps = 20,
    readonly faults: { readonly shortFrame?: boolean; readonly floatFrame?: boolean; readonly noisyFrame?: boolean } = {},
  ) {
    this.spec = {
      id: 'CameraDot-v0',
      observationSpace: dict(box(-1, 1, [2]), { front: image(size, size, 3) }),
      actionSpace: box(-0.2, 0.2, [2]),
      controlHz: 10,
      maxEpisodeSteps: maxSteps,
      constraints: [],
      kind: 'sim',
    };
  }

  async reset(options: ResetOptions = {}): Promise<ResetResult<DictObservation>> {
    if (options.seed !== undefined) this.rng = new Rng(options.seed);
    this.pos = Float32Array.of(this.rng.uniform(-1, 1), this.rng.uniform(-1, 1));
    this.goal = Float32Array.of(this.rng.uniform(-1, 1), this.rng.uniform(-1, 1));
    this.t = 0;
    this.started = true;
    return { obs: this.observe(), info: {} };
  }

  async step(action: Float32Array): Promise<StepResult<DictObservation>> {
    validateAction(this.spec, action);
    if (!this.started) throw new EnvStateError(`${this.spec.id}: step() before reset()`);
    for (let i = 0; i < 2; i++) this.pos[i] = Math.min(1, Math.max(-1, (this.pos[i] as number) + Math.min(0.2, Math.max(-0.2, action[i] as number))));
    this.t++;
    const d = Math.hypot((this.pos[0] as number) - (this.goal[0] as number), (this.pos[1] as number) - (this.goal[1] as number));
    const truncated = this.t >= this.maxSteps;
    if (truncated) this.started = false;
    return { obs: this.observe(), reward: -d, costs: new Float32Array(0), terminated: false, truncated, info: { success: d < 0.1 } };
  }

  async close(): Promise<void> {}

  /** The pixel (column, row) of a position in [−1, 1]². */
  pixel(p: Float32Array): [number, number] {
    const S = this.size;
    return [Math.round((((p[0] as number) + 1) / 2) * (S - 2)), Math.round((((p[1] as number) + 1) / 2) * (S - 2))];
  }

  private observe(): DictObservation {
    const S = this.size;
    const frame = new Uint8Array(S * S * 3).fill(128);
    const dot = (p: Float32Array, rgb: [number, number, number]): void => {
      const [cx, cy] = this.pixel(p);
      for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) frame.set(rgb, ((cy + dy) * S + cx + dx) * 3);
    };
    dot(this.goal, [0, 255, 0]);
    dot(this.pos, [255, 0, 0]);
    if (this.faults.noisyFrame) frame[0] = Math.floor(Math.random() * 256);
    const front = this.faults.floatFrame ? Float32Array.from(frame) : this.faults.shortFrame ? frame.subarray(1) : frame;
    return { state: Float32Array.from(this.pos), front };
  }
}
