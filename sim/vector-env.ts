import { validateAction, type Env, type EnvSpec, type SpaceOf } from '../control/env.js';
import { cameraList, flatSize, frameSize, stateOf, stateSpace, type DictObservation, type Observation } from '../control/spaces.js';

/** N observations stacked: dict observations as N states and N frames per camera (row i = sub-env i). */
export interface StackedFrames {
  /** N × stateDim, row-major. */
  readonly state: Float32Array;
  /** Per camera name, N × H × W × C bytes. */
  readonly frames: Readonly<Record<string, Uint8Array>>;
}

/** What a vector env's observations look like: a N × obsDim matrix, or {@link StackedFrames} for dict observations. */
export type VectorObs<O extends Observation> = O extends Float32Array ? Float32Array : StackedFrames;

/** What one vector step returns; row i belongs to sub-env i. */
export interface VectorStepResult<O extends Observation = Float32Array> {
  /** N × obsDim, row-major (dict observations: stacked). After an autoreset, row i is the FIRST observation of the new episode. */
  readonly obs: VectorObs<O>;
  readonly rewards: Float64Array;
  /** N × constraints, row-major. */
  readonly costs: Float32Array;
  readonly terminated: Uint8Array;
  readonly truncated: Uint8Array;
  /**
   * For each sub-env whose episode ended on this step, its last observation (what a learner
   * bootstraps from on truncation); `null` for the others.
   */
  readonly finalObs: readonly (O | null)[];
  /** Per sub-env step info, from the step (not from the autoreset). */
  readonly infos: readonly import('../control/env.js').StepInfo[];
}

/**
 * N copies of an env stepped together.
 *
 * Autoreset rule ("same step", as Stable-Baselines3): when sub-env i terminates or truncates,
 * it is reset within the same `step` call; `obs` row i then holds the first observation of the
 * new episode and `finalObs[i]` the last observation of the finished one. Seeding:
 * `reset({seed})` seeds sub-env i with `seed + i`; autoresets are unseeded and continue each
 * sub-env's own random stream, so a seeded vector run is reproducible.
 *
 * Sub-envs step concurrently (`Promise.all`), which overlaps I/O for robot-backed envs. Dict
 * observations (camera frames) are stacked per entry ({@link StackedFrames}).
 */
export class VectorEnv<O extends Observation = Float32Array> {
  readonly spec: EnvSpec<SpaceOf<O>>;
  readonly numEnvs: number;
  private readonly obsDim: number;
  private readonly actDim: number;

  private readonly cameras: { readonly name: string; readonly bytes: number }[];

  private constructor(private readonly envs: readonly Env<O>[]) {
    const first = envs[0] as Env<O>;
    this.spec = first.spec;
    this.numEnvs = envs.length;
    this.obsDim = stateSpace(first.spec.observationSpace).low.length;
    this.actDim = flatSize(first.spec.actionSpace);
    this.cameras = cameraList(first.spec.observationSpace).map((c) => ({ name: c.name, bytes: frameSize(c) }));
    const layout = (e: Env<O>): string => JSON.stringify(cameraList(e.spec.observationSpace));
    for (const e of envs) {
      if (e.spec.id !== this.spec.id || stateSpace(e.spec.observationSpace).low.length !== this.obsDim || layout(e) !== layout(first)) throw new TypeError('VectorEnv: all sub-envs must share one spec');
    }
  }

  /** Room for N observations. */
  private alloc(): VectorObs<O> {
    const state = new Float32Array(this.numEnvs * this.obsDim);
    if (!this.cameras.length) return state as VectorObs<O>;
    return { state, frames: Object.fromEntries(this.cameras.map((c) => [c.name, new Uint8Array(this.numEnvs * c.bytes)])) } as VectorObs<O>;
  }

  /** Writes sub-env i's observation into row i. */
  private put(out: VectorObs<O>, i: number, obs: O): void {
    const state = out instanceof Float32Array ? out : out.state;
    state.set(stateOf(obs), i * this.obsDim);
    if (out instanceof Float32Array) return;
    for (const c of this.cameras) {
      const frame = (obs as DictObservation)[c.name];
      if (!(frame instanceof Uint8Array) || frame.length !== c.bytes) throw new TypeError(`${this.spec.id} (sub-env ${i}): observation.${c.name} is not a Uint8Array of ${c.bytes} bytes`);
      (out.frames[c.name] as Uint8Array).set(frame, i * c.bytes);
    }
  }

  /** Builds `n` envs with `factory` (called with the index). */
  static async create<O extends Observation = Float32Array>(n: number, factory: (index: number) => Promise<Env<O>> | Env<O>): Promise<VectorEnv<O>> {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`Expected \`n\` to be a positive integer, got \`${n}\``);
    const envs: Env<O>[] = [];
    for (let i = 0; i < n; i++) envs.push(await factory(i));
    return new VectorEnv(envs);
  }

  async reset(options: { seed?: number } = {}): Promise<VectorObs<O>> {
    const out = this.alloc();
    const results = await Promise.all(this.envs.map((e, i) => e.reset(options.seed === undefined ? {} : { seed: options.seed + i })));
    results.forEach((r, i) => this.put(out, i, r.obs));
    return out;
  }

  /** `actions` is N × actDim, row-major. Every row is validated before any sub-env moves. */
  async step(actions: Float32Array): Promise<VectorStepResult<O>> {
    if (actions.length !== this.numEnvs * this.actDim) {
      throw new RangeError(`${this.spec.id} (vector of ${this.numEnvs}): actions has length ${actions.length}, expected ${this.numEnvs} × ${this.actDim}`);
    }
    const rows = this.envs.map((_, i) => actions.subarray(i * this.actDim, (i + 1) * this.actDim));
    rows.forEach((row) => validateAction(this.spec, row));
    const results = await Promise.all(this.envs.map((e, i) => e.step(rows[i] as Float32Array)));
    const nc = this.spec.constraints.length;
    const obs = this.alloc();
    const rewards = new Float64Array(this.numEnvs);
    const costs = new Float32Array(this.numEnvs * nc);
    const terminated = new Uint8Array(this.numEnvs);
    const truncated = new Uint8Array(this.numEnvs);
    const finalObs: (O | null)[] = [];
    await Promise.all(
      results.map(async (r, i) => {
        rewards[i] = r.reward;
        costs.set(r.costs, i * nc);
        terminated[i] = r.terminated ? 1 : 0;
        truncated[i] = r.truncated ? 1 : 0;
        if (r.terminated || r.truncated) {
          finalObs[i] = r.obs;
          this.put(obs, i, (await (this.envs[i] as Env<O>).reset()).obs);
        } else {
          finalObs[i] = null;
          this.put(obs, i, r.obs);
        }
      }),
    );
    return { obs, rewards, costs, terminated, truncated, finalObs, infos: results.map((r) => r.info) };
  }

  async close(): Promise<void> {
    await Promise.all(this.envs.map((e) => e.close()));
  }
}
