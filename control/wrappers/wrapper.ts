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

/**
 * A wrapper with run-level state that must survive a resume — a person's spent budget and
 * intervention counts, say: trainers keep `saveState()` in every checkpoint under `stateKey`
 * and hand it back through `restoreState`, which checks it (it was read from disk).
 */
export interface CheckpointedWrapper {
  readonly stateKey: string;
  saveState(): Record<string, unknown>;
  restoreState(state: unknown): void;
}

/** A count from a checkpoint's wrapper state (read from disk): a non-negative safe integer, or an error naming `what`. */
export function checkpointCount(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`checkpoint: expected ${what} to be a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

function isCheckpointed(e: Env<Observation>): e is Env<Observation> & CheckpointedWrapper {
  const c = e as Partial<CheckpointedWrapper>;
  return typeof c.stateKey === 'string' && typeof c.saveState === 'function' && typeof c.restoreState === 'function';
}

/** The states of `env`'s checkpointed wrappers, by key (empty when it has none). */
export function wrapperStates(env: Env<Observation>): Record<string, Record<string, unknown>> {
  const states: Record<string, Record<string, unknown>> = {};
  for (let e: Env<Observation> = env; ; e = e.env) {
    if (isCheckpointed(e)) states[e.stateKey] = e.saveState();
    if (!(e instanceof BaseWrapper)) return states;
  }
}

/**
 * Hands each checkpointed wrapper of `env` its state from `states` (a checkpoint's, read from
 * disk); a wrapper the checkpoint has no state for starts fresh. Returns the states no wrapper
 * of `env` took (a run resumed without its person, say), for the trainer to keep in later
 * checkpoints: resumed with the person again, their counts carry on.
 */
export function restoreWrapperStates(env: Env<Observation> | undefined, states: unknown): Record<string, Record<string, unknown>> {
  if (typeof states !== 'object' || states === null || Array.isArray(states)) throw new Error(`checkpoint: expected \`wrappers\` to be an object of wrapper states, got ${JSON.stringify(states)}`);
  // No prototype: a key `__proto__` from disk is a key like any other, never a prototype.
  const left = Object.create(null) as Record<string, Record<string, unknown>>;
  for (const [key, state] of Object.entries(states)) {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) throw new Error(`checkpoint: expected wrapper state \`${key}\` to be an object, got ${JSON.stringify(state)}`);
    left[key] = state as Record<string, unknown>;
  }
  if (!env) return left;
  for (let e: Env<Observation> = env; ; e = e.env) {
    if (isCheckpointed(e) && Object.prototype.hasOwnProperty.call(left, e.stateKey)) {
      e.restoreState(left[e.stateKey]);
      delete left[e.stateKey];
    }
    if (!(e instanceof BaseWrapper)) return left;
  }
}
