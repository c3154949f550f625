import { validateAction, type Env, type EnvSpec } from '../control/env.js';
import { flatSize } from '../control/spaces.js';

/** What one vector step returns; row i belongs to sub-env i. */
export interface VectorStepResult {
  /** N × obsDim, row-major. After an autoreset, row i is the FIRST observation of the new episode. */
  readonly obs: Float32Array;
  readonly rewards: Float64Array;
  /** N × constraints, row-major. */
  readonly costs: Float32Array;
  readonly terminated: Uint8Array;
  readonly truncated: Uint8Array;
  /**
   * For each sub-env whose episode ended on this step, its last observation (what a learner
   * bootstraps from on truncation); `null` for the others.
   */
  readonly finalObs: readonly (Float32Array | null)[];
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
 * Sub-envs step concurrently (`Promise.all`), which overlaps I/O for robot-backed envs.
 */
export class VectorEnv {
  readonly spec: EnvSpec;
  readonly numEnvs: number;
  private readonly obsDim: number;
  private readonly actDim: number;

  private constructor(private readonly envs: readonly Env[]) {
    const first = envs[0] as Env;
    this.spec = first.spec;
    this.numEnvs = envs.length;
    this.obsDim = first.spec.observationSpace.low.length;
    this.actDim = flatSize(first.spec.actionSpace);
    for (const e of envs) {
      if (e.spec.id !== this.spec.id || e.spec.observationSpace.low.length !== this.obsDim) throw new TypeError('VectorEnv: all sub-envs must share one spec');
    }
  }

  /** Builds `n` envs with `factory` (called with the index). */
  static async create(n: number, factory: (index: number) => Promise<Env> | Env): Promise<VectorEnv> {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`Expected \`n\` to be a positive integer, got \`${n}\``);
    const envs: Env[] = [];
    for (let i = 0; i < n; i++) envs.push(await factory(i));
    return new VectorEnv(envs);
  }

  async reset(options: { seed?: number } = {}): Promise<Float32Array> {
    const out = new Float32Array(this.numEnvs * this.obsDim);
    const results = await Promise.all(this.envs.map((e, i) => e.reset(options.seed === undefined ? {} : { seed: options.seed + i })));
    results.forEach((r, i) => out.set(r.obs, i * this.obsDim));
    return out;
  }

  /** `actions` is N × actDim, row-major. Every row is validated before any sub-env moves. */
  async step(actions: Float32Array): Promise<VectorStepResult> {
    if (actions.length !== this.numEnvs * this.actDim) {
      throw new RangeError(`${this.spec.id} (vector of ${this.numEnvs}): actions has length ${actions.length}, expected ${this.numEnvs} × ${this.actDim}`);
    }
    const rows = this.envs.map((_, i) => actions.subarray(i * this.actDim, (i + 1) * this.actDim));
    rows.forEach((row) => validateAction(this.spec, row));
    const results = await Promise.all(this.envs.map((e, i) => e.step(rows[i] as Float32Array)));
    const nc = this.spec.constraints.length;
    const obs = new Float32Array(this.numEnvs * this.obsDim);
    const rewards = new Float64Array(this.numEnvs);
    const costs = new Float32Array(this.numEnvs * nc);
    const terminated = new Uint8Array(this.numEnvs);
    const truncated = new Uint8Array(this.numEnvs);
    const finalObs: (Float32Array | null)[] = [];
    await Promise.all(
      results.map(async (r, i) => {
        rewards[i] = r.reward;
        costs.set(r.costs, i * nc);
        terminated[i] = r.terminated ? 1 : 0;
        truncated[i] = r.truncated ? 1 : 0;
        if (r.terminated || r.truncated) {
          finalObs[i] = r.obs;
          obs.set((await (this.envs[i] as Env).reset()).obs, i * this.obsDim);
        } else {
          finalObs[i] = null;
          obs.set(r.obs, i * this.obsDim);
        }
      }),
    );
    return { obs, rewards, costs, terminated, truncated, finalObs, infos: results.map((r) => r.info) };
  }

  async close(): Promise<void> {
    await Promise.all(this.envs.map((e) => e.close()));
  }
}
