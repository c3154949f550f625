import type { Env, EnvSpec, ResetOptions, ResetResult, SpaceOf, StepResult } from '../env.js';
import type { Observation } from '../spaces.js';

/**
 * Base for env wrappers: forwards everything to the inner env. Subclasses override the
 * hooks they need. Wrappers never reach past `env` into internals, so they stack on any env —
 * simulated or real. `O`: the observation type (a wrapper that leaves observations alone is
 * generic in it, so it also wraps envs with camera frames).
 */
export abstract class BaseWrapper<O extends Observation = Float32Array> implements Env<O> {
  readonly spec: EnvSpec<SpaceOf<O>>;

  constructor(
    readonly env: Env<O>,
    spec?: EnvSpec<SpaceOf<O>>,
  ) {
    this.spec = spec ?? env.spec;
  }

  async reset(options?: ResetOptions): Promise<ResetResult<O>> {
    return this.env.reset(options);
  }

  async step(action: Float32Array): Promise<StepResult<O>> {
    return this.env.step(action);
  }

  async close(): Promise<void> {
    await this.env.close();
  }
}

/**
 * The base of wrappers over state-vector envs: {@link BaseWrapper} itself (one runtime class, so
 * `instanceof Wrapper` finds every wrapper), typed for `Env` so that code written before image
 * observations (`ConstructorParameters<typeof Wrapper>`, `super(env)` with an `Env`) reads as it did.
 */
export const Wrapper = BaseWrapper as abstract new (env: Env, spec?: EnvSpec) => BaseWrapper<Float32Array>;
export type Wrapper = BaseWrapper<Float32Array>;

/** The innermost env under any stack of wrappers. */
export function unwrap(env: Env): Env {
  let e = env;
  while (e instanceof Wrapper) e = e.env;
  return e;
}

/** The first wrapper of class `cls` in the stack, if any. */
export function findWrapper<T extends Wrapper>(env: Env, cls: abstract new (...args: never[]) => T): T | undefined {
  let e: Env = env;
  while (e instanceof Wrapper) {
    if (e instanceof cls) return e;
    e = e.env;
  }
  return undefined;
}
