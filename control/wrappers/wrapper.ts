import type { Env, EnvSpec, ResetOptions, ResetResult, StepResult } from '../env.js';

/**
 * Base for env wrappers: forwards everything to the inner env. Subclasses override the
 * hooks they need. Wrappers never reach past `env` into internals, so they stack on any env —
 * simulated or real.
 */
export abstract class Wrapper implements Env {
  readonly spec: EnvSpec;

  constructor(
    readonly env: Env,
    spec?: EnvSpec,
  ) {
    this.spec = spec ?? env.spec;
  }

  async reset(options?: ResetOptions): Promise<ResetResult> {
    return this.env.reset(options);
  }

  async step(action: Float32Array): Promise<StepResult> {
    return this.env.step(action);
  }

  async close(): Promise<void> {
    await this.env.close();
  }
}

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
