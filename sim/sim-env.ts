import { clipToBox, EnvStateError, validateAction, type EnvSpec, type ResetOptions, type ResetResult, type StepResult, type SyncEnv } from '../control/env.js';
import { checkSeed, Rng } from '../control/rng.js';

/** What a task computes for one step, before the base class adds bookkeeping. */
export interface TaskStep {
  readonly obs: Float32Array;
  readonly reward: number;
  readonly costs: Float32Array;
  readonly terminated: boolean;
  readonly success?: boolean;
  readonly metrics?: Record<string, number>;
}

/**
 * Base of every simulated env. It owns the seeded RNG and the episode state machine, validates
 * actions before anything changes (so a bad action leaves the world untouched), clips finite
 * out-of-range actions into the box, and offers both the async {@link Env} methods and the
 * synchronous fast path. Subclasses implement `resetTask` and `stepTask`.
 */
export abstract class SimEnv implements SyncEnv {
  abstract readonly spec: EnvSpec;
  protected readonly rng = new Rng(0);
  private phase: 'new' | 'running' | 'ended' | 'closed' = 'new';

  protected abstract resetTask(rng: Rng): { obs: Float32Array; success?: boolean };
  /** `action` is validated, copied and clipped to the action box. */
  protected abstract stepTask(action: Float32Array): TaskStep;
  /** Releases wasm memory; called once by {@link close}. */
  protected dispose(): void {}

  resetSync(options?: ResetOptions): ResetResult {
    if (this.phase === 'closed') throw new EnvStateError(`${this.spec.id}: reset() after close()`);
    // Without a seed the env continues its stream (seed 0 before any seeding): never Math.random.
    if (options?.seed !== undefined) this.rng.seed(checkSeed(options.seed, `${this.spec.id} reset seed`));
    const r = this.resetTask(this.rng);
    this.phase = 'running';
    return { obs: r.obs, info: r.success === undefined ? {} : { success: r.success } };
  }

  stepSync(action: Float32Array): StepResult {
    if (this.phase !== 'running') {
      throw new EnvStateError(
        this.phase === 'new' ? `${this.spec.id}: step() before reset()` : this.phase === 'ended' ? `${this.spec.id}: step() after the episode terminated; call reset()` : `${this.spec.id}: step() after close()`,
      );
    }
    validateAction(this.spec, action);
    const a = this.spec.actionSpace.kind === 'box' ? clipToBox(Float32Array.from(action), this.spec.actionSpace) : action;
    const t = this.stepTask(a);
    if (t.terminated) this.phase = 'ended';
    const info = t.success === undefined && t.metrics === undefined ? {} : { success: t.success, metrics: t.metrics };
    return { obs: t.obs, reward: t.reward, costs: t.costs, terminated: t.terminated, truncated: false, info };
  }

  async reset(options?: ResetOptions): Promise<ResetResult> {
    return this.resetSync(options);
  }

  async step(action: Float32Array): Promise<StepResult> {
    return this.stepSync(action);
  }

  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.dispose();
  }
}
